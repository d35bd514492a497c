using MlModel.Dsl.Backends;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace MlModel.Dsl.Storage.S3;

/// <summary>
/// An object store in an S3-compatible bucket (AWS S3, Ceph's RADOS Gateway, ...), under an
/// optional key prefix.
/// </summary>
/// <remarks>
/// <para>Every transfer streams. <see cref="PutAsync"/> sends an object of known length below
/// <see cref="S3StoreOptions.MultipartThreshold"/> in one PUT and anything else as a multipart
/// upload, reading one part at a time into pooled buffers; <see cref="WriteAsync"/> gives its
/// callback a write-only stream that uploads parts as they fill. An upload holds at most
/// <see cref="S3StoreOptions.PartSize"/> × <see cref="S3StoreOptions.MaxConcurrentParts"/> bytes
/// (32 MiB by default; the store keeps that many buffers for reuse after its first large upload),
/// and a failed or cancelled multipart upload is aborted, so nothing is left behind.</para>
/// <para>Errors are <see cref="MlModelException"/>s: <see cref="ErrorCodes.NotFound"/> for a missing
/// object, <see cref="ErrorCodes.Connector"/> for refused credentials, a missing bucket or an
/// unreachable endpoint, <see cref="ErrorCodes.Backend"/> otherwise. No message contains a secret.
/// Cancellation through the caller's token surfaces as <see cref="OperationCanceledException"/>.</para>
/// </remarks>
public sealed class S3ObjectStore : IObjectStore, IDisposable
{
    private static readonly TimeSpan MaxPresignExpiry = TimeSpan.FromDays(7);

    private readonly AmazonS3Client client;
    private readonly string bucket;
    private readonly string prefix;
    private readonly string? endpoint;
    private readonly Protocol protocol;
    private readonly long threshold;
    private readonly int partSize;
    private readonly int maxConcurrentParts;
    private readonly string who;
    private volatile bool bucketSeen;
    private readonly PartBufferPool buffers;

