using System.Net;
using System.Runtime.CompilerServices;
using Amazon.S3;
using Amazon.S3.Model;

namespace MlModel.Dsl.Storage.S3;

// Listing and deleting: pages of keys under a prefix, unfinished multipart uploads as temporary objects, batched deletes.
public sealed partial class S3ObjectStore
{
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
                yield return new ObjectInfo(item.Key[_prefix.Length..], item.Size ?? 0, Utc(item.LastModified));
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
                page = await _client.ListMultipartUploadsAsync(new ListMultipartUploadsRequest
                {
                    BucketName = _bucket,
                    Prefix = _prefix + prefix,
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
                yield return new ObjectInfo(upload.Key[_prefix.Length..] + UploadMarker + upload.UploadId, 0, Utc(upload.Initiated));
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
            await _client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest
            {
                BucketName = _bucket,
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
            await _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _bucket, Key = objectKey }, cancellationToken);
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

    private async Task<ListObjectsV2Response> ListPageAsync(string listPrefix, string? token, CancellationToken cancellationToken)
    {
        try
        {
            return await _client.ListObjectsV2Async(new ListObjectsV2Request
            {
                BucketName = _bucket,
                Prefix = _prefix + listPrefix,
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
            response = await _client.DeleteObjectsAsync(new DeleteObjectsRequest
            {
                BucketName = _bucket,
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
                + $"'{ObjectKeyRules.Printable(first.Key[_prefix.Length..])}': {first.Code} {first.Message}");
        }
    }
}
