using System.Formats.Tar;
using System.IO.Compression;
using SharpCompress.Compressors.BZip2;
using ZstdCompressionStream = SharpCompress.Compressors.ZStandard.CompressionStream;

namespace MlModel.Dsl.IntegrationTests.Support;

/// <summary>Builds model archives, good and bad, for import tests.</summary>
internal static class Archives
{
    /// <summary>A tar of a folder's files, under <paramref name="top"/> when given (GNU tar's layout for `tar -cf x.tar top`).</summary>
    public static byte[] FromFolder(string folder, string? top = null, bool gzip = false)
    {
        var output = new MemoryStream();
        Stream target = gzip ? new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true) : output;
        using (var writer = new TarWriter(target, TarEntryFormat.Pax, leaveOpen: true))
        {
            if (top is not null)
            {
                writer.WriteEntry(new PaxTarEntry(TarEntryType.Directory, top + "/"));
            }
            foreach (var file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                var name = Path.GetRelativePath(folder, file).Replace('\\', '/');
                writer.WriteEntry(file, top is null ? name : top + "/" + name);
            }
        }
        if (gzip)
        {
            target.Dispose();
        }
        return output.ToArray();
    }

    /// <summary>
    /// A real saved_model.pb (TensorFlow Serving's half_plus_two, TF1), for archives whose other
    /// files are made up: import reads saved_model.pb as a SavedModel and refuses anything else.
    /// </summary>
    public static byte[] SavedModelPb => SavedModelBytes.Value;

    private static readonly Lazy<byte[]> SavedModelBytes = new(() =>
        System.IO.File.ReadAllBytes(Path.Combine(TestPaths.Model("saved_model_half_plus_two_cpu"), "saved_model.pb")));

    /// <summary>
    /// Bytes in a parquet file's frame (PAR1, body, footer length, PAR1), which is what import
    /// checks of Spark's parquet parts: for tests about size, not content. The "footer" is the
    /// body's last quarter.
    /// </summary>
    public static byte[] ParquetFrame(int body, int seed)
    {
        var bytes = new byte[body + 12];
        new Random(seed).NextBytes(bytes);
        "PAR1"u8.CopyTo(bytes);
        BitConverter.TryWriteBytes(bytes.AsSpan(body + 4), (uint)Math.Max(1, body / 4));
        "PAR1"u8.CopyTo(bytes.AsSpan(body + 8));
        return bytes;
    }

    /// <summary>A tar made of the given entries, in order.</summary>
    public static byte[] Of(params TarEntry[] entries)
    {
        var output = new MemoryStream();
        using (var writer = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true))
        {
            foreach (var e in entries)
            {
                writer.WriteEntry(e);
            }
        }
        return output.ToArray();
    }

    public static PaxTarEntry File(string name, byte[] content) =>
        new(TarEntryType.RegularFile, name) { DataStream = new MemoryStream(content) };

    public static PaxTarEntry File(string name, string content) => File(name, System.Text.Encoding.UTF8.GetBytes(content));

    public static PaxTarEntry Entry(TarEntryType type, string name, string? link = null)
    {
        var e = new PaxTarEntry(type, name);
        if (link is not null)
        {
            e.LinkName = link;
        }
        return e;
    }

    /// <summary>gzip of <paramref name="size"/> zero bytes framed as one tar entry: tiny on disk, huge expanded.</summary>
    public static byte[] GzipBomb(long size)
    {
        var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.SmallestSize, leaveOpen: true))
        using (var writer = new TarWriter(gzip, TarEntryFormat.Pax, leaveOpen: true))
        {
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "saved_model.pb") { DataStream = new ZeroStream(size) });
        }
        return output.ToArray();
    }

    /// <summary>samples/models/half_plus_two.tar: TensorFlow Serving's half_plus_two SavedModel under half_plus_two/, as GNU tar wrote it.</summary>
    public static byte[] Sample() => System.IO.File.ReadAllBytes(Path.Combine(TestPaths.RepoRoot, "samples", "models", "half_plus_two.tar"));

    /// <summary>A file of tests/fixtures/archives (see its README for how each was made).</summary>
    public static byte[] Fixture(string name) => System.IO.File.ReadAllBytes(Path.Combine(TestPaths.RepoRoot, "tests", "fixtures", "archives", name));

    /// <summary>
    /// <paramref name="data"/> compressed as "gz" (the runtime), "bz2" or "zst" (SharpCompress);
    /// with <paramref name="streams"/> over 1, cut into that many streams one after another, as
    /// pigz, pbzip2 and pzstd write them.
    /// </summary>
    public static byte[] Compress(byte[] data, string format, int streams = 1)
    {
        var output = new MemoryStream();
        for (var i = 0; i < streams; i++)
        {
            var start = (int)((long)data.Length * i / streams);
            var end = (int)((long)data.Length * (i + 1) / streams);
            Stream compressor = format switch
            {
                "gz" => new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true),
                "bz2" => BZip2Stream.Create(output, SharpCompress.Compressors.CompressionMode.Compress, decompressConcatenated: false, leaveOpen: true),
                "zst" => new ZstdCompressionStream(output, level: 3, leaveOpen: true),
                _ => throw new ArgumentOutOfRangeException(nameof(format), format, "gz, bz2 or zst"),
            };
            compressor.Write(data, start, end - start);
            compressor.Dispose();
        }
        return output.ToArray();
    }

    /// <summary>A tar of one file of <paramref name="size"/> zero bytes named saved_model.pb, compressed: tiny, huge expanded.</summary>
    public static byte[] Bomb(string format, long size)
    {
        var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "saved_model.pb") { DataStream = new ZeroStream(size) });
        }
        return Compress(tar.ToArray(), format);
    }

    /// <summary>One entry of a zip: a file (data) or a folder (no data), with a Unix mode when given.</summary>
    public readonly record struct ZipItem(string Name, byte[]? Data = null, int? UnixMode = null, CompressionLevel Level = CompressionLevel.Optimal);

    public static ZipItem ZipFile(string name, string content) => new(name, System.Text.Encoding.UTF8.GetBytes(content));

    /// <summary>
    /// A zip written by the runtime's ZipArchive; with <paramref name="streamed"/>, to a stream
    /// that cannot seek, so that each entry's sizes and CRC follow its data (a data descriptor),
    /// as zip tools writing to a pipe do.
    /// </summary>
    public static byte[] Zip(IEnumerable<ZipItem> items, bool streamed = false)
    {
        var output = new MemoryStream();
        using (var zip = new ZipArchive(streamed ? new ForwardOnly(output) : output, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var item in items)
            {
                var entry = zip.CreateEntry(item.Name, item.Level);
                if (item.UnixMode is { } mode)
                {
                    entry.ExternalAttributes = mode << 16;
                }
                if (item.Data is not null)
                {
                    using var stream = entry.Open();
                    stream.Write(item.Data);
                }
            }
        }
        return output.ToArray();
    }

    public static byte[] Zip(params ZipItem[] items) => Zip(items, streamed: false);

    /// <summary>A zip of a folder's files, under <paramref name="top"/>/ when given.</summary>
    public static byte[] ZipFromFolder(string folder, string? top = null, bool streamed = false) =>
        Zip(Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Select(file =>
        {
            var name = Path.GetRelativePath(folder, file).Replace('\\', '/');
            return new ZipItem(top is null ? name : top + "/" + name, System.IO.File.ReadAllBytes(file));
        }), streamed);

    /// <summary>A zip of a folder's files written by SharpCompress's ZipWriter, which streams (data descriptors).</summary>
    public static byte[] SharpCompressZip(string folder, string top)
    {
        var output = new MemoryStream();
        using (var writer = new SharpCompress.Writers.Zip.ZipWriter(output, new SharpCompress.Writers.Zip.ZipWriterOptions(SharpCompress.Common.CompressionType.Deflate) { LeaveStreamOpen = true }))
        {
            foreach (var file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                using var content = System.IO.File.OpenRead(file);
                writer.Write(top + "/" + Path.GetRelativePath(folder, file).Replace('\\', '/'), content, DateTime.UnixEpoch);
            }
        }
        return output.ToArray();
    }

    /// <summary>Replaces every occurrence of <paramref name="from"/> in <paramref name="data"/> (a name in a zip's local and central headers).</summary>
    public static byte[] Replace(byte[] data, byte[] from, byte[] to)
    {
        var copy = (byte[])data.Clone();
        var at = 0;
        while (copy.AsSpan(at).IndexOf(from) is var found and >= 0)
        {
            to.CopyTo(copy, at + found);
            at += found + from.Length;
        }
        return copy;
    }

    /// <summary>Sets a 16- or 32-bit field at <paramref name="offset"/> of every zip header with <paramref name="signature"/> (local 0x04034b50, central 0x02014b50).</summary>
    public static byte[] PatchZipHeaders(byte[] zip, uint signature, int offset, uint value, int width = 4)
    {
        var copy = (byte[])zip.Clone();
        for (var i = 0; i + 4 <= copy.Length; i++)
        {
            if (BitConverter.ToUInt32(copy, i) == signature)
            {
                var bytes = BitConverter.GetBytes(value);
                Array.Copy(bytes, 0, copy, i + offset, width);
            }
        }
        return copy;
    }

    /// <summary>A stream that cannot seek, around another.</summary>
    private sealed class ForwardOnly(Stream inner) : Stream
    {
        public override bool CanRead => inner.CanRead;
        public override bool CanSeek => false;
        public override bool CanWrite => inner.CanWrite;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override void Write(byte[] buffer, int offset, int count) => inner.Write(buffer, offset, count);
        public override void Flush() => inner.Flush();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    /// <summary>A stream that cannot seek, for reading: how an archive arrives from S3.</summary>
    public static Stream NotSeekable(Stream inner) => new ForwardOnly(inner);

    private sealed class ZeroStream(long length) : Stream
    {
        private long _position;
        public override bool CanRead => true;
        public override bool CanSeek => true;
        public override bool CanWrite => false;
        public override long Length => length;
        public override long Position { get => _position; set => _position = value; }
        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = (int)Math.Min(count, length - _position);
            Array.Clear(buffer, offset, n);
            _position += n;
            return n;
        }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => _position = offset;
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