    /// <summary>Creates a store; throws <see cref="MlModelException"/> (<see cref="ErrorCodes.Connector"/>) for unusable options.</summary>
    public S3ObjectStore(S3StoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        bucket = options.Bucket?.Trim() ?? "";
        var connector = string.IsNullOrWhiteSpace(options.ConnectorId) ? null : options.ConnectorId;
        who = connector is null ? $"bucket '{bucket}'" : $"connector '{connector}' (bucket '{bucket}')";
        string Subject() => connector is null ? "the S3 store" : $"connector '{connector}' (s3)";

        if (bucket.Length == 0)
        {
            throw new MlModelException(ErrorCodes.Connector, $"{Subject()} needs a bucket");
        }

        prefix = NormalizePrefix(options.Prefix, Subject());
        Uri? serviceUri = null;
        if (!string.IsNullOrWhiteSpace(options.ServiceUrl))
        {
            if (!Uri.TryCreate(options.ServiceUrl.Trim(), UriKind.Absolute, out serviceUri)
                || (serviceUri.Scheme != Uri.UriSchemeHttp && serviceUri.Scheme != Uri.UriSchemeHttps))
            {
                throw new MlModelException(ErrorCodes.Connector,
                    $"{Subject()}: the endpoint must be an http:// or https:// URL, not '{SafeEndpoint(options.ServiceUrl)}'");
            }

            if (serviceUri.UserInfo.Length > 0)
            {
                // Credentials go in AccessKey/SecretKey, which are never shown; a URL is.
                throw new MlModelException(ErrorCodes.Connector,
                    $"{Subject()}: the endpoint must not carry user info (user:password@); give keys as access_key_env/secret_key_env");
            }

            endpoint = SafeEndpoint(options.ServiceUrl);
        }

        if (string.IsNullOrWhiteSpace(options.Region))
        {
            throw new MlModelException(ErrorCodes.Connector, $"{Subject()} needs a region");
        }

        if (string.IsNullOrEmpty(options.AccessKey) != string.IsNullOrEmpty(options.SecretKey))
        {
            throw new MlModelException(ErrorCodes.Connector,
                $"{Subject()} needs both an access key and a secret key, or neither (for the AWS default credentials)");
        }

        if (options.PartSize is < S3StoreOptions.MinPartSize or > S3StoreOptions.MaxPartSize)
        {
            throw new MlModelException(ErrorCodes.Connector,
                $"{Subject()}: the part size must be between {S3StoreOptions.MinPartSize} and {S3StoreOptions.MaxPartSize} bytes, not {options.PartSize}");
        }

        if (options.MultipartThreshold is < 0 or > S3StoreOptions.MaxPartSize)
        {
            throw new MlModelException(ErrorCodes.Connector,
                $"{Subject()}: the multipart threshold must be between 0 and {S3StoreOptions.MaxPartSize} bytes, not {options.MultipartThreshold}");
        }

        if (options.MaxConcurrentParts is < 1 or > 64)
        {
            throw new MlModelException(ErrorCodes.Connector,
                $"{Subject()}: the number of concurrent parts must be between 1 and 64, not {options.MaxConcurrentParts}");
        }

        threshold = options.MultipartThreshold;
        partSize = options.PartSize;
        maxConcurrentParts = options.MaxConcurrentParts;
        // One length serves both the parts and the single-PUT buffer (threshold + 1 bytes, to
        // notice content longer than declared).
        buffers = new PartBufferPool((int)Math.Max(partSize, Math.Min(threshold + 1, S3StoreOptions.MaxPartSize)), maxConcurrentParts);
        protocol = serviceUri is null || serviceUri.Scheme == Uri.UriSchemeHttps ? Protocol.HTTPS : Protocol.HTTP;

        var config = new AmazonS3Config
        {
            ForcePathStyle = options.ForcePathStyle,
            // The SDK's default (WHEN_SUPPORTED) sends trailing CRC checksums that S3-compatible
            // servers such as Ceph reject with XAmzContentSHA256Mismatch.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            ConnectTimeout = options.ConnectTimeout,
        };
        if (options.RequestTimeout is { } timeout)
        {
            config.Timeout = timeout;
        }

        try
        {
            if (serviceUri is not null)
            {
                config.ServiceURL = serviceUri.ToString();
                config.AuthenticationRegion = options.Region.Trim();
                config.IgnoreConfiguredEndpointUrls = true;
            }
            else
            {
                config.RegionEndpoint = RegionEndpoint.GetBySystemName(options.Region.Trim());
            }

            client = string.IsNullOrEmpty(options.AccessKey)
                ? new AmazonS3Client(config)
                : new AmazonS3Client(new BasicAWSCredentials(options.AccessKey, options.SecretKey), config);
        }
        catch (Exception e) when (e is AmazonClientException or ArgumentException or InvalidOperationException)
        {
            throw new MlModelException(ErrorCodes.Connector, $"{Subject()}: cannot set up the S3 client: {e.GetType().Name}", e);
        }
    }

    /// <inheritdoc />
    public string Description => $"s3://{bucket}/{prefix}";

    /// <summary>The bucket.</summary>
    public string Bucket => bucket;

    /// <summary>The key prefix of every object, "" or ending with '/'.</summary>
    public string Prefix => prefix;

    /// <summary>The AWS SDK client (for tests and benchmarks).</summary>
    internal IAmazonS3 Client => client;

    /// <inheritdoc />
    public override string ToString() => Description;

    /// <summary>Disposes the AWS SDK client.</summary>
    public void Dispose() => client.Dispose();

