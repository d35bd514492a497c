// The baseline of bench/Transfer/s3.sh: the bytes that `mlmodel import` and `mlmodel export` move
// on S3, moved by the raw AWS SDK in a process of its own, so that wall time and peak RSS compare
// with the whole `mlmodel` process (both pay the .NET start-up and the SDK's set-up).
//
//   s3baseline import SRC_BUCKET ARCHIVE_KEY DST_BUCKET DST_PREFIX
//   s3baseline export SRC_BUCKET SRC_PREFIX DST_BUCKET DST_KEY
//   s3baseline mkbucket BUCKET | put BUCKET KEY FILE | count BUCKET PREFIX | delete-prefix BUCKET PREFIX
//              | delete-bucket BUCKET (empties it first)
//
// The server and credentials come from MLMODEL_TEST_S3_ENDPOINT, MLMODEL_TEST_S3_ACCESS_KEY and
// MLMODEL_TEST_S3_SECRET_KEY (scripts/services.sh writes them to .tmp/services/services.env).
//
// What is the fairest equivalent of what the CLI does?
// - import: `mlmodel import` streams the archive from the connector (one GetObject), reads it as
//   a tar as it arrives, and writes every file as an object of its own, one after another: files
//   under 16 MiB in one PutObject, larger ones as a multipart upload of 16 MiB parts with at most
//   two parts in flight (S3ObjectStore's defaults). On top of that it validates the archive,
//   hashes every file (SHA-256), stages and commits in SQLite. The baseline does only the
//   transfer, with the same shape: one GetObject of the archive read by System.Formats.Tar's
//   TarReader as it streams, and one object per file written the same way (PutObject below
//   16 MiB, multipart with 16 MiB parts, two in flight, above). So the same number of requests
//   carry the same bytes, nothing touches the disk, and memory stays bounded as in the store; the
//   ratio is the cost of what mlmodel adds, not of a different transfer design. (Downloading the
//   archive to disk and uploading its unpacked files, or TransferUtility with its 10 parallel
//   parts, would measure a disk round trip or a concurrency the store does not use: bench/Storage
//   compares the store with TransferUtility object by object.)
// - export: `mlmodel export` reads the version's files one after another (one GetObject each)
//   and streams them as a tar into one multipart upload (16 MiB parts, two in flight). The
//   baseline lists the version's objects and does the same with TarWriter, without the manifest
//   and without re-checking SHA-256.

using System.Collections.Concurrent;
using System.Formats.Tar;
using System.Globalization;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Amazon.S3.Transfer;

if (args.Length == 0)
{
    await Console.Error.WriteLineAsync("usage: s3baseline import|export|mkbucket|put|count|delete-prefix|delete-bucket ... (see Program.cs)");
    return 2;
}

using var s3 = new AmazonS3Client(
    new BasicAWSCredentials(Env("MLMODEL_TEST_S3_ACCESS_KEY"), Env("MLMODEL_TEST_S3_SECRET_KEY")),
    new AmazonS3Config
    {
        ServiceURL = Env("MLMODEL_TEST_S3_ENDPOINT"),
        ForcePathStyle = true,
        AuthenticationRegion = "us-east-1",
        // As in S3ObjectStore: Ceph rejects the SDK's default trailing CRC checksums.
        RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
        ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
    });

switch (args[0])
{
    case "import" when args.Length == 5:
        {
            var (files, bytes) = await Transfers.ImportAsync(s3, args[1], args[2], args[3], args[4]);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"import: {files} files, {bytes} bytes"));
            return 0;
        }
    case "export" when args.Length == 5:
        {
            var (files, bytes) = await Transfers.ExportAsync(s3, args[1], args[2], args[3], args[4]);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"export: {files} files, {bytes} bytes of files"));
            return 0;
        }
    case "mkbucket" when args.Length == 2:
        try
        {
            await s3.PutBucketAsync(new PutBucketRequest { BucketName = args[1] });
        }
        catch (AmazonS3Exception e) when (e.ErrorCode is "BucketAlreadyOwnedByYou" or "BucketAlreadyExists")
        {
        }
        return 0;
    case "put" when args.Length == 4:
        using (var transfer = new TransferUtility(s3))
        {
            await transfer.UploadAsync(new TransferUtilityUploadRequest { BucketName = args[1], Key = args[2], FilePath = args[3], PartSize = Transfers.PartSize });
        }
        return 0;
    case "count" when args.Length == 3:
        {
            long count = 0, bytes = 0;
            await foreach (var o in Transfers.ListAsync(s3, args[1], args[2]))
            {
                count++;
                bytes += o.Size ?? 0;
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{count} {bytes}"));
            return 0;
        }
    case "delete-prefix" when args.Length == 3:
    case "delete-bucket" when args.Length == 2:
        {
            var prefix = args.Length == 3 ? args[2] : "";
            var batch = new List<KeyVersion>();
            async Task FlushAsync()
            {
                if (batch.Count > 0)
                {
                    await s3.DeleteObjectsAsync(new DeleteObjectsRequest { BucketName = args[1], Objects = batch, Quiet = true });
                    batch = [];
                }
            }
            // Collect first: deleting while listing would move the listing's pages under it.
            var keys = new List<string>();
            await foreach (var o in Transfers.ListAsync(s3, args[1], prefix))
            {
                keys.Add(o.Key);
            }
            foreach (var key in keys)
            {
                batch.Add(new KeyVersion { Key = key });
                if (batch.Count == 1000)
                {
                    await FlushAsync();
                }
            }
            await FlushAsync();
            if (args[0] == "delete-bucket")
            {
                await s3.DeleteBucketAsync(args[1]);
            }
            return 0;
        }
    default:
        await Console.Error.WriteLineAsync($"s3baseline: bad arguments: {string.Join(' ', args)}");
        return 2;
}

