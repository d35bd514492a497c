using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace MlModel.Dsl.Execution.Archives;

/// <summary>An archive problem found by our own checks (as opposed to an exception of a library we call).</summary>
internal sealed class ArchiveException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Compressed data that its decompressor could not decode; <see cref="CheckedTarStream"/> adds
/// where in the archive it happened.
/// </summary>
internal sealed class CorruptCompressionException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// A tar stream as <see cref="System.Formats.Tar.TarReader"/> reads it, with each 512-byte header
/// block checked before the reader sees a byte of it: its checksum, as GNU tar checks it (the
/// unsigned sum of the block with the checksum field read as spaces, or the historic signed sum),
/// its size field, and what its type allows. TarReader in .NET 10 checks no checksum: a flipped
/// byte in a name was taken as part of the name (<c>sav\uFFFDd_model.pb</c>).
/// </summary>
/// <remarks>
/// <para>To know where the next header starts, it follows the archive as tar does: each header
/// is followed by its data (the size field, or a PAX <c>size</c> record before it) padded to
/// 512 bytes. PAX extended headers and GNU long-name headers are headers too, checked alike;
/// their data is collected as it passes (at most <see cref="MaxExtensionBytes"/>) so that a PAX
/// size or path is known for the entry they describe.</para>
/// <para>The reader is kept in step with this view: after TarReader returns an entry, the caller
/// asks <see cref="IsAt"/> whether the reader stands just past a header block checked here, with
/// the same size, so that no header can be read from bytes taken here for data.</para>
/// <para>It also turns the end of the data into a named error: a truncated archive names the
/// entry it ends in, and an archive must end with tar's end-of-archive block (TarReader stops at
/// the first zero block, and so does this stream's checking).</para>
/// </remarks>
/// <param name="inner">The tar stream, decompressed.</param>
/// <param name="notATar">The message for a stream whose first block is not a tar header.</param>
internal sealed class CheckedTarStream(Stream inner, string notATar) : ReadOnlyStream
{
    private const int Block = 512;

    /// <summary>The largest PAX extended header or GNU long name read (tar writes a few hundred bytes).</summary>
    internal const int MaxExtensionBytes = 1 << 20;

    private readonly byte[] _header = new byte[Block];
    private int _headerServed = Block; // bytes of _header handed on; Block when no header is pending
    private long _dataLeft;
    private long _dataSize;
    private int _paddingLeft;
    private bool _ended;
    private long _position;
    private int _headers;

    private byte _type;
    private byte[]? _extension;
    private int _extensionLength;

    private string? _pendingName;
    private bool _pendingNameValid;
    private long? _pendingSize;
    private string? _name;
    private string? _lastEntry;

    /// <summary>The display name of the entry whose header was read last (escaped, shortened).</summary>
    public string CurrentName => _name ?? "";

    /// <summary>Where the last entry header (not a PAX or long-name header) checked here ends.</summary>
    private long _entryHeaderEnd = -1;

    /// <summary>The data size of that entry.</summary>
    private long _entrySize;

    /// <summary>
    /// Whether the reader stands just past the last entry header checked here and agrees on its
    /// size: TarReader, with copyData false on a stream that cannot seek, returns an entry right
    /// after its header block and before its data.
    /// </summary>
    public bool IsAt(long entrySize) => _position == _entryHeaderEnd && entrySize == _entrySize;

    public override long Position { get => _position; set => throw new NotSupportedException(); }

    private bool AtHeader => !_ended && _headerServed == Block && _dataLeft == 0 && _paddingLeft == 0;