    /// <inheritdoc />
    public async Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default)
    {
        var objectKey = ObjectKey(key);
        try
        {
            var response = await client.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = objectKey }, cancellationToken);
            return new S3ReadStream(this, key, response);
        }
        catch (AmazonS3Exception e) when (!bucketSeen && (int)e.StatusCode is 400 or 404 && e.ErrorCode is null or "" or "BadRequest" or "NotFound")
        {
            // No S3 error code to go by (Ceph's gateway answered a GET in a missing bucket with a
            // bare 400 in one CI run): a missing bucket must still be named as such, so ask once.
            await CheckBucketAsync(key, cancellationToken);
            throw Translate(e, key, "read", cancellationToken)!;
        }
        catch (Exception e) when (Translate(e, key, "read", cancellationToken) is { } mapped)
        {
            throw mapped;
        }
    }

    /// <inheritdoc />
    public async Task<ObjectInfo?> StatAsync(string key, CancellationToken cancellationToken = default)
    {
        var objectKey = ObjectKey(key);
        try
        {
            var response = await client.GetObjectMetadataAsync(
                new GetObjectMetadataRequest { BucketName = bucket, Key = objectKey }, cancellationToken);
            return new ObjectInfo(key, response.ContentLength, Utc(response.LastModified));
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket")
        {
            // A HEAD's 404 has no body to tell a missing object from a missing bucket: ask once.
            await CheckBucketAsync(key, cancellationToken);
            return null;
        }
        catch (Exception e) when (Translate(e, key, "stat", cancellationToken) is { } mapped)
        {
            throw mapped;
        }
    }

    private async Task CheckBucketAsync(string key, CancellationToken cancellationToken)
    {
        if (bucketSeen)
        {
            return;
        }

        try
        {
            // A listing's error has a body: NoSuchBucket when the bucket is missing.
            await client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Prefix = prefix, MaxKeys = 1 }, cancellationToken);
        }
        catch (Exception e) when (Translate(e, key, "stat", cancellationToken) is { } mapped)
        {
            throw mapped;
        }

        bucketSeen = true;
    }

    /// <inheritdoc />
    public async Task PutAsync(string key, Stream content, long? length, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        var objectKey = ObjectKey(key);
        if (length < 0)
        {
            throw new MlModelException(ErrorCodes.InvalidValue, $"the length of object '{ObjectKeyRules.Printable(key)}' must not be negative");
        }

        if (length is { } small && small < threshold)
        {
            await PutSmallAsync(key, objectKey, content, small, cancellationToken);
            return;
        }

        // Parts: at least PartSize, and large enough for the whole object to fit in 10,000 of them.
        var size = partSize;
        if (length is { } known && (known + size - 1) / size > S3StoreOptions.MaxParts)
        {
            size = (int)Math.Min(S3StoreOptions.MaxPartSize, (known + S3StoreOptions.MaxParts - 1) / S3StoreOptions.MaxParts);
        }

        using var upload = new S3MultipartUpload(this, key, objectKey, size, maxConcurrentParts, cancellationToken);
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
                if (first && read < size && length is null && read < threshold)
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
        using var upload = new S3MultipartUpload(this, key, objectKey, partSize, maxConcurrentParts, cancellationToken);
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
            if (!upload.Started && count < Math.Max(threshold, 1))
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

    /// <inheritdoc />
    public async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        prefix ??= "";
        ObjectKeyRules.ValidatePrefix(prefix);
        string? token = null;
        do
        {
            var page = await ListPageAsync(prefix, token, cancellationToken);
            foreach (var item in page.S3Objects ?? [])
            {
                yield return new ObjectInfo(item.Key[this.prefix.Length..], item.Size ?? 0, Utc(item.LastModified));
            }

            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (!string.IsNullOrEmpty(token));
    }

    /// <summary>Marks an unfinished upload's id in the keys <see cref="ListTemporaryAsync"/> gives.</summary>
    private const string UploadMarker = "#upload=";

    /// <summary>
    /// Multipart uploads under <paramref name="prefix"/> that were started and neither completed nor
    /// aborted: an export or import killed mid-write leaves one, invisible to listings but holding
    /// its parts' storage. Each is given as <c>&lt;key&gt;#upload=&lt;upload id&gt;</c> with the time
    /// it was started, so that <see cref="DeleteTemporaryAsync"/> aborts exactly that upload.
    /// </summary>
    public async IAsyncEnumerable<ObjectInfo> ListTemporaryAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        prefix ??= "";
        ObjectKeyRules.ValidatePrefix(prefix);
        string? keyMarker = null, uploadMarker = null;
        while (true)
        {
            ListMultipartUploadsResponse page;
            try
            {
                page = await client.ListMultipartUploadsAsync(new ListMultipartUploadsRequest
                {
                    BucketName = bucket,
                    Prefix = this.prefix + prefix,
                    KeyMarker = keyMarker,
                    UploadIdMarker = uploadMarker,
                }, cancellationToken);
            }
            catch (Exception e) when (Translate(e, prefix, "list uploads", cancellationToken) is { } mapped)
            {
                throw mapped;
            }
            foreach (var upload in page.MultipartUploads ?? [])
            {
                yield return new ObjectInfo(upload.Key[this.prefix.Length..] + UploadMarker + upload.UploadId, 0, Utc(upload.Initiated));
            }
            if (page.IsTruncated != true)
            {
                break;
            }
            (keyMarker, uploadMarker) = (page.NextKeyMarker, page.NextUploadIdMarker);
        }
    }

    /// <summary>Aborts an unfinished multipart upload that <see cref="ListTemporaryAsync"/> gave.</summary>
    public async Task DeleteTemporaryAsync(string key, CancellationToken cancellationToken = default)
    {
        var marker = key.LastIndexOf(UploadMarker, StringComparison.Ordinal);
        if (marker < 0)
        {
            throw ObjectKeyRules.Invalid(key, "not an unfinished upload (it has no upload id)");
        }
        var objectKey = ObjectKey(key[..marker]);
        try
        {
            await client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest
            {
                BucketName = bucket,
                Key = objectKey,
                UploadId = key[(marker + UploadMarker.Length)..],
            }, cancellationToken);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket")
        {
            // Completed or aborted meanwhile.
        }
        catch (Exception e) when (Translate(e, key, "abort upload", cancellationToken) is { } mapped)
        {
            throw mapped;
        }
    }

    /// <inheritdoc />
    public async Task DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        var objectKey = ObjectKey(key);
        try
        {
            await client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = bucket, Key = objectKey }, cancellationToken);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket")
        {
            // Already gone.
        }
        catch (Exception e) when (Translate(e, key, "delete", cancellationToken) is { } mapped)
        {
            throw mapped;
        }
    }

    /// <inheritdoc />
    public async Task DeletePrefixAsync(string prefix, CancellationToken cancellationToken = default)
    {
        prefix ??= "";
        ObjectKeyRules.ValidatePrefix(prefix);
        string? token = null;
        do
        {
            // Each page (at most 1000 keys) is deleted with one DeleteObjects request.
            var page = await ListPageAsync(prefix, token, cancellationToken);
            var keys = (page.S3Objects ?? []).Select(o => o.Key).ToList();
            if (keys.Count > 0)
            {
                await DeleteKeysAsync(prefix, keys, cancellationToken);
            }

            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (!string.IsNullOrEmpty(token));

        // Unfinished uploads too: a version's prefix goes whole, with what a killed write left in it.
        await foreach (var upload in ListTemporaryAsync(prefix, cancellationToken))
        {
            await DeleteTemporaryAsync(upload.Key, cancellationToken);
        }
    }

    /// <inheritdoc />
    public async Task<Uri> GetDownloadUrlAsync(string key, TimeSpan expiry, CancellationToken cancellationToken = default)
    {
        var objectKey = ObjectKey(key);
        if (expiry <= TimeSpan.Zero || expiry > MaxPresignExpiry)
        {
            throw new MlModelException(ErrorCodes.InvalidValue,
                $"a download URL must expire after more than 0 seconds and at most 7 days, not {expiry}");
        }

        if (await StatAsync(key, cancellationToken) is null)
        {
            throw NotFound(key);
        }

        try
        {
            var url = await client.GetPreSignedURLAsync(new GetPreSignedUrlRequest
            {
                BucketName = bucket,
                Key = objectKey,
                Verb = HttpVerb.GET,
                Expires = DateTime.UtcNow.Add(expiry),
                Protocol = protocol,
            });
            return new Uri(url, UriKind.Absolute);
        }
        catch (Exception e) when (Translate(e, key, "presign", cancellationToken) is { } mapped)
        {
            throw mapped;
        }
    }

    // ------------------------------------------------------------------ requests

    private async Task PutSmallAsync(string key, string objectKey, Stream content, long length, CancellationToken cancellationToken)
    {
        var size = (int)length;
        var buffer = buffers.Rent(size + 1);
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
            buffers.Return(buffer);
        }
    }

    private async Task PutBufferAsync(string key, string objectKey, byte[] buffer, int count, CancellationToken cancellationToken)
    {
        try
        {
            using var body = new MemoryStream(buffer, 0, count, writable: false);
            await client.PutObjectAsync(new PutObjectRequest
            {
                BucketName = bucket,
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

    private async Task<ListObjectsV2Response> ListPageAsync(string listPrefix, string? token, CancellationToken cancellationToken)
    {
        try
        {
            return await client.ListObjectsV2Async(new ListObjectsV2Request
            {
                BucketName = bucket,
                Prefix = prefix + listPrefix,
                ContinuationToken = token,
            }, cancellationToken);
        }
        catch (Exception e) when (Translate(e, listPrefix, "list", cancellationToken) is { } mapped)
        {
            throw mapped;
        }
    }

    private async Task DeleteKeysAsync(string listPrefix, List<string> objectKeys, CancellationToken cancellationToken)
    {
        DeleteObjectsResponse response;
        try
        {
            response = await client.DeleteObjectsAsync(new DeleteObjectsRequest
            {
                BucketName = bucket,
                Objects = objectKeys.Select(k => new KeyVersion { Key = k }).ToList(),
                Quiet = true,
            }, cancellationToken);
        }
        catch (Exception e) when (Translate(e, listPrefix, "delete", cancellationToken) is { } mapped)
        {
            throw mapped;
        }

        var errors = response.DeleteErrors ?? [];
        var failed = errors.Where(error => error.Code != "NoSuchKey").ToList();
        if (failed.Count > 0)
        {
            var first = failed[0];
            throw new MlModelException(ErrorCodes.Backend,
                $"could not delete {failed.Count} object(s) under '{ObjectKeyRules.Printable(listPrefix)}' in {Description}: "
                + $"'{ObjectKeyRules.Printable(first.Key[prefix.Length..])}': {first.Code} {first.Message}");
        }
    }

    /// <summary>The store's part buffers.</summary>
    internal PartBufferPool Buffers => buffers;

    /// <summary>Starts a multipart upload; returns its id.</summary>
    internal async Task<string> InitiateMultipartAsync(string objectKey, CancellationToken cancellationToken)
    {
        var response = await client.InitiateMultipartUploadAsync(
            new InitiateMultipartUploadRequest { BucketName = bucket, Key = objectKey }, cancellationToken);
        return response.UploadId;
    }

    /// <summary>Uploads one part; returns its ETag.</summary>
    internal async Task<string> UploadPartAsync(string objectKey, string uploadId, int number, byte[] buffer, int count, CancellationToken cancellationToken)
    {
        using var body = new MemoryStream(buffer, 0, count, writable: false);
        var response = await client.UploadPartAsync(new UploadPartRequest
        {
            BucketName = bucket,
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
        client.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
        {
            BucketName = bucket,
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
            await client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest
            {
                BucketName = bucket,
                Key = objectKey,
                UploadId = uploadId,
            }, timeout.Token);
        }
        catch (Exception)
        {
            // Best effort (the bucket may be gone, the server down): the upload stays pending on the server; a bucket lifecycle rule (AbortIncompleteMultipartUpload) reclaims it.
        }
    }

    // ------------------------------------------------------------------ keys and errors

    private string ObjectKey(string key)
    {
        ObjectKeyRules.ValidateKey(key);
        return prefix + key;
    }

    private static string NormalizePrefix(string? value, string subject)
    {
        var trimmed = (value ?? "").Trim().Trim('/');
        if (trimmed.Length == 0)
        {
            return "";
        }

        try
        {
            ObjectKeyRules.ValidateKey(trimmed);
        }
        catch (MlModelException e)
        {
            throw new MlModelException(ErrorCodes.Connector, $"{subject}: the prefix '{ObjectKeyRules.Printable(trimmed)}' is not usable: {e.Message}", e);
        }

        return trimmed + "/";
    }

    private static DateTime Utc(DateTime? time) =>
        time is { } t ? (t.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(t, DateTimeKind.Utc) : t.ToUniversalTime()) : DateTime.UnixEpoch;

    /// <summary>The endpoint without user info, query or fragment, for messages.</summary>
    internal static string? SafeEndpoint(string? url)
    {
        if (string.IsNullOrWhiteSpace(url))
        {
            return null;
        }

        return Uri.TryCreate(url.Trim(), UriKind.Absolute, out var uri)
            ? uri.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped)
            : "(not a URL)";
    }

    internal MlModelException NotFound(string key) =>
        new(ErrorCodes.NotFound, $"object '{ObjectKeyRules.Printable(key)}' not found in {Description}");

    private static MlModelException LengthMismatch(string key, long expected, long actual) =>
        new(ErrorCodes.InvalidValue, actual > expected
            ? $"object '{ObjectKeyRules.Printable(key)}' was declared as {expected} bytes but its content is longer"
            : $"object '{ObjectKeyRules.Printable(key)}' was declared as {expected} bytes but its content has {actual}");

    /// <summary>
    /// The MlModel error for a failure, or null when the exception should travel as it is (an
    /// MlModel error already, or cancellation the caller asked for).
    /// </summary>
    internal MlModelException? Translate(Exception e, string key, string operation, CancellationToken cancellationToken)
    {
        if (e is MlModelException)
        {
            return null;
        }

        if (e is OperationCanceledException && cancellationToken.IsCancellationRequested)
        {
            return null;
        }

        if (e is AmazonServiceException service && (int)service.StatusCode >= 100)
        {
            var code = service.ErrorCode ?? "";
            var status = (int)service.StatusCode;
            if (code is "NoSuchBucket")
            {
                return new MlModelException(ErrorCodes.Connector, $"the bucket of {who} does not exist on the server", e);
            }

            if (code is "NoSuchKey" || (status == 404 && code is not "NoSuchUpload"))
            {
                return NotFound(key);
            }

            if (code is "AccessDenied" or "InvalidAccessKeyId" or "SignatureDoesNotMatch" or "InvalidToken" or "ExpiredToken"
                || status is 401 or 403)
            {
                return new MlModelException(ErrorCodes.Connector,
                    $"the server refused the credentials for {who} ({(code.Length > 0 ? code : "HTTP " + status)})", e);
            }

            return new MlModelException(ErrorCodes.Backend,
                $"S3 {operation} of '{ObjectKeyRules.Printable(key)}' in {Description} failed: {(code.Length > 0 ? code : "HTTP " + status)}: {service.Message}", e);
        }

        if (IsUnreachable(e))
        {
            var innermost = Innermost(e);
            var reason = innermost is OperationCanceledException or TimeoutException ? "the request timed out" : innermost.Message;
            return new MlModelException(ErrorCodes.Connector,
                $"cannot reach the S3 endpoint {endpoint ?? "(AWS)"} for {who}: {reason}", e);
        }

        if (e is AmazonClientException)
        {
            return new MlModelException(ErrorCodes.Connector,
                $"the S3 client for {who} failed before reaching the server: {e.Message}", e);
        }

        return new MlModelException(ErrorCodes.Backend,
            $"S3 {operation} of '{ObjectKeyRules.Printable(key)}' in {Description} failed: {e.GetType().Name}: {e.Message}", e);
    }

    private static bool IsUnreachable(Exception e)
    {
        for (var current = e; current is not null; current = current.InnerException)
        {
            if (current is HttpRequestException or SocketException or TimeoutException or OperationCanceledException or IOException)
            {
                return true;
            }
        }

        return false;
    }

    private static Exception Innermost(Exception e)
    {
        var current = e;
        while (current.InnerException is not null)
        {
            current = current.InnerException;
        }

        return current;
    }
}
