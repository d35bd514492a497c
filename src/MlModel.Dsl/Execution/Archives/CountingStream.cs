namespace MlModel.Dsl.Execution.Archives;

/// <summary>A read-only stream that counts what passes and calls back as it goes.</summary>
internal sealed class CountingStream(Stream inner, Action<long>? onRead = null, long limit = long.MaxValue, Func<Exception>? overLimit = null) : ReadOnlyStream
{
    public long Count { get; private set; }

    /// <summary>Whether a read of the inner stream threw: its failure is not the archive's fault.</summary>
    public bool Faulted { get; private set; }

    public override long Position { get => Count; set => throw new NotSupportedException(); }

    public override int Read(Span<byte> buffer)
    {
        int n;
        try
        {
            n = inner.Read(buffer);
        }
        catch
        {
            Faulted = true;
            throw;
        }
        Advance(n);
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n;
        try
        {
            n = await inner.ReadAsync(buffer, cancellationToken);
        }
        catch
        {
            Faulted = true;
            throw;
        }
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

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }
        base.Dispose(disposing);
    }
}
