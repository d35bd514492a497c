using System.Buffers;
using System.Security.Cryptography;

namespace MlModel.Dsl.Execution.Archives;

/// <summary>
/// Reads exactly <see cref="Length"/> bytes from an inner stream while hashing them; at the
/// end, compares size and SHA-256 with what is expected (when given) and keeps a short head
/// of the content for signature checks.
/// </summary>
/// <remarks>
/// <para>It reports <see cref="CanSeek"/> with a fixed <see cref="Length"/> because
/// <c>System.Formats.Tar.TarWriter</c> needs an entry's size before its bytes; it never seeks.</para>
/// <para>Where the hash is computed: given a <see cref="Sha256Pipeline"/> shared by the files of an
/// import or export, on the pipeline's thread, so that hashing overlaps with reading and writing;
/// the result (and a mismatch) then arrives later, through <see cref="Pending"/> and the pipeline.
/// Otherwise, for content of <see cref="BackgroundThreshold"/> bytes or more, on a pipeline of its
/// own, waited for at the end; for smaller content inline, where handing it over costs more than
/// it saves.</para>
/// </remarks>
internal sealed class HashingStream : ReadOnlyStream
{
    /// <summary>Content at least this long gets a pipeline of its own when none is shared.</summary>
    internal const long BackgroundThreshold = 4L << 20;

    /// <summary>The buffer of <see cref="CopyToAsync(Stream, int, CancellationToken)"/>: large reads and writes bypass the file streams' buffers.</summary>
    private const int CopyBufferSize = 1 << 20;

    private readonly Stream _inner;
    private readonly IncrementalHash? _hash;
    private readonly Sha256Pipeline? _pipeline;
    private readonly bool _ownsPipeline;
    private readonly long _length;
    private readonly string? _expectedSha256;
    private readonly Func<string, Exception> _mismatch;
    private readonly byte[] _head;
    private readonly int _headCapacity;
    private readonly IContentInspector? _inspector;
    private long _position;
    private bool _finished;

    // inspector: sees every byte as it passes, to check the file's format on the way.
    public HashingStream(Stream inner, long length, string? expectedSha256, Func<string, Exception> mismatch, int headCapacity = 16, Sha256Pipeline? pipeline = null, IContentInspector? inspector = null)
    {
        _inner = inner;
        _inspector = inspector;
        _length = length;
        _expectedSha256 = expectedSha256;
        _mismatch = mismatch;
        _headCapacity = headCapacity;
        _head = new byte[headCapacity];
        if (pipeline is not null || length >= BackgroundThreshold)
        {
            _ownsPipeline = pipeline is null;
            _pipeline = pipeline ?? new Sha256Pipeline();
            Pending = new PendingSha256(expectedSha256, mismatch);
        }
        else
        {
            _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        }
    }

    /// <summary>
    /// The SHA-256 in lower-case hex, once every byte has been read; with a shared pipeline, once
    /// the pipeline has got that far (see <see cref="Pending"/>).
    /// </summary>
    public string? Sha256 => _hash is not null || _ownsPipeline ? _sha256 : Pending?.Sha256;

    private string? _sha256;

    /// <summary>The hash as the pipeline computes it; null when hashed inline.</summary>
    public PendingSha256? Pending { get; }

    /// <summary>Whether every byte has been read.</summary>
    public bool IsComplete => _finished;

    /// <summary>The first bytes of the content (up to the head capacity).</summary>
    public ReadOnlySpan<byte> Head => _head.AsSpan(0, (int)Math.Min(_position, _headCapacity));

    public override bool CanSeek => true;
    public override long Length => _length;
    public override long Position { get => _position; set => throw new NotSupportedException(); }

    public override int Read(Span<byte> buffer)
    {
        var want = (int)Math.Min(buffer.Length, _length - _position);
        if (want == 0)
        {
            FinishAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
            return 0;
        }
        var n = _inner.Read(buffer[..want]);
        Advance(buffer[..n]);
        _pipeline?.Append(buffer[..n]);
        if (_position == _length)
        {
            FinishAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
        }
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var want = (int)Math.Min(buffer.Length, _length - _position);
        if (want == 0)
        {
            await FinishAsync(cancellationToken);
            return 0;
        }
        var n = await _inner.ReadAsync(buffer[..want], cancellationToken);
        Advance(buffer.Span[..n]);
        if (_pipeline is not null)
        {
            await _pipeline.AppendAsync(buffer[..n], cancellationToken);
        }
        if (_position == _length)
        {
            await FinishAsync(cancellationToken);
        }
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <summary>Copies the rest in 1 MiB blocks (a tar writer's copy would use 80 KB ones).</summary>
    public override async Task CopyToAsync(Stream destination, int bufferSize, CancellationToken cancellationToken)
    {
        var size = Math.Max(bufferSize, CopyBufferSize);
        var buffer = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            int n;
            while ((n = await ReadAsync(buffer.AsMemory(0, size), cancellationToken)) > 0)
            {
                await destination.WriteAsync(buffer.AsMemory(0, n), cancellationToken);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Counts, keeps the head and (inline) hashes what was read; a pipeline is fed by the caller.</summary>
    private void Advance(ReadOnlySpan<byte> data)
    {
        if (data.Length == 0)
        {
            throw _mismatch($"it ends after {_position} of {_length} bytes");
        }
        if (_position < _headCapacity)
        {
            var take = (int)Math.Min(data.Length, _headCapacity - _position);
            data[..take].CopyTo(_head.AsSpan((int)_position));
        }
        _hash?.AppendData(data);
        _inspector?.Append(data);
        _position += data.Length;
    }

    private async ValueTask FinishAsync(CancellationToken cancellationToken)
    {
        if (_finished)
        {
            return;
        }
        _finished = true;
        if (_hash is not null)
        {
            _sha256 = Convert.ToHexStringLower(_hash.GetHashAndReset());
            if (_expectedSha256 is not null && !string.Equals(_sha256, _expectedSha256, StringComparison.OrdinalIgnoreCase))
            {
                throw _mismatch($"its SHA-256 is {_sha256}, the manifest says {_expectedSha256}");
            }
        }
        else
        {
            await _pipeline!.EndFileAsync(Pending!, cancellationToken);
            if (_ownsPipeline)
            {
                // Its own pipeline: wait for the hash, and report a mismatch now.
                await _pipeline.CompleteAsync(cancellationToken);
                _sha256 = Pending!.Sha256;
            }
        }
        // A stored file longer than its manifest says is corrupt too.
        if (_expectedSha256 is not null && _inner.CanRead)
        {
            var probe = new byte[1];
            if (await _inner.ReadAsync(probe, cancellationToken) > 0)
            {
                throw _mismatch($"it is longer than the {_length} bytes the manifest says");
            }
        }
    }

    // The tar writer may ask to be where it already is; nothing else.
    public override long Seek(long offset, SeekOrigin origin) =>
        offset == _position && origin == SeekOrigin.Begin ? _position : throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash?.Dispose();
            if (_ownsPipeline)
            {
                _pipeline!.Dispose();
            }
            _inner.Dispose();
        }
        base.Dispose(disposing);
    }
}
