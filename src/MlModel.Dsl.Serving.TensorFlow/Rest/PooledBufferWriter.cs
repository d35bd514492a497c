using System.Buffers;

namespace MlModel.Dsl.Serving.TensorFlow.Rest;

/// <summary>
/// A growable byte buffer rented from <see cref="ArrayPool{T}.Shared"/>: a predict request's
/// JSON is written into it and its answer read into it, so a batch costs no buffer of its own
/// once the pool is warm. Not thread-safe; one per request.
/// </summary>
internal sealed class PooledBufferWriter : IBufferWriter<byte>, IDisposable
{
    /// <summary>An answer larger than this is refused rather than buffered (a batch's predictions are far smaller).</summary>
    internal const int MaxLength = 256 * 1024 * 1024;

    private byte[] _buffer;
    private int _written;

    public PooledBufferWriter(int initialCapacity) =>
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Clamp(initialCapacity, 256, MaxLength));

    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _written);

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _written);

    public int WrittenCount => _written;

    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count > _buffer.Length - _written)
        {
            throw new InvalidOperationException("Advanced past the end of the buffer.");
        }

        _written += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_written);
    }

    /// <summary>
    /// Appends everything <paramref name="stream"/> holds, up to <see cref="MaxLength"/> bytes. With
    /// <paramref name="expectedLength"/> (a Content-Length) the buffer is grown to it once and filled
    /// without a read past it.
    /// </summary>
    /// <exception cref="InvalidDataException">The stream holds more than <see cref="MaxLength"/> bytes.</exception>
    public async Task ReadFromAsync(Stream stream, long? expectedLength, CancellationToken cancellationToken)
    {
        if (expectedLength is > 0 and <= MaxLength)
        {
            var end = _written + (int)expectedLength.Value;
            Ensure((int)expectedLength.Value);
            while (_written < end)
            {
                var read = await stream.ReadAsync(_buffer.AsMemory(_written, end - _written), cancellationToken);
                if (read == 0)
                {
                    return; // shorter than announced: the reader of the bytes finds out
                }

                _written += read;
            }

            return;
        }

        while (true)
        {
            if (_written == MaxLength)
            {
                throw new InvalidDataException($"the answer is larger than {MaxLength / (1024 * 1024)} MiB");
            }

            // Ask for more room only when the buffer is full: it doubles, so the copies stay few.
            var read = await stream.ReadAsync(GetMemory(_written == _buffer.Length ? Math.Min(16 * 1024, MaxLength - _written) : 1), cancellationToken);
            if (read == 0)
            {
                return;
            }

            _written += read;
        }
    }

    public void Dispose()
    {
        var buffer = _buffer;
        _buffer = [];
        _written = 0;
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void Ensure(int sizeHint)
    {
        sizeHint = Math.Max(sizeHint, 1);
        if (_buffer.Length - _written >= sizeHint)
        {
            return;
        }

        var wanted = (long)_written + sizeHint;
        if (wanted > MaxLength)
        {
            throw new InvalidDataException($"the buffer would grow past {MaxLength / (1024 * 1024)} MiB");
        }

        var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(MaxLength, Math.Max(wanted, (long)_buffer.Length * 2)));
        _buffer.AsSpan(0, _written).CopyTo(bigger);
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
        }

        _buffer = bigger;
    }
}
