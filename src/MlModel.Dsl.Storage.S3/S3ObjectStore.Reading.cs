using System.Net;
using Amazon.S3;
using Amazon.S3.Model;

namespace MlModel.Dsl.Storage.S3;

// Reading: objects, their sizes and presigned download URLs; a missing object is told apart from a missing bucket.
public sealed partial class S3ObjectStore
{
    /// <inheritdoc />
    public async Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default)
    {
        var objectKey = ObjectKey(key);
        try
        {
            var response = await _client.GetObjectAsync(new GetObjectRequest { BucketName = _bucket, Key = objectKey }, cancellationToken);
            return new S3ReadStream(this, key, response);
        }
        catch (AmazonS3Exception e) when (!_bucketSeen && (int)e.StatusCode is 400 or 404 && e.ErrorCode is null or "" or "BadRequest" or "NotFound")
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
            var response = await _client.GetObjectMetadataAsync(
                new GetObjectMetadataRequest { BucketName = _bucket, Key = objectKey }, cancellationToken);
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
        if (_bucketSeen)
        {
            return;
        }

        try
        {
            // A listing's error has a body: NoSuchBucket when the bucket is missing.
            await _client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = _bucket, Prefix = _prefix, MaxKeys = 1 }, cancellationToken);
        }
        catch (Exception e) when (Translate(e, key, "stat", cancellationToken) is { } mapped)
        {
            throw mapped;
        }

        _bucketSeen = true;
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
            var url = await _client.GetPreSignedURLAsync(new GetPreSignedUrlRequest
            {
                BucketName = _bucket,
                Key = objectKey,
                Verb = HttpVerb.GET,
                Expires = DateTime.UtcNow.Add(expiry),
                Protocol = _protocol,
            });
            return new Uri(url, UriKind.Absolute);
        }
        catch (Exception e) when (Translate(e, key, "presign", cancellationToken) is { } mapped)
        {
            throw mapped;
        }
    }

    private static DateTime Utc(DateTime? time) =>
        time is { } t ? (t.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(t, DateTimeKind.Utc) : t.ToUniversalTime()) : DateTime.UnixEpoch;
}
