using System.IO.Compression;
using SharpCompress.Compressors.BZip2;
using SharpCompress.Compressors.Xz;
using SharpCompress.Compressors.ZStandard;

namespace MlModel.Dsl.Execution.Archives;

/// <summary>The containers a model archive may come in, told apart by their first bytes, never by a file name.</summary>
internal enum ArchiveFormat
{
    Tar,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
    Zip,
}

internal static class ArchiveFormats
{
    /// <summary>Bytes to peek at: the longest magic is xz's six.</summary>
    public const int MagicLength = 6;

    /// <summary>The list for "not a ... archive" messages.</summary>
    public const string Accepted = "a tar, tar.gz, tar.bz2, tar.xz, tar.zst or zip archive";

    /// <summary>The container by its magic bytes; <see cref="ArchiveFormat.Tar"/> for anything else (the tar reader decides).</summary>
    public static ArchiveFormat Detect(ReadOnlySpan<byte> head) => head switch
    {
        [0x1f, 0x8b, ..] => ArchiveFormat.Gzip,
        [(byte)'B', (byte)'Z', (byte)'h', >= (byte)'1' and <= (byte)'9', ..] => ArchiveFormat.Bzip2,
        [0xfd, (byte)'7', (byte)'z', (byte)'X', (byte)'Z', 0x00, ..] => ArchiveFormat.Xz,
        [0x28, 0xb5, 0x2f, 0xfd, ..] => ArchiveFormat.Zstd,
        // A local file header, or the end record of an empty zip.
        [(byte)'P', (byte)'K', 3, 4, ..] or [(byte)'P', (byte)'K', 5, 6, ..] => ArchiveFormat.Zip,
        _ => ArchiveFormat.Tar,
    };

    /// <summary>The compression's name in messages.</summary>
    public static string Label(ArchiveFormat format) => format switch
    {
        ArchiveFormat.Gzip => "gzip",
        ArchiveFormat.Bzip2 => "bzip2",
        ArchiveFormat.Xz => "xz",
        ArchiveFormat.Zstd => "zstd",
        ArchiveFormat.Zip => "zip",
        _ => "tar",
    };

    /// <summary>
    /// The decompressed stream of a compressed tar. gzip through the runtime's zlib (the fastest
    /// here); bzip2, xz and zstd through SharpCompress, which the runtime cannot read. Each reads
    /// concatenated streams, as their command-line tools do (pbzip2, pzstd and <c>cat a.xz b.xz</c>
    /// make them).
    /// </summary>
    public static Stream Decompress(ArchiveFormat format, Stream compressed) => format switch
    {
        ArchiveFormat.Gzip => new GZipStream(compressed, CompressionMode.Decompress),
        ArchiveFormat.Bzip2 => BZip2Stream.Create(compressed, SharpCompress.Compressors.CompressionMode.Decompress, decompressConcatenated: true),
        ArchiveFormat.Xz => new XzStreams(compressed),
        ArchiveFormat.Zstd => new DecompressionStream(compressed, leaveOpen: false),
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "not a compression"),
    };

    /// <summary>
    /// One xz stream after another: SharpCompress's XZStream reads one and stops right after its
    /// footer, where the next may begin (after stream padding, zero bytes), as <c>xz -d</c> reads them.
    /// </summary>
    private sealed class XzStreams(Stream inner) : ReadOnlyStream
    {
        private XZStream? _current = new(new ReadPosition(inner));
        private readonly byte[] _peek = new byte[1];

        public override int Read(byte[] buffer, int offset, int count)
        {
            while (_current is not null)
            {
                var n = _current.Read(buffer, offset, count);
                if (n > 0 || count == 0)
                {
                    return n;
                }
                _current = Next();
            }
            return 0;
        }

        /// <summary>The next stream, past padding; null at the end of the input.</summary>
        private XZStream? Next()
        {
            while (inner.Read(_peek) == 1)
            {
                if (_peek[0] != 0)
                {
                    return new XZStream(new ReadPosition(new PrefixedStream(_peek.ToArray(), 1, inner)));
                }
            }
            return null;
        }

        // XZStream reads synchronously only; Stream's own ReadAsync would hand each read to the
        // thread pool for nothing.
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (System.Runtime.InteropServices.MemoryMarshal.TryGetArray<byte>(buffer, out var segment))
            {
                return ValueTask.FromResult(Read(segment.Array!, segment.Offset, segment.Count));
            }
            var copy = new byte[buffer.Length];
            var n = Read(copy, 0, copy.Length);
            copy.AsSpan(0, n).CopyTo(buffer.Span);
            return ValueTask.FromResult(n);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }
            base.Dispose(disposing);
        }
    }

    /// <summary>
    /// A stream that cannot seek but tells how far it has been read: XZStream asks its input's
    /// Position to find the padding of blocks and index, and a network stream has none.
    /// </summary>
    private sealed class ReadPosition(Stream inner) : ReadOnlyStream
    {
        private long _position;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(Span<byte> buffer)
        {
            var n = inner.Read(buffer);
            _position += n;
            return n;
        }
    }
}
