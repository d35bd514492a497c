namespace MlModel.Dsl.Storage.S3;

/// <summary>
/// The write-only stream a <see cref="S3ObjectStore.WriteAsync"/> callback writes into: bytes fill a
/// part buffer, and each full buffer is handed to the multipart upload, which uploads it in the
/// background. Memory stays within the upload's bounded buffers. The callback's Dispose is ignored:
/// the store finishes (or aborts) the upload once the callback has returned.
/// </summary>
internal sealed class S3UploadStream(S3MultipartUpload upload) : Stream
{
    private byte[]? _buffer;
    private int _count;
    private long _written;
    private bool _closed;
    private bool _finished;

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => !_closed && !_finished;
    public override long Length => throw new NotSupportedException("the stream of an object being written has no length yet");

    /// <summary>Bytes written so far; cannot be set.</summary>
    public override long Position
    {
        get => _written;
        set => throw new NotSupportedException("the stream of an object being written cannot seek");
    }

    public override void Flush() => ThrowIfClosed();

    public override Task FlushAsync(CancellationToken cancellationToken)
    {
        ThrowIfClosed();
        return Task.CompletedTask;
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("the stream of an object being written is write-only");
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("the stream of an object being written cannot seek");
    public override void SetLength(long value) => throw new NotSupportedException("the stream of an object being written cannot seek");

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void WriteByte(byte value) => Write([value]);

    // Synchronous writers (a tar writer, say) block while a part buffer is not free yet; the
    // parts themselves are uploaded on other threads, so this cannot deadlock.
    public override void Write(ReadOnlySpan<byte> source)
    {
        ThrowIfClosed();
        while (!source.IsEmpty)
        {
            _buffer ??= Wait(upload.RentAsync());
            var n = Math.Min(source.Length, upload.PartSize - _count);
            source[..n].CopyTo(_buffer.AsSpan(_count));
            source = source[n..];
            _count += n;
            _written += n;
            if (_count == upload.PartSize)
            {
                var full = TakeBuffer();
                Wait(upload.SubmitAsync(full, upload.PartSize));
            }
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
    {
        ThrowIfClosed();
        while (!source.IsEmpty)
        {
            cancellationToken.ThrowIfCancellationRequested();
            _buffer ??= await Translated(upload.RentAsync());
            var n = Math.Min(source.Length, upload.PartSize - _count);
            source.Span[..n].CopyTo(_buffer.AsSpan(_count));
            source = source[n..];
            _count += n;
            _written += n;
            if (_count == upload.PartSize)
            {
                var full = TakeBuffer();
                await Translated(upload.SubmitAsync(full, upload.PartSize));
            }
        }
    }

    /// <summary>Ends writing; returns the partly filled last buffer (null when there is none) and its byte count.</summary>
    public (byte[]? Buffer, int Count) Finish()
    {
        _finished = true;
        var last = _buffer;
        var n = _count;
        _buffer = null;
        _count = 0;
        return (last, n);
    }

    /// <summary>Ends writing after a failure: gives the current buffer back.</summary>
    public void Abandon()
    {
        _finished = true;
        if (_buffer is { } b)
        {
            _buffer = null;
            _count = 0;
            upload.Return(b);
        }
    }

    // Failures of the upload reach the callback as MlModel errors (its own exceptions stay its own).
    private T Wait<T>(ValueTask<T> task)
    {
        try
        {
            return task.AsTask().GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            throw Rethrowable(e);
        }
    }

    private void Wait(ValueTask task)
    {
        try
        {
            task.AsTask().GetAwaiter().GetResult();
        }
        catch (Exception e)
        {
            throw Rethrowable(e);
        }
    }

    private async ValueTask<T> Translated<T>(ValueTask<T> task)
    {
        try
        {
            return await task;
        }
        catch (Exception e)
        {
            throw Rethrowable(e);
        }
    }

    private async ValueTask Translated(ValueTask task)
    {
        try
        {
            await task;
        }
        catch (Exception e)
        {
            throw Rethrowable(e);
        }
    }

    private Exception Rethrowable(Exception e)
    {
        var translated = upload.Translate(e);
        if (ReferenceEquals(translated, e))
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e);
        }

        return translated;
    }

    private byte[] TakeBuffer()
    {
        var full = _buffer!;
        _buffer = null;
        _count = 0;
        return full;
    }

    private void ThrowIfClosed()
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        if (_finished)
        {
            throw new InvalidOperationException("the object has already been written (or its write failed); the stream takes no more bytes");
        }
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
