namespace MlModel.Dsl.Execution.Archives;

/// <summary>
/// A decompressor's output, with its failures on bad input turned into
/// <see cref="CorruptCompressionException"/> ("the gzip data is corrupt or truncated") rather
/// than its own words ("The archive entry was compressed using an unsupported compression
/// method." is what .NET's GZipStream says of a flipped byte). The decompressor is made at the
/// first read, inside the same guard: SharpCompress's bzip2 reads its stream header when made.
/// Failures of the source it reads from, and cancellation, travel as they are.
/// </summary>
internal sealed class DecompressedStream(Func<Stream> open, string format, Func<bool> sourceFaulted) : ReadOnlyStream
{
    private Stream? _decompressor;

    public override int Read(Span<byte> buffer)
    {
        try
        {
            return (_decompressor ??= open()).Read(buffer);
        }
        catch (Exception e) when (IsCorruption(e))
        {
            throw Corrupt(e);
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            return await (_decompressor ??= open()).ReadAsync(buffer, cancellationToken);
        }
        catch (Exception e) when (IsCorruption(e))
        {
            throw Corrupt(e);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private bool IsCorruption(Exception e) =>
        e is not (OperationCanceledException or ArchiveException or OutOfMemoryException) && !sourceFaulted();

    private CorruptCompressionException Corrupt(Exception e) => new($"the {format} data is corrupt or truncated", e);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _decompressor?.Dispose();
        }
        base.Dispose(disposing);
    }
}
