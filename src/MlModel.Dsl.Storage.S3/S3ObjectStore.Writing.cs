using Amazon.S3.Model;

namespace MlModel.Dsl.Storage.S3;

// Writing: one PUT for a small object of known length, a multipart upload through pooled part buffers for anything else.
public sealed partial class S3ObjectStore
{
    /// <inheritdoc />
    public async Task PutAsync(string key, Stream content, long? length, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        var objectKey = ObjectKey(key);
        if (length < 0)
        {
            throw new MlModelException(ErrorCodes.InvalidValue, $"the length of object '{ObjectKeyRules.Printable(key)}' must not be negative");
        }

        if (length is { } small && small < _threshold)
        {
            await PutSmallAsync(key, objectKey, content, small, cancellationToken);
            return;
        }

        // Parts: at least PartSize, and large enough for the whole object to fit in 10,000 of them.
        var size = _partSize;
        if (length is { } known && (known + size - 1) / size > S3StoreOptions.MaxParts)
        {
            size = (int)Math.Min(S3StoreOptions.MaxPartSize, (known + S3StoreOptions.MaxParts - 1) / S3StoreOptions.MaxParts);
        }

        using var upload = new S3MultipartUpload(this, key, objectKey, size, _maxConcurrentParts, cancellationToken);
        Exception? sourceFailure = null;
        try
        {
            long total = 0;
            var first = true;
            while (true)
            {
                var buffer = await upload.RentAsync();
                int read;
                try
                {
                    read = await content.ReadAtLeastAsync(buffer.AsMemory(0, size), size, throwOnEndOfStream: false, cancellationToken);
                }
                catch (Exception e)
                {
                    upload.Return(buffer);
                    sourceFailure = e; // the caller's stream failed: its exception travels as it is
                    throw;
                }

                total += read;
                if (first && read < size && length is null && read < _threshold)
                {
                    // Unknown length, and it all fitted in the first buffer: one PUT.
                    try
                    {
                        await PutBufferAsync(key, objectKey, buffer, read, cancellationToken);
                    }
                    finally
                    {
                        upload.Return(buffer);
                    }

                    return;
                }

                first = false;
                if (read == 0)
                {
                    upload.Return(buffer);
                    break;
                }

                await upload.SubmitAsync(buffer, read);
                if (read < size || total > length)
                {
                    break;
                }
            }

            if (length is { } expected && total != expected)
            {
                throw LengthMismatch(key, expected, total);
            }

            if (!upload.Started)
            {
                await PutBufferAsync(key, objectKey, [], 0, cancellationToken); // empty, with a threshold of 0
                return;
            }

            await upload.CompleteAsync();
        }
        catch (Exception e)
        {
            await upload.AbortAsync();
            if (ReferenceEquals(e, sourceFailure))
            {
                throw;
            }

            var reported = upload.Translate(e);
            if (ReferenceEquals(reported, e))
            {
                throw;
            }

            throw reported;
        }
    }

    /// <inheritdoc />
    public async Task WriteAsync(string key, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(write);
        var objectKey = ObjectKey(key);
        using var upload = new S3MultipartUpload(this, key, objectKey, _partSize, _maxConcurrentParts, cancellationToken);
        var stream = new S3UploadStream(upload);
        var produced = false;
        try
        {
            // Exceptions of the callback travel as they are; the stream already reports failures
            // of the upload as MlModel errors.
            await write(stream, cancellationToken);
            produced = true;
            cancellationToken.ThrowIfCancellationRequested();
            var (buffer, count) = stream.Finish();
            if (!upload.Started && count < Math.Max(_threshold, 1))
            {
                try
                {
                    await PutBufferAsync(key, objectKey, buffer ?? [], count, cancellationToken);
                }
                finally
                {
                    if (buffer is not null)
                    {
                        upload.Return(buffer);
                    }
                }

                return;
            }

            if (buffer is not null)
            {
                if (count > 0)
                {
                    await upload.SubmitAsync(buffer, count);
                }
                else
                {
                    upload.Return(buffer);
                }
            }

            await upload.CompleteAsync();
        }
        catch (Exception e)
        {
            stream.Abandon();
            await upload.AbortAsync();
            if (!produced)
            {
                throw;
            }

            var reported = upload.Translate(e);
            if (ReferenceEquals(reported, e))
            {
                throw;
            }

            throw reported;
        }
    }

