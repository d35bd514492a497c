using System.Globalization;
using System.Text;

namespace MlModel.Dsl.IntegrationTests.Support;

/// <summary>
/// Tar archives written byte by byte, for headers no tar writer makes: wrong checksums, names
/// that are not UTF-8, sparse entries, malformed PAX records, fields that are not numbers.
/// </summary>
internal sealed class RawTar
{
    private const int Block = 512;
    private readonly MemoryStream _bytes = new();

    /// <summary>An entry with a UTF-8 name.</summary>
    public RawTar Add(string name, char type = '0', byte[]? data = null, Action<byte[]>? edit = null, bool signedChecksum = false) =>
        Add(Encoding.UTF8.GetBytes(name), type, data, edit, signedChecksum);

    /// <summary>An entry with a file of text.</summary>
    public RawTar File(string name, string content) => Add(name, '0', Encoding.UTF8.GetBytes(content));

    /// <summary>An entry whose name is the given bytes; <paramref name="edit"/> changes the header before its checksum is set.</summary>
    public RawTar Add(byte[] name, char type = '0', byte[]? data = null, Action<byte[]>? edit = null, bool signedChecksum = false)
    {
        data ??= [];
        var header = Header(name, type, data.Length);
        edit?.Invoke(header);
        SetChecksum(header, signedChecksum);
        _bytes.Write(header);
        _bytes.Write(data);
        Pad(data.Length);
        return this;
    }

    /// <summary>A PAX extended header ('x') with the given records, for the entry that follows.</summary>
    public RawTar Pax(string headerName, params (string Key, string Value)[] records)
    {
        var text = new StringBuilder();
        foreach (var (key, value) in records)
        {
            text.Append(PaxRecord(key, value));
        }
        return Add(headerName, 'x', Encoding.UTF8.GetBytes(text.ToString()));
    }

    /// <summary>A GNU long-name header ('L'), as GNU tar writes one for a name over 100 bytes.</summary>
    public RawTar LongName(string name) => Add("././@LongLink", 'L', [.. Encoding.UTF8.GetBytes(name), 0], h => "ustar  \0"u8.CopyTo(h.AsSpan(257)));

    /// <summary>Bytes as they are.</summary>
    public RawTar Bytes(byte[] bytes)
    {
        _bytes.Write(bytes);
        return this;
    }

    /// <summary>The archive, with tar's end-of-archive blocks unless told otherwise.</summary>
    public byte[] ToArray(bool endOfArchive = true)
    {
        if (endOfArchive)
        {
            _bytes.Write(new byte[2 * Block]);
        }
        return _bytes.ToArray();
    }

    /// <summary>One PAX record: its length counts itself.</summary>
    public static string PaxRecord(string key, string value)
    {
        var body = $" {key}={value}\n";
        var bytes = Encoding.UTF8.GetByteCount(body);
        var length = bytes + 1;
        while (length.ToString(CultureInfo.InvariantCulture).Length + bytes != length)
        {
            length++;
        }
        return length.ToString(CultureInfo.InvariantCulture) + body;
    }

    /// <summary>A ustar header block without its checksum.</summary>
    public static byte[] Header(byte[] name, char type, long size)
    {
        var h = new byte[Block];
        name.AsSpan(0, Math.Min(name.Length, 100)).CopyTo(h);
        Octal(h, 100, 8, type == '5' ? 493 : 420);
        Octal(h, 108, 8, 0);
        Octal(h, 116, 8, 0);
        Octal(h, 124, 12, size);
        Octal(h, 136, 12, 1577836800);
        h[156] = (byte)type;
        "ustar\0"u8.CopyTo(h.AsSpan(257));
        "00"u8.CopyTo(h.AsSpan(263));
        return h;
    }

    /// <summary>Writes the checksum as tar does: the sum of the bytes with the field as spaces, unsigned (or, as some old tars did, signed).</summary>
    public static void SetChecksum(byte[] header, bool signed = false)
    {
        "        "u8.CopyTo(header.AsSpan(148));
        var sum = signed ? header.Sum(b => (int)(sbyte)b) : header.Sum(b => (int)b);
        Encoding.ASCII.GetBytes(Convert.ToString(sum, 8).PadLeft(6, '0') + "\0 ").CopyTo(header, 148);
    }

    private static void Octal(byte[] h, int offset, int length, long value) =>
        Encoding.ASCII.GetBytes(Convert.ToString(value, 8).PadLeft(length - 1, '0') + "\0").CopyTo(h, offset);

    private void Pad(long size)
    {
        var padding = (int)((Block - size % Block) % Block);
        _bytes.Write(new byte[padding]);
    }
}
