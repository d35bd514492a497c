using Amazon.S3.Model;

namespace MlModel.Dsl.Storage.S3;

/// <summary>
/// The body of a GET, read straight from the connection (nothing is buffered beyond the HTTP
/// stack's own buffers); failures while reading become <see cref="MlModelException"/>s, and
/// disposing it releases the response.
/// </summary>
internal sealed class S3ReadStream(S3ObjectStore store, string key, GetObjectResponse response) : Stream
{
    private readonly Stream _body = response.ResponseStream;
    private long _position;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;

    /// <summary>The object's size, from the response headers.</summary>
    public override long Length => response.ContentLength;

    /// <summary>Bytes read so far; cannot be set.</summary>
    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException("an S3 object's stream cannot seek");
    }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        try
        {
            var n = _body.Read(buffer);
            _position += n;
            return n;
        }
        catch (Exception e) when (store.Translate(e, key, "read", CancellationToken.None) is { } mapped)
        {
            throw mapped;
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            var n = await _body.ReadAsync(buffer, cancellationToken);
            _position += n;
            return n;
        }
        catch (Exception e) when (store.Translate(e, key, "read", cancellationToken) is { } mapped)
        {
            throw mapped;
        }
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("an S3 object's stream cannot seek");
    public override void SetLength(long value) => throw new NotSupportedException("an S3 object's stream is read-only");
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("an S3 object's stream is read-only");

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            response.Dispose();
        }

        base.Dispose(disposing);
    }
}
