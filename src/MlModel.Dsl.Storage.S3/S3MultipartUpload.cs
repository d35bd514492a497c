using Amazon.S3.Model;

namespace MlModel.Dsl.Storage.S3;

/// <summary>
/// One multipart upload in progress: hands out part buffers (at most <c>maxBuffers</c> at a time,
/// which bounds memory and the parts in flight), uploads each submitted part in the background,
/// and completes or aborts. Started lazily, on the first part.
/// </summary>
internal sealed class S3MultipartUpload : IDisposable
{
    private readonly S3ObjectStore _store;
    private readonly string _key;
    private readonly string _objectKey;
    private readonly SemaphoreSlim _slots;
    private readonly CancellationTokenSource _cancel;
    private readonly List<Task> _running = [];
    private readonly List<PartETag> _parts = [];
    private string? _uploadId;
    private int _partNumber;
    private Exception? _failure;
    private readonly CancellationToken _outer;
    private bool _aborted;
    private bool _completed;
    private volatile bool _aborting;

    public S3MultipartUpload(S3ObjectStore store, string key, string objectKey, int partSize, int maxBuffers, CancellationToken cancellationToken)
    {
        _store = store;
        _key = key;
        _objectKey = objectKey;
        PartSize = partSize;
        _slots = new SemaphoreSlim(maxBuffers, maxBuffers);
        _outer = cancellationToken;
        _cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
    }

    /// <summary>Bytes per part (all but the last).</summary>
    public int PartSize { get; }

    /// <summary>Whether the upload was initiated on the server.</summary>
    public bool Started => _uploadId is not null;

    /// <summary>The first failure of a part upload, which cancels the others.</summary>
    public Exception? Failure => Volatile.Read(ref _failure);

    /// <summary>A part buffer, once one of the bounded slots is free.</summary>
    public async ValueTask<byte[]> RentAsync()
    {
        await _slots.WaitAsync(_cancel.Token);
        try
        {
            ThrowIfFailed();
            return _store.Buffers.Rent(PartSize);
        }
        catch
        {
            _slots.Release();
            throw;
        }
    }

    /// <summary>Gives a buffer back without uploading it.</summary>
    public void Return(byte[] buffer)
    {
        _store.Buffers.Return(buffer);
        _slots.Release();
    }

    /// <summary>Uploads <paramref name="count"/> bytes of <paramref name="buffer"/> as the next part, in the background; takes the buffer.</summary>
    public async ValueTask SubmitAsync(byte[] buffer, int count)
    {
        try
        {
            ThrowIfFailed();
            _uploadId ??= await _store.InitiateMultipartAsync(_objectKey, _cancel.Token);
            if (_partNumber == S3StoreOptions.MaxParts)
            {
                throw new MlModelException(ErrorCodes.Backend,
                    $"object '{ObjectKeyRules.Printable(_key)}' in {_store.Description} needs more than {S3StoreOptions.MaxParts} parts of {PartSize} bytes; raise the part size");
            }
        }
        catch
        {
            Return(buffer);
            throw;
        }

        var number = ++_partNumber;
        _running.RemoveAll(task => task.IsCompletedSuccessfully);
        _running.Add(UploadAsync(_uploadId, number, buffer, count));
    }

    private async Task UploadAsync(string id, int number, byte[] buffer, int count)
    {
        try
        {
            var etag = await _store.UploadPartAsync(_objectKey, id, number, buffer, count, _cancel.Token);
            lock (_parts)
            {
                _parts.Add(new PartETag(number, etag));
            }
        }
        catch (Exception e)
        {
            // The first failure is the one to report; the others are mostly the cancellation it
            // causes. Cancellations caused by an abort are no failure of their own.
            if (!_aborting)
            {
                Interlocked.CompareExchange(ref _failure, e, null);
                await _cancel.CancelAsync();
            }

            throw;
        }
        finally
        {
            Return(buffer);
        }
    }

    /// <summary>Waits for every part and completes the upload.</summary>
    public async Task CompleteAsync()
    {
        await Task.WhenAll(_running);
        ThrowIfFailed();
        List<PartETag> ordered;
        lock (_parts)
        {
            ordered = [.. _parts.OrderBy(part => part.PartNumber)];
        }

        await _store.CompleteMultipartAsync(_objectKey, _uploadId!, ordered, _cancel.Token);
        _completed = true;
    }

    /// <summary>Stops the parts in flight and aborts the upload on the server, so that nothing is left.</summary>
    public async Task AbortAsync()
    {
        if (_aborted)
        {
            return;
        }

        _aborted = true;
        _aborting = true;
        await _cancel.CancelAsync();
        try
        {
            await Task.WhenAll(_running);
        }
        catch (Exception)
        {
            // The failure that led here is reported by the caller.
        }

        if (_uploadId is { } id && !_completed)
        {
            await _store.AbortMultipartAsync(_objectKey, id);
        }
    }

    private void ThrowIfFailed()
    {
        if (Failure is { } e)
        {
            throw Translate(e);
        }
    }

    /// <summary>
    /// What to report for <paramref name="e"/>, thrown while writing: the first part failure when
    /// there was one (the rest is its consequence), as an MlModel error; the caller's own
    /// cancellation as it is.
    /// </summary>
    public Exception Translate(Exception e)
    {
        var cause = Failure ?? e;
        return _store.Translate(cause, _key, "write", _outer) ?? cause;
    }

    public void Dispose()
    {
        _cancel.Dispose();
        _slots.Dispose();
    }
}