    private async Task PutSmallAsync(string key, string objectKey, Stream content, long length, CancellationToken cancellationToken)
    {
        var size = (int)length;
        var buffer = _buffers.Rent(size + 1);
        try
        {
            // One byte more than declared, to notice content that is longer. The caller's stream's
            // own failures travel as they are.
            var read = await content.ReadAtLeastAsync(buffer.AsMemory(0, size + 1), size + 1, throwOnEndOfStream: false, cancellationToken);

            if (read != size)
            {
                throw LengthMismatch(key, length, read);
            }

            await PutBufferAsync(key, objectKey, buffer, size, cancellationToken);
        }
        finally
        {
            _buffers.Return(buffer);
        }
    }

    private async Task PutBufferAsync(string key, string objectKey, byte[] buffer, int count, CancellationToken cancellationToken)
    {
        try
        {
            using var body = new MemoryStream(buffer, 0, count, writable: false);
            await _client.PutObjectAsync(new PutObjectRequest
            {
                BucketName = _bucket,
                Key = objectKey,
                InputStream = body,
                AutoCloseStream = false,
                // The SDK's default aws-chunked framing stays: with a plain signed body, Ceph
                // refuses bad credentials before reading the body and the connection then
                // carries its leftover bytes into the next request (MethodNotAllowed).
            }, cancellationToken);
        }
        catch (Exception e) when (Translate(e, key, "write", cancellationToken) is { } mapped)
        {
            throw mapped;
        }
    }

    /// <summary>The store's part buffers.</summary>
    internal PartBufferPool Buffers => _buffers;

    /// <summary>Starts a multipart upload; returns its id.</summary>
    internal async Task<string> InitiateMultipartAsync(string objectKey, CancellationToken cancellationToken)
    {
        var response = await _client.InitiateMultipartUploadAsync(
            new InitiateMultipartUploadRequest { BucketName = _bucket, Key = objectKey }, cancellationToken);
        return response.UploadId;
    }

    /// <summary>Uploads one part; returns its ETag.</summary>
    internal async Task<string> UploadPartAsync(string objectKey, string uploadId, int number, byte[] buffer, int count, CancellationToken cancellationToken)
    {
        using var body = new MemoryStream(buffer, 0, count, writable: false);
        var response = await _client.UploadPartAsync(new UploadPartRequest
        {
            BucketName = _bucket,
            Key = objectKey,
            UploadId = uploadId,
            PartNumber = number,
            PartSize = count,
            InputStream = body, // aws-chunked framing, as for PutObject
        }, cancellationToken);
        return response.ETag;
    }

    /// <summary>Completes a multipart upload (its ETag, empty on Ceph, is not used).</summary>
    internal Task CompleteMultipartAsync(string objectKey, string uploadId, List<PartETag> parts, CancellationToken cancellationToken) =>
        _client.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
        {
            BucketName = _bucket,
            Key = objectKey,
            UploadId = uploadId,
            PartETags = parts,
        }, cancellationToken);

    /// <summary>Aborts a multipart upload, best effort.</summary>
    internal async Task AbortMultipartAsync(string objectKey, string uploadId)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            await _client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest
            {
                BucketName = _bucket,
                Key = objectKey,
                UploadId = uploadId,
            }, timeout.Token);
        }
        catch (Exception)
        {
            // Best effort (the bucket may be gone, the server down): the upload stays pending on the server; a bucket lifecycle rule (AbortIncompleteMultipartUpload) reclaims it.
        }
    }
}