static string Env(string name) =>
    Environment.GetEnvironmentVariable(name) is { Length: > 0 } v
        ? v
        : throw new InvalidOperationException($"{name} is not set: run scripts/services.sh start and source .tmp/services/services.env");

/// <summary>The two timed transfers and the uploads they share.</summary>
internal static class Transfers
{
    /// <summary>Part size and single-PUT threshold: S3ObjectStore's defaults.</summary>
    public const int PartSize = 16 << 20;

    /// <summary>Parts in flight (buffers held) per upload: S3ObjectStore's default MaxConcurrentParts.</summary>
    public const int PartsInFlight = 2;

    public static async Task<(int Files, long Bytes)> ImportAsync(IAmazonS3 s3, string sourceBucket, string archiveKey, string bucket, string prefix)
    {
        using var response = await s3.GetObjectAsync(sourceBucket, archiveKey);
        await using var reader = new TarReader(response.ResponseStream);
        using var buffers = new BufferPool(PartSize, PartsInFlight);
        var files = 0;
        long bytes = 0;
        while (await reader.GetNextEntryAsync(copyData: false) is { } entry)
        {
            if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile))
            {
                continue;
            }
            await UploadAsync(s3, bucket, prefix + entry.Name, entry.DataStream ?? Stream.Null, entry.Length, buffers);
            files++;
            bytes += entry.Length;
        }
        return (files, bytes);
    }

    public static async Task<(int Files, long Bytes)> ExportAsync(IAmazonS3 s3, string sourceBucket, string prefix, string bucket, string key)
    {
        var objects = new List<S3Object>();
        await foreach (var o in ListAsync(s3, sourceBucket, prefix))
        {
            objects.Add(o);
        }
        objects.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        long bytes = 0;
        using var buffers = new BufferPool(PartSize, PartsInFlight);
        await using (var upload = new MultipartWriteStream(s3, bucket, key, buffers))
        {
            await using (var tar = new TarWriter(upload, TarEntryFormat.Pax, leaveOpen: true))
            {
                foreach (var o in objects)
                {
                    using var get = await s3.GetObjectAsync(sourceBucket, o.Key);
                    var entry = new PaxTarEntry(TarEntryType.RegularFile, o.Key[prefix.Length..])
                    {
                        DataStream = new KnownLengthStream(get.ResponseStream, o.Size ?? 0),
                    };
                    await tar.WriteEntryAsync(entry);
                    bytes += o.Size ?? 0;
                }
            }
            await upload.CompleteAsync();
        }
        return (objects.Count, bytes);
    }

    /// <summary>One object from a stream of known length: PutObject below <see cref="PartSize"/>, else a multipart upload.</summary>
    private static async Task UploadAsync(IAmazonS3 s3, string bucket, string key, Stream content, long length, BufferPool buffers)
    {
        if (length < PartSize)
        {
            var buffer = await buffers.RentAsync();
            try
            {
                await content.ReadExactlyAsync(buffer.AsMemory(0, (int)length));
                await s3.PutObjectAsync(new PutObjectRequest
                {
                    BucketName = bucket,
                    Key = key,
                    InputStream = new MemoryStream(buffer, 0, (int)length, writable: false),
                });
            }
            finally
            {
                buffers.Return(buffer);
            }
            return;
        }

        var upload = new MultipartUpload(s3, bucket, key, buffers);
        try
        {
            for (var left = length; left > 0;)
            {
                var buffer = await buffers.RentAsync();
                var n = (int)Math.Min(PartSize, left);
                try
                {
                    await content.ReadExactlyAsync(buffer.AsMemory(0, n));
                }
                catch
                {
                    buffers.Return(buffer);
                    throw;
                }
                await upload.SubmitAsync(buffer, n);
                left -= n;
            }
            await upload.CompleteAsync();
        }
        catch
        {
            await upload.AbortAsync();
            throw;
        }
    }

    public static async IAsyncEnumerable<S3Object> ListAsync(IAmazonS3 s3, string bucket, string prefix)
    {
        string? token = null;
        do
        {
            var page = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Prefix = prefix, ContinuationToken = token });
            foreach (var o in page.S3Objects ?? [])
            {
                yield return o;
            }
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (token is not null);
    }
}

