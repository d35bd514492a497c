namespace MlModel.Dsl.Execution.Archives;

/// <summary>A stream that replays bytes already read from another stream, then continues with it.</summary>
internal sealed class PrefixedStream(byte[] prefix, int prefixLength, Stream inner) : ReadOnlyStream
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

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }
        base.Dispose(disposing);
    }
}
