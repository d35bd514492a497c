using Amazon.S3.Model;

namespace MlModel.Dsl.Storage.S3;

/// <summary>
/// One multipart upload in progress: hands out part buffers (at most <c>maxBuffers</c> at a time,
/// which bounds memory and the parts in flight), uploads each submitted part in the background,
/// and completes or aborts. Started lazily, on the first part.
/// </summary>
internal sealed class S3MultipartUpload : IDisposable
{
    private readonly S3ObjectStore store;
    private readonly string key;
    private readonly string objectKey;
    private readonly SemaphoreSlim slots;
    private readonly CancellationTokenSource cancel;
    private readonly List<Task> running = [];
    private readonly List<PartETag> parts = [];
    private string? uploadId;
    private int partNumber;
    private Exception? failure;
    private readonly CancellationToken outer;
    private bool aborted;
    private bool completed;
    private volatile bool aborting;

    public S3MultipartUpload(S3ObjectStore store, string key, string objectKey, int partSize, int maxBuffers, CancellationToken cancellationToken)
    {
        this.store = store;
        this.key = key;
        this.objectKey = objectKey;
        PartSize = partSize;
        slots = new SemaphoreSlim(maxBuffers, maxBuffers);
        outer = cancellationToken;
        cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
    }

    /// <summary>Bytes per part (all but the last).</summary>
    public int PartSize { get; }

    /// <summary>Whether the upload was initiated on the server.</summary>
    public bool Started => uploadId is not null;

    /// <summary>The first failure of a part upload, which cancels the others.</summary>
    public Exception? Failure => Volatile.Read(ref failure);

    /// <summary>A part buffer, once one of the bounded slots is free.</summary>
    public async ValueTask<byte[]> RentAsync()
    {
        await slots.WaitAsync(cancel.Token);
        try
        {
            ThrowIfFailed();
            return store.Buffers.Rent(PartSize);
        }
        catch
        {
            slots.Release();
            throw;
        }
    }

    /// <summary>Gives a buffer back without uploading it.</summary>
    public void Return(byte[] buffer)
    {
        store.Buffers.Return(buffer);
        slots.Release();
    }

    /// <summary>Uploads <paramref name="count"/> bytes of <paramref name="buffer"/> as the next part, in the background; takes the buffer.</summary>
    public async ValueTask SubmitAsync(byte[] buffer, int count)
    {
        try
        {
            ThrowIfFailed();
            uploadId ??= await store.InitiateMultipartAsync(objectKey, cancel.Token);
            if (partNumber == S3StoreOptions.MaxParts)
            {
                throw new MlModelException(ErrorCodes.Backend,
                    $"object '{ObjectKeyRules.Printable(key)}' in {store.Description} needs more than {S3StoreOptions.MaxParts} parts of {PartSize} bytes; raise the part size");
            }
        }
        catch
        {
            Return(buffer);
            throw;
        }

        var number = ++partNumber;
        running.RemoveAll(task => task.IsCompletedSuccessfully);
        running.Add(UploadAsync(uploadId, number, buffer, count));
    }

    private async Task UploadAsync(string id, int number, byte[] buffer, int count)
    {
        try
        {
            var etag = await store.UploadPartAsync(objectKey, id, number, buffer, count, cancel.Token);
            lock (parts)
            {
                parts.Add(new PartETag(number, etag));
            }
        }
        catch (Exception e)
        {
            // The first failure is the one to report; the others are mostly the cancellation it
            // causes. Cancellations caused by an abort are no failure of their own.
            if (!aborting)
            {
                Interlocked.CompareExchange(ref failure, e, null);
                await cancel.CancelAsync();
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
        await Task.WhenAll(running);
        ThrowIfFailed();
        List<PartETag> ordered;
        lock (parts)
        {
            ordered = [.. parts.OrderBy(part => part.PartNumber)];
        }

        await store.CompleteMultipartAsync(objectKey, uploadId!, ordered, cancel.Token);
        completed = true;
    }

    /// <summary>Stops the parts in flight and aborts the upload on the server, so that nothing is left.</summary>
    public async Task AbortAsync()
    {
        if (aborted)
        {
            return;
        }

        aborted = true;
        aborting = true;
        await cancel.CancelAsync();
        try
        {
            await Task.WhenAll(running);
        }
        catch (Exception)
        {
            // The failure that led here is reported by the caller.
        }

        if (uploadId is { } id && !completed)
        {
            await store.AbortMultipartAsync(objectKey, id);
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
        return store.Translate(cause, key, "write", outer) ?? cause;
    }

    public void Dispose()
    {
        cancel.Dispose();
        slots.Dispose();
    }
}