/// <summary>At most <c>count</c> buffers of one size, made on first need; renting waits while all are out.</summary>
internal sealed class BufferPool(int size, int count) : IDisposable
{
    private readonly SemaphoreSlim _available = new(count, count);
    private readonly ConcurrentBag<byte[]> _free = [];

    public async Task<byte[]> RentAsync()
    {
        await _available.WaitAsync();
        return _free.TryTake(out var buffer) ? buffer : new byte[size];
    }

    public void Return(byte[] buffer)
    {
        _free.Add(buffer);
        _available.Release();
    }

    public void Dispose() => _available.Dispose();
}

/// <summary>A multipart upload whose parts go up in the background, each returning its buffer to the pool when done.</summary>
internal sealed class MultipartUpload(IAmazonS3 s3, string bucket, string key, BufferPool buffers)
{
    private readonly List<Task<PartETag>> _parts = [];
    private string? _uploadId;

    public bool Started => _uploadId is not null;

    public async Task SubmitAsync(byte[] buffer, int count)
    {
        _uploadId ??= (await s3.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = bucket, Key = key })).UploadId;
        var number = _parts.Count + 1;
        _parts.Add(UploadPartAsync(_uploadId, number, buffer, count));
    }

    private async Task<PartETag> UploadPartAsync(string uploadId, int number, byte[] buffer, int count)
    {
        try
        {
            var response = await s3.UploadPartAsync(new UploadPartRequest
            {
                BucketName = bucket,
                Key = key,
                UploadId = uploadId,
                PartNumber = number,
                PartSize = count,
                InputStream = new MemoryStream(buffer, 0, count, writable: false),
            });
            return new PartETag(number, response.ETag);
        }
        finally
        {
            buffers.Return(buffer);
        }
    }

    public async Task CompleteAsync()
    {
        var etags = await Task.WhenAll(_parts);
        await s3.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
        {
            BucketName = bucket,
            Key = key,
            UploadId = _uploadId,
            PartETags = [.. etags],
        });
    }

    public async Task AbortAsync()
    {
        if (_uploadId is null)
        {
            return;
        }
        try
        {
            await Task.WhenAll(_parts);
        }
        catch (AmazonServiceException)
        {
        }
        await s3.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = bucket, Key = key, UploadId = _uploadId });
    }
}

/// <summary>A write-only stream that becomes one object: a single PutObject if it ends within the first buffer, else a multipart upload.</summary>
internal sealed class MultipartWriteStream(IAmazonS3 s3, string bucket, string key, BufferPool buffers) : Stream
{
    private readonly MultipartUpload _upload = new(s3, bucket, key, buffers);
    private byte[]? _buffer;
    private int _filled;
    private long _written;
    private bool _completed;

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _written; set => throw new NotSupportedException(); }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        while (data.Length > 0)
        {
            _buffer ??= await buffers.RentAsync();
            var n = Math.Min(data.Length, _buffer.Length - _filled);
            data.Span[..n].CopyTo(_buffer.AsSpan(_filled));
            _filled += n;
            _written += n;
            data = data[n..];
            if (_filled == _buffer.Length)
            {
                await _upload.SubmitAsync(_buffer, _filled);
                _buffer = null;
                _filled = 0;
            }
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();

    public async Task CompleteAsync()
    {
        if (!_upload.Started)
        {
            await s3.PutObjectAsync(new PutObjectRequest
            {
                BucketName = bucket,
                Key = key,
                InputStream = new MemoryStream(_buffer ?? [], 0, _filled, writable: false),
            });
        }
        else
        {
            if (_filled > 0)
            {
                await _upload.SubmitAsync(_buffer!, _filled);
                _buffer = null;
                _filled = 0;
            }
            await _upload.CompleteAsync();
        }
        _completed = true;
        ReturnBuffer();
    }

    /// <summary>Without <see cref="CompleteAsync"/> (a failure), the upload is aborted: nothing is left behind.</summary>
    public override async ValueTask DisposeAsync()
    {
        if (!_completed)
        {
            await _upload.AbortAsync();
            _completed = true;
        }
        ReturnBuffer();
        await base.DisposeAsync();
    }

    private void ReturnBuffer()
    {
        if (_buffer is not null)
        {
            buffers.Return(_buffer);
            _buffer = null;
        }
    }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}

/// <summary>
/// Reads a response stream whose length is known. It reports <see cref="CanSeek"/> with a fixed
/// <see cref="Length"/> because TarWriter needs an entry's size before its bytes; it never seeks
/// (the same device as the core's HashingStream).
/// </summary>
internal sealed class KnownLengthStream(Stream inner, long length) : Stream
{
    private long _position;

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length => length;
    public override long Position { get => _position; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = inner.Read(buffer[..(int)Math.Min(buffer.Length, length - _position)]);
        _position += n;
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await inner.ReadAsync(buffer[..(int)Math.Min(buffer.Length, length - _position)], cancellationToken);
        _position += n;
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