    public override int Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }
        if (AtHeader)
        {
            var n = 0;
            int r;
            while (n < Block && (r = InnerRead(_header.AsSpan(n))) > 0)
            {
                n += r;
            }
            AcceptHeader(n);
        }
        if (_headerServed < Block)
        {
            return ServeHeader(buffer);
        }
        return Passed(buffer, InnerRead(buffer[..Want(buffer.Length)]));
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }
        if (AtHeader)
        {
            var n = 0;
            int r;
            while (n < Block && (r = await InnerReadAsync(_header.AsMemory(n), cancellationToken)) > 0)
            {
                n += r;
            }
            AcceptHeader(n);
        }
        if (_headerServed < Block)
        {
            return ServeHeader(buffer.Span);
        }
        var read = await InnerReadAsync(buffer[..Want(buffer.Length)], cancellationToken);
        return Passed(buffer.Span, read);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>Reads the rest of the stream past the end-of-archive block, so that a decompressor checks its trailer (gzip's CRC).</summary>
    public async Task DrainAsync(CancellationToken cancellationToken)
    {
        var buffer = new byte[16 * 1024];
        while (await ReadAsync(buffer, cancellationToken) > 0)
        {
        }
    }

    private int InnerRead(Span<byte> buffer)
    {
        try
        {
            return inner.Read(buffer);
        }
        catch (CorruptCompressionException e)
        {
            throw Corrupt(e);
        }
    }

    private async ValueTask<int> InnerReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        try
        {
            return await inner.ReadAsync(buffer, cancellationToken);
        }
        catch (CorruptCompressionException e)
        {
            throw Corrupt(e);
        }
    }

    private ArchiveException Corrupt(CorruptCompressionException e) => new(
        _headers == 0 && _dataLeft == 0 ? $"{e.Message} at its start"
        : _dataLeft > 0 || _headerServed < Block ? $"{e.Message} in entry '{CurrentName}'"
        : $"{e.Message} after entry '{CurrentName}'", e);

    private int Want(int length) => _ended ? length : (int)Math.Min(length, _dataLeft + _paddingLeft);

    private int ServeHeader(Span<byte> buffer)
    {
        var n = Math.Min(buffer.Length, Block - _headerServed);
        _header.AsSpan(_headerServed, n).CopyTo(buffer);
        _headerServed += n;
        _position += n;
        return n;
    }

    /// <summary>Accounts for <paramref name="n"/> bytes of data or padding read into <paramref name="buffer"/>.</summary>
    private int Passed(ReadOnlySpan<byte> buffer, int n)
    {
        if (_ended)
        {
            _position += n;
            return n;
        }
        if (n == 0)
        {
            throw _dataLeft > 0 && _extension is null
                ? new ArchiveException($"entry '{CurrentName}' is truncated: the archive ends after {_dataSize - _dataLeft:N0} of its {_dataSize:N0} bytes")
                : new ArchiveException($"the archive is truncated: it ends inside entry '{CurrentName}'");
        }
        var data = (int)Math.Min(n, _dataLeft);
        if (_extension is not null && data > 0)
        {
            buffer[..data].CopyTo(_extension.AsSpan(_extensionLength));
            _extensionLength += data;
        }
        _dataLeft -= data;
        _paddingLeft -= n - data;
        _position += n;
        if (_dataLeft == 0 && _extension is not null)
        {
            ReadExtension();
        }
        return n;
    }

    private void AcceptHeader(int n)
    {
        if (n == 0)
        {
            throw _headers == 0
                ? new ArchiveException("the archive holds no tar data")
                : new ArchiveException($"the archive is truncated: it ends after entry '{_lastEntry ?? CurrentName}' without tar's end-of-archive block");
        }
        var h = _header.AsSpan();
        if (n < Block)
        {
            throw _headers == 0
                ? NotATar()
                : new ArchiveException($"the archive is truncated: it ends inside the header after entry '{_lastEntry ?? CurrentName}'");
        }
        _headerServed = 0;
        if (!h.ContainsAnyExcept((byte)0))
        {
            // The end-of-archive block: TarReader stops here, and so does the checking.
            _ended = true;
            return;
        }
        var nameValid = _pendingNameValid;
        _name = _pendingName ?? HeaderName(h, out nameValid);
        if (!ChecksumMatches(h))
        {
            throw _headers == 0 && !h.Slice(257, 5).SequenceEqual("ustar"u8)
                ? NotATar()
                : new ArchiveException($"entry '{_name}' has a corrupt tar header: its checksum does not match (the archive is damaged)");
        }
        _headers++;
        _type = h[156];
        var size = ParseSize(h.Slice(124, 12)) ?? throw new ArchiveException($"entry '{_name}' has a corrupt tar header: its size field is not a number");
        switch (_type)
        {
            case (byte)'x' or (byte)'L' or (byte)'K':
                if (size > MaxExtensionBytes)
                {
                    throw new ArchiveException($"entry '{_name}' has an extended header of {size:N0} bytes; the limit is {MaxExtensionBytes:N0}");
                }
                _extension = new byte[size];
                _extensionLength = 0;
                break;
            case (byte)'S':
                throw new ArchiveException($"entry '{_name}' is a sparse file (as GNU tar --sparse writes them); model archives may hold only plain files and folders");
            default:
                size = _pendingSize ?? size;
                if (!nameValid)
                {
                    // TarReader would read each bad byte as U+FFFD: names would change, and two could become one.
                    throw new ArchiveException($"entry '{_name}' has a name that is not valid UTF-8");
                }
                if (_type is >= (byte)'1' and <= (byte)'6' && size > 0)
                {
                    throw new ArchiveException($"entry '{_name}' has a corrupt tar header: it declares {size:N0} bytes of data, which its type ('{(char)_type}') cannot have");
                }
                _entryHeaderEnd = _position + Block;
                _entrySize = size;
                _lastEntry = _name;
                _pendingName = null;
                _pendingSize = null;
                break;
        }
        _dataSize = _dataLeft = size;
        _paddingLeft = (int)((Block - size % Block) % Block);
        if (size == 0 && _extension is not null)
        {
            ReadExtension();
        }
    }

    private ArchiveException NotATar() => new(notATar);

    /// <summary>Takes what a PAX or GNU long-name header says about the entry that follows.</summary>
    private void ReadExtension()
    {
        var data = _extension.AsSpan(0, _extensionLength);
        _extension = null;
        switch (_type)
        {
            case (byte)'L':
                var end = data.IndexOf((byte)0);
                _pendingName = Show(end < 0 ? data : data[..end], out _pendingNameValid);
                break;
            case (byte)'x':
                ReadPaxRecords(data);
                break;
        }
    }

    /// <summary>
    /// PAX records, <c>"%d %s=%s\n"</c>, each as long as its length says. TarReader ends a
    /// record at its first line break instead, so a record with a line break inside is refused
    /// here, as TarReader would fail on it: a path with one gets the message of a name with a
    /// control character, which it is.
    /// </summary>
    private void ReadPaxRecords(ReadOnlySpan<byte> data)
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        string? path = null;
        var pathValid = true;
        string? sparseName = null;
        string? size = null;
        var sparse = false;
        while (!data.IsEmpty)
        {
            var space = data.IndexOf((byte)' ');
            if (space <= 0 || !Utf8Parser.TryParse(data[..space], out int length, out var used) || used != space
                || length <= space + 1 || length > data.Length || data[length - 1] != (byte)'\n')
            {
                throw new ArchiveException($"entry '{CurrentName}' has a malformed PAX extended header");
            }
            var record = data[(space + 1)..(length - 1)];
            data = data[length..];
            var equals = record.IndexOf((byte)'=');
            if (equals < 0)
            {
                throw new ArchiveException($"entry '{CurrentName}' has a malformed PAX extended header");
            }
            var key = Encoding.UTF8.GetString(record[..equals]);
            if (!keys.Add(key))
            {
                throw new ArchiveException($"entry '{CurrentName}' has a PAX extended header that sets '{Syntax.Display.Escape(key, 100)}' twice");
            }
            var value = record[(equals + 1)..];
            if (key == "path")
            {
                path = Show(value, out pathValid);
                if (value.IndexOfAnyInRange((byte)0, (byte)0x1f) >= 0 || value.Contains((byte)0x7f))
                {
                    throw new ArchiveException($"entry '{path}' has a control character in its name");
                }
            }
            if (record.Contains((byte)'\n'))
            {
                throw new ArchiveException($"entry '{CurrentName}' has a PAX extended header with a line break in '{Syntax.Display.Escape(key, 100)}', which is not supported");
            }
            switch (key)
            {
                case "size":
                    size = Encoding.ASCII.GetString(value);
                    break;
                case "GNU.sparse.name":
                    sparseName = Show(value, out _);
                    sparse = true;
                    break;
                default:
                    sparse |= key.StartsWith("GNU.sparse.", StringComparison.Ordinal);
                    break;
            }
        }
        if (path is not null)
        {
            _pendingName = path;
            _pendingNameValid = pathValid;
        }
        var name = _pendingName ?? CurrentName;
        if (sparse)
        {
            throw new ArchiveException($"entry '{sparseName ?? name}' is a sparse file (as GNU tar --sparse writes them); model archives may hold only plain files and folders");
        }
        if (size is not null)
        {
            _pendingSize = size.Length is > 0 and <= 18 && size.All(char.IsAsciiDigit)
                ? long.Parse(size, CultureInfo.InvariantCulture)
                : throw new ArchiveException($"entry '{name}' has a corrupt PAX extended header: its size is not a number");
        }
    }

    /// <summary>
    /// GNU tar's test: the recorded checksum (octal, after optional spaces, ended by a space or
    /// NUL) equals the sum of the header's bytes, the checksum field counted as eight spaces,
    /// taken as unsigned bytes or, as some historic tars did, as signed ones.
    /// </summary>
    internal static bool ChecksumMatches(ReadOnlySpan<byte> header)
    {
        long unsigned = 0;
        long signed = 0;
        for (var i = 0; i < Block; i++)
        {
            var b = i is >= 148 and < 156 ? (byte)' ' : header[i];
            unsigned += b;
            signed += (sbyte)b;
        }
        var field = header.Slice(148, 8);
        var at = 0;
        while (at < field.Length && field[at] == (byte)' ')
        {
            at++;
        }
        long recorded = 0;
        var digits = 0;
        for (; at < field.Length && field[at] is >= (byte)'0' and <= (byte)'7'; at++, digits++)
        {
            recorded = recorded * 8 + (field[at] - '0');
        }
        if (digits == 0 || (at < field.Length && field[at] is not (0 or (byte)' ')))
        {
            return false;
        }
        return recorded == unsigned || recorded == signed;
    }

    /// <summary>A size field: octal digits (spaces before, NULs or spaces after), or GNU's base-256 form; null when it is neither.</summary>
    internal static long? ParseSize(ReadOnlySpan<byte> field)
    {
        if ((field[0] & 0x80) != 0)
        {
            // Base-256, big-endian, for sizes of 8 GiB and more; 0xFF would be a negative number.
            if (field[0] != 0x80 || field[1..4].ContainsAnyExcept((byte)0))
            {
                return null;
            }
            long value = 0;
            foreach (var b in field[4..])
            {
                value = (value << 8) | b;
            }
            return value >= 0 ? value : null;
        }
        var trimmed = field.TrimEnd("\0 "u8).TrimStart((byte)' ');
        long size = 0;
        foreach (var b in trimmed)
        {
            if (b is < (byte)'0' or > (byte)'7')
            {
                return null;
            }
            size = size * 8 + (b - '0');
        }
        return size;
    }

    /// <summary>The name a header block gives (the ustar prefix and name), for messages.</summary>
    private static string HeaderName(ReadOnlySpan<byte> h, out bool valid)
    {
        var name = Field(h[..100]);
        if (h.Slice(257, 6).SequenceEqual("ustar\0"u8))
        {
            var prefix = Field(h.Slice(345, 155));
            if (!prefix.IsEmpty)
            {
                return Show([.. prefix, (byte)'/', .. name], out valid);
            }
        }
        return Show(name, out valid);
    }

    private static ReadOnlySpan<byte> Field(ReadOnlySpan<byte> field)
    {
        var end = field.IndexOf((byte)0);
        return end < 0 ? field : field[..end];
    }

    /// <summary>A name as raw bytes for messages: UTF-8 where it is valid, <c>\xNN</c> for each byte where not, invisible characters escaped.</summary>
    internal static string Show(ReadOnlySpan<byte> name, out bool valid)
    {
        valid = true;
        var sb = new StringBuilder(name.Length);
        while (!name.IsEmpty)
        {
            if (System.Text.Rune.DecodeFromUtf8(name, out var rune, out var used) == System.Buffers.OperationStatus.Done)
            {
                sb.Append(rune.ToString());
            }
            else
            {
                valid = false;
                for (var i = 0; i < used; i++)
                {
                    sb.Append(CultureInfo.InvariantCulture, $"\\x{name[i]:X2}");
                }
                used = Math.Max(used, 1);
            }
            name = name[used..];
        }
        return ArchiveNames.Show(sb.ToString());
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }
        base.Dispose(disposing);
    }
}
