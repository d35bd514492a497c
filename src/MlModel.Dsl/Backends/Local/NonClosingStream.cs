namespace MlModel.Dsl.Backends.Local;

/// <summary>
/// The write-only, forward-only stream a <see cref="IObjectStore.WriteAsync"/> callback gets: it
/// passes writes to the temporary file and ignores the callback's Dispose, so that the store still
/// flushes, closes and renames the file (or deletes it) after the callback returns. Failures of the
/// file reach the callback as MlModel errors (through <paramref name="translate"/>).
/// </summary>
internal sealed class NonClosingStream(Stream inner, Func<Exception, MlModelException> translate) : Stream
{
    private long _written;
    private bool _closed;

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => !_closed;
    public override long Length => throw new NotSupportedException("the stream of an object being written has no length yet");

    /// <summary>Bytes written so far; cannot be set.</summary>
    public override long Position
    {
        get => _written;
        set => throw new NotSupportedException("the stream of an object being written cannot seek");
    }

    public override void Flush()
    {
        // The store flushes (to disk) once the callback has returned.
        ObjectDisposedException.ThrowIf(_closed, this);
    }

    public override Task FlushAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        return Task.CompletedTask;
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("the stream of an object being written is write-only");
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("the stream of an object being written cannot seek");
    public override void SetLength(long value) => throw new NotSupportedException("the stream of an object being written cannot seek");

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        try
        {
            inner.Write(buffer);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw translate(e);
        }

        _written += buffer.Length;
    }

    public override void WriteByte(byte value)
    {
        Write([value]);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        try
        {
            await inner.WriteAsync(buffer, cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw translate(e);
        }

        _written += buffer.Length;
    }

    protected override void Dispose(bool disposing)
    {
        _closed = true;
        base.Dispose(disposing);
    }

    public override ValueTask DisposeAsync()
    {
        _closed = true;
        return base.DisposeAsync();
    }
}
