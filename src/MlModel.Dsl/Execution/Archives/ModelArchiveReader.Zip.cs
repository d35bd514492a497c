using System.IO.Hashing;
using System.Text;
using System.Text.Unicode;
using SharpCompress.Archives;
using SharpCompress.Archives.Zip;
using SharpCompress.Providers;
using SharpCompress.Providers.System;
using SharpCompress.Readers;

namespace MlModel.Dsl.Execution.Archives;

internal sealed partial class ModelArchiveReader
{
    /// <summary>Where a zip that arrives from a source that cannot seek is copied to be read; the process's temporary folder.</summary>
    internal string SpoolFolder { get; init; } = Path.GetTempPath();

    /// <summary>
    /// Reads a zip through its central directory, as unzip does: the central directory is what a
    /// zip holds, and its local headers, read one after another by a streaming reader, can say
    /// otherwise (entries left out of it, names that differ, sizes known only after the data).
    /// The central directory sits at the end, so the zip is read from a seekable source: the
    /// source itself when it can seek (a local file), else a temporary copy (see
    /// <see cref="CreateSpool"/>). SharpCompress enumerates the central directory lazily, so the
    /// entry limit stops a hostile one early; the runtime's ZipArchive reads all of it when
    /// opened. Each entry then passes the checks a tar entry passes, and more that zip needs:
    /// its data must have the size and CRC-32 the central directory gives (SharpCompress checks
    /// neither), and its local header the same name.
    /// </summary>
    private async Task ReadZipAsync(Stream source, Stream peeked, CountingStream raw, Action<long>? report, Sha256Pipeline hashes, CancellationToken cancellationToken)
    {
        // A zip holds its files' data, compressed or stored, and per entry a few headers with
        // the name: more than this, and it cannot be a model within the limits.
        var maxBytes = limits.MaxExpandedBytes + limits.MaxExpandedBytes / 64 + limits.MaxEntries * 4096L;
        SeekableSourceStream seekable;
        if (source.CanSeek)
        {
            if (source.Length > maxBytes)
            {
                throw TooLarge(maxBytes);
            }
            source.Position = 0;
            seekable = new SeekableSourceStream(source, leaveOpen: true, report);
        }
        else
        {
            var spool = CreateSpool();
            try
            {
                await CopyToSpoolAsync(peeked, spool, maxBytes, cancellationToken);
            }
            catch
            {
                await spool.DisposeAsync();
                throw;
            }
            spool.Position = 0;
            seekable = new SeekableSourceStream(spool, leaveOpen: false, onRead: null);
        }
        await using var _ = seekable;

        var options = new ReaderOptions
        {
            LeaveStreamOpen = true,
            // Deflate through the runtime's zlib: SharpCompress's managed inflater took 2.2 times the
            // CPU time (3.9 s against 1.75 s for 256 MiB, measured here against the same files as tar.gz).
            Providers = CompressionProviderRegistry.Default.With(new SystemDeflateCompressionProvider()),
            ArchiveEncoding = new SharpCompress.Common.ArchiveEncoding { CustomDecoder = (bytes, index, count, _) => DecodeName(bytes.AsSpan(index, count)) },
        };
        bool Ours(Exception e) => e is ArchiveException or OperationCanceledException || seekable.Faulted || raw.Faulted;

        IArchive archive;
        IEnumerator<IArchiveEntry> enumerator;
        try
        {
            archive = ZipArchive.OpenArchive(seekable, options);
            enumerator = archive.Entries.GetEnumerator();
        }
        catch (Exception e) when (!Ours(e))
        {
            throw new ArchiveException("it is not a valid zip archive: its central directory cannot be read (the archive is truncated or damaged)", e);
        }
        using var __ = archive;

        // First the whole central directory, checked entry by entry, then the files' data: read
        // in turns, each entry would move the source between the directory at the end and the
        // data, and a local file's read-ahead would be thrown away at every move.
        var files = new List<(IArchiveEntry Entry, string Name, string Path, string Shown)>();
        string? last = null;
        long declared = 0;
        using (enumerator)
        {
            while (true)
            {
                try
                {
                    if (!enumerator.MoveNext())
                    {
                        break;
                    }
                }
                catch (Exception e) when (!Ours(e))
                {
                    throw new ArchiveException(last is null
                        ? "it is not a valid zip archive: its central directory cannot be read (the archive is truncated or damaged)"
                        : $"the zip's central directory is damaged after entry '{last}'", e);
                }
                var entry = enumerator.Current;
                if (++_entries > limits.MaxEntries)
                {
                    throw new ArchiveException($"the archive has more than the limit of {limits.MaxEntries:N0} entries");
                }
                var name = entry.Key ?? "";
                if (name.StartsWith('\0'))
                {
                    throw new ArchiveException($"entry '{name[1..]}' has a name that is not valid UTF-8");
                }
                var path = ArchiveNames.Check(name, keyPrefix, limits);
                var shown = last = ArchiveNames.Show(name);

                // The file type, in the high half of the external attributes of zips made on Unix.
                var type = entry.Attrib is { } attributes ? (attributes >>> 16) & 0xF000 : 0;
                switch (type)
                {
                    case 0xA000:
                        throw new ArchiveException($"entry '{shown}' is a symbolic link; model archives may hold only files and folders");
                    case 0x1000 or 0x2000 or 0x6000 or 0xC000:
                        throw new ArchiveException($"entry '{shown}' is a device file, FIFO or socket; model archives may hold only files and folders");
                }
                if (entry.IsEncrypted)
                {
                    throw new ArchiveException($"entry '{shown}' is encrypted; model archives may not be");
                }
                if (entry.IsDirectory || type == 0x4000)
                {
                    if (entry.Size > 0 || entry.CompressedSize > 0)
                    {
                        throw new ArchiveException($"entry '{shown}' is a folder with {Math.Max(entry.Size, entry.CompressedSize):N0} bytes of data: the archive is damaged or crafted");
                    }
                    if (path.Length > 0)
                    {
                        AddDirectory(path);
                    }
                    continue;
                }
                if (path.Length == 0)
                {
                    throw new ArchiveException($"entry '{shown}' has no file name");
                }
                if (entry.Size < 0)
                {
                    throw new ArchiveException($"entry '{shown}' has a negative size");
                }
                // A bomb that says what it expands to stops here, before a byte is written.
                declared += entry.Size;
                if (declared > limits.MaxExpandedBytes)
                {
                    throw new ArchiveException($"the archive expands to more than the limit of {limits.MaxExpandedBytes:N0} bytes");
                }
                files.Add((entry, name, path, shown));
            }
        }

        foreach (var (entry, name, path, shown) in files)
        {
            var size = entry.Size;
            var crc = (uint)entry.Crc;
            Stream data;
            try
            {
                data = entry.OpenEntryStream();
            }
            catch (Exception e) when (!Ours(e))
            {
                throw new ArchiveException(e is NotSupportedException
                    ? $"entry '{shown}' is compressed with a method that cannot be read ({entry.CompressionType})"
                    : $"entry '{shown}' cannot be read: its local header is damaged", e);
            }
            if (entry.Key != name)
            {
                // Its local header names another file: unzip would warn, a streaming reader write that one.
                data.Dispose();
                throw new ArchiveException($"entry '{shown}' has another name in its local header ('{ArchiveNames.Show(entry.Key ?? "")}'): the archive is damaged or crafted");
            }
            await using var checkedData = new ZipEntryStream(data, size, crc, shown, () => seekable.Faulted);
            await StoreFileAsync(path, checkedData, size, hashes, cancellationToken);
            checkedData.EnsureComplete();
            _stored++;
        }
    }

