using System.Formats.Tar;
using System.IO.Compression;

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
