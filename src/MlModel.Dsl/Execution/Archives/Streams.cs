using System.Security.Cryptography;

namespace MlModel.Dsl.Execution.Archives;

/// <summary>A read-only stream that counts what passes and calls back as it goes.</summary>
internal sealed class CountingStream(Stream inner, Action<long>? onRead = null, long limit = long.MaxValue, Func<Exception>? overLimit = null) : Stream
{
    public long Count { get; private set; }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => Count; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = inner.Read(buffer);
        Advance(n);
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await inner.ReadAsync(buffer, cancellationToken);
        Advance(n);
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private void Advance(int n)
    {
        Count += n;
        if (Count > limit)
        {
            throw overLimit?.Invoke() ?? new InvalidDataException("limit exceeded");
        }
        if (n > 0)
        {
            onRead?.Invoke(Count);
        }
    }

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

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
/// Reads exactly <see cref="Length"/> bytes from an inner stream while hashing them; at the
/// end, compares size and SHA-256 with what is expected (when given) and keeps a short head
/// of the content for signature checks.
/// </summary>
/// <remarks>
/// It reports <see cref="CanSeek"/> with a fixed <see cref="Length"/> because
/// <c>System.Formats.Tar.TarWriter</c> needs an entry's size before its bytes; it never seeks.
/// </remarks>
internal sealed class HashingStream : Stream
{
    private readonly Stream _inner;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly long _length;
    private readonly string? _expectedSha256;
    private readonly Func<string, Exception> _mismatch;
    private readonly byte[] _head;
    private readonly int _headCapacity;
    private long _position;
    private bool _finished;

    public HashingStream(Stream inner, long length, string? expectedSha256, Func<string, Exception> mismatch, int headCapacity = 16)
    {
        _inner = inner;
        _length = length;
        _expectedSha256 = expectedSha256;
        _mismatch = mismatch;
        _headCapacity = headCapacity;
        _head = new byte[headCapacity];
    }

    /// <summary>The SHA-256 in lower-case hex, once every byte has been read.</summary>
    public string? Sha256 { get; private set; }

    /// <summary>The first bytes of the content (up to the head capacity).</summary>
    public ReadOnlySpan<byte> Head => _head.AsSpan(0, (int)Math.Min(_position, _headCapacity));

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length => _length;
    public override long Position { get => _position; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var want = (int)Math.Min(buffer.Length, _length - _position);
        if (want == 0)
        {
            Finish();
            return 0;
        }
        var n = _inner.Read(buffer[..want]);
        var result = Advance(buffer[..n]);
        if (_position == _length)
        {
            Finish();
        }
        return result;
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
        var result = Advance(buffer.Span[..n]);
        if (_position == _length)
        {
            await FinishAsync(cancellationToken);
        }
        return result;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private int Advance(ReadOnlySpan<byte> data)
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
        _hash.AppendData(data);
        _position += data.Length;
        return data.Length;
    }

    private void Finish()
    {
        if (_finished)
        {
            return;
        }
        _finished = true;
        Sha256 = Convert.ToHexStringLower(_hash.GetHashAndReset());
        if (_expectedSha256 is not null && !string.Equals(Sha256, _expectedSha256, StringComparison.OrdinalIgnoreCase))
        {
            throw _mismatch($"its SHA-256 is {Sha256}, the manifest says {_expectedSha256}");
        }
    }

    private async ValueTask FinishAsync(CancellationToken cancellationToken)
    {
        if (_finished)
        {
            return;
        }
        Finish();
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

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) =>
        offset == _position && origin == SeekOrigin.Begin ? _position : throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
            _inner.Dispose();
        }
        base.Dispose(disposing);
    }
}

/// <summary>A stream that replays bytes already read from another stream, then continues with it.</summary>
internal sealed class PrefixedStream(byte[] prefix, int prefixLength, Stream inner) : Stream
{
    private int _prefixPosition;

    public static async Task<(Stream Stream, byte[] Head, int HeadLength)> PeekAsync(Stream inner, int count, CancellationToken cancellationToken)
    {
        var head = new byte[count];
        var n = 0;
        while (n < count)
        {
            var r = await inner.ReadAsync(head.AsMemory(n), cancellationToken);
            if (r == 0)
            {
                break;
            }
            n += r;
        }
        return (new PrefixedStream(head, n, inner), head, n);
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (_prefixPosition < prefixLength)
        {
            var n = Math.Min(buffer.Length, prefixLength - _prefixPosition);
            prefix.AsSpan(_prefixPosition, n).CopyTo(buffer);
            _prefixPosition += n;
            return n;
        }
        return inner.Read(buffer);
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_prefixPosition < prefixLength)
        {
            return ValueTask.FromResult(Read(buffer.Span));
        }
        return inner.ReadAsync(buffer, cancellationToken);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }
        base.Dispose(disposing);
    }
}