    private ArchiveException TooLarge(long maxBytes) =>
        new($"the zip archive is larger than a model within the limits can be ({maxBytes:N0} bytes for {limits.MaxExpandedBytes:N0} bytes expanded)");

    /// <summary>
    /// A file for the zip's bytes while it is read, readable and writable by this user only; on
    /// Unix its name is removed at once, so the open file is all there is and nothing stays
    /// behind, even if the process dies; on Windows it is deleted when closed. In the temporary
    /// folder of the process (TMPDIR): a zip of a model may be large, so point it at a disk if
    /// that folder is in memory.
    /// </summary>
    private FileStream CreateSpool()
    {
        var path = Path.Combine(SpoolFolder, $"mlmodel-import-{Guid.NewGuid():N}.zip");
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.ReadWrite,
            Share = FileShare.None,
            BufferSize = 1 << 16,
            Options = OperatingSystem.IsWindows() ? FileOptions.DeleteOnClose : FileOptions.None,
        };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        FileStream spool;
        try
        {
            spool = new FileStream(path, options);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw SpoolFailed(e);
        }
        if (!OperatingSystem.IsWindows())
        {
            File.Delete(path);
        }
        return spool;
    }

    private static async Task CopyToSpoolAsync(Stream from, FileStream spool, long maxBytes, CancellationToken cancellationToken)
    {
        var buffer = new byte[1 << 20];
        long total = 0;
        int n;
        while ((n = await from.ReadAsync(buffer, cancellationToken)) > 0)
        {
            total += n;
            if (total > maxBytes)
            {
                throw new ArchiveException($"the zip archive is larger than a model within the limits can be ({maxBytes:N0} bytes)");
            }
            try
            {
                await spool.WriteAsync(buffer.AsMemory(0, n), cancellationToken);
            }
            catch (IOException e)
            {
                throw SpoolFailed(e);
            }
        }
        try
        {
            await spool.FlushAsync(cancellationToken);
        }
        catch (IOException e)
        {
            throw SpoolFailed(e);
        }
    }

    /// <summary>The file system's message names the temporary file's path on the server: it is left out.</summary>
    private static MlModelException SpoolFailed(Exception e) =>
        new(ErrorCodes.Backend, $"a zip archive is read from a temporary copy, which could not be written ({e.GetType().Name}; is the temporary folder full?)", e);

    /// <summary>
    /// A name as UTF-8 (zip tools on Unix write UTF-8 without saying so); a name that is not
    /// valid UTF-8 comes back shown with <c>\xNN</c> for its bad bytes and marked with a leading
    /// NUL, which no valid name passes, so that the entry is refused by name rather than read
    /// with U+FFFD in place of its bytes.
    /// </summary>
    private static string DecodeName(ReadOnlySpan<byte> bytes) =>
        Utf8.IsValid(bytes) ? Encoding.UTF8.GetString(bytes) : "\0" + CheckedTarStream.Show(bytes, out _);

    /// <summary>A seekable source as the zip reader uses it: failures of its reads are flagged (they are not the archive's fault), and how far it has read is reported.</summary>
    private sealed class SeekableSourceStream(Stream inner, bool leaveOpen, Action<long>? onRead) : Stream
    {
        public bool Faulted { get; private set; }

        public override bool CanRead => true;
        public override bool CanSeek => true;
        public override bool CanWrite => false;
        public override long Length => inner.Length;

        // SharpCompress sets the position before each header it reads, mostly to where it already
        // is; a local file's stream drops its read-ahead at every seek, so only real moves go through.
        public override long Position
        {
            get => inner.Position;
            set
            {
                if (inner.Position != value)
                {
                    inner.Position = value;
                }
            }
        }

        public override long Seek(long offset, SeekOrigin origin)
        {
            Position = origin switch
            {
                SeekOrigin.Begin => offset,
                SeekOrigin.Current => inner.Position + offset,
                _ => inner.Length + offset,
            };
            return Position;
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            try
            {
                var n = inner.Read(buffer);
                onRead?.Invoke(inner.Position);
                return n;
            }
            catch
            {
                Faulted = true;
                throw;
            }
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            try
            {
                var n = await inner.ReadAsync(buffer, cancellationToken);
                onRead?.Invoke(inner.Position);
                return n;
            }
            catch
            {
                Faulted = true;
                throw;
            }
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush() { }
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing && !leaveOpen)
            {
                inner.Dispose();
            }
            base.Dispose(disposing);
        }
    }

    /// <summary>
    /// An entry's data as SharpCompress decompresses it, held to what the central directory
    /// says: exactly its size (a deflate stream may hold more than its header admits, a bomb
    /// that lies), and its CRC-32 (computed with System.IO.Hashing, vectorised: SharpCompress's
    /// own table-driven CRC-32 ran at about 120 MB/s here).
    /// </summary>
    private sealed class ZipEntryStream(Stream inner, long size, uint crc, string shown, Func<bool> sourceFaulted) : ReadOnlyStream
    {
        private readonly Crc32 _crc = new();
        private long _read;
        private bool _verified;

        public override long Length => size;
        public override long Position { get => _read; set => throw new NotSupportedException(); }

        public override int Read(Span<byte> buffer)
        {
            if (_read == size || buffer.IsEmpty)
            {
                return AtEnd();
            }
            int n;
            try
            {
                n = inner.Read(buffer[..(int)Math.Min(buffer.Length, size - _read)]);
            }
            catch (Exception e) when (IsCorruption(e))
            {
                throw Corrupt(e);
            }
            return Took(buffer[..n]);
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_read == size || buffer.IsEmpty)
            {
                return AtEnd();
            }
            int n;
            try
            {
                n = await inner.ReadAsync(buffer[..(int)Math.Min(buffer.Length, size - _read)], cancellationToken);
            }
            catch (Exception e) when (IsCorruption(e))
            {
                throw Corrupt(e);
            }
            return Took(buffer.Span[..n]);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private int Took(ReadOnlySpan<byte> data)
        {
            if (data.IsEmpty)
            {
                throw new ArchiveException($"entry '{shown}' is truncated: its data ends after {_read:N0} of its {size:N0} bytes");
            }
            _crc.Append(data);
            _read += data.Length;
            if (_read == size)
            {
                // Checked with the last byte, while the data is still open: whoever reads this
                // stream (the store) may close it as soon as it has the bytes it asked for.
                Verify();
            }
            return data.Length;
        }

        private int AtEnd()
        {
            if (_read == size && !_verified)
            {
                Verify();
            }
            return 0;
        }

        /// <summary>The data must end with its size and match its CRC-32.</summary>
        private void Verify()
        {
            Span<byte> one = stackalloc byte[1];
            int more;
            try
            {
                more = inner.Read(one);
            }
            catch (Exception e) when (IsCorruption(e))
            {
                throw Corrupt(e);
            }
            if (more > 0)
            {
                throw new ArchiveException($"entry '{shown}' holds more data than the {size:N0} bytes the zip's central directory gives it: the archive is damaged or crafted");
            }
            var actual = _crc.GetCurrentHashAsUInt32();
            if (actual != crc)
            {
                throw new ArchiveException($"entry '{shown}' is corrupt: its CRC-32 is {actual:x8}, the zip says {crc:x8}");
            }
            _verified = true;
        }

        /// <summary>After the store took the file: every byte was read and checked.</summary>
        public void EnsureComplete()
        {
            if (!_verified)
            {
                throw new ArchiveException($"entry '{shown}' is truncated: its data ends after {_read:N0} of its {size:N0} bytes");
            }
        }

        private bool IsCorruption(Exception e) => e is not (ArchiveException or OperationCanceledException or OutOfMemoryException) && !sourceFaulted();

        private ArchiveException Corrupt(Exception e) => new($"the zip data is corrupt or truncated in entry '{shown}'", e);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
