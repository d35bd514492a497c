using Amazon;
using Amazon.Runtime;
using Amazon.S3;

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
public sealed partial class S3ObjectStore : IObjectStore, IDisposable
{
    private static readonly TimeSpan MaxPresignExpiry = TimeSpan.FromDays(7);

    private readonly AmazonS3Client _client;
    private readonly string _bucket;
    private readonly string _prefix;
    private readonly string? _endpoint;
    private readonly Protocol _protocol;
    private readonly long _threshold;
    private readonly int _partSize;
    private readonly int _maxConcurrentParts;
    private readonly string _who;
    private volatile bool _bucketSeen;
    private readonly PartBufferPool _buffers;

    /// <summary>Creates a store; throws <see cref="MlModelException"/> (<see cref="ErrorCodes.Connector"/>) for unusable options.</summary>
    public S3ObjectStore(S3StoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _bucket = options.Bucket?.Trim() ?? "";
        var connector = string.IsNullOrWhiteSpace(options.ConnectorId) ? null : options.ConnectorId;
        _who = connector is null ? $"bucket '{_bucket}'" : $"connector '{connector}' (bucket '{_bucket}')";
        string Subject() => connector is null ? "the S3 store" : $"connector '{connector}' (s3)";

        if (_bucket.Length == 0)
        {
            throw new MlModelException(ErrorCodes.Connector, $"{Subject()} needs a bucket");
        }

        _prefix = NormalizePrefix(options.Prefix, Subject());
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

            _endpoint = SafeEndpoint(options.ServiceUrl);
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

        _threshold = options.MultipartThreshold;
        _partSize = options.PartSize;
        _maxConcurrentParts = options.MaxConcurrentParts;
        // One length serves both the parts and the single-PUT buffer (threshold + 1 bytes, to
        // notice content longer than declared).
        _buffers = new PartBufferPool((int)Math.Max(_partSize, Math.Min(_threshold + 1, S3StoreOptions.MaxPartSize)), _maxConcurrentParts);
        _protocol = serviceUri is null || serviceUri.Scheme == Uri.UriSchemeHttps ? Protocol.HTTPS : Protocol.HTTP;

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

            _client = string.IsNullOrEmpty(options.AccessKey)
                ? new AmazonS3Client(config)
                : new AmazonS3Client(new BasicAWSCredentials(options.AccessKey, options.SecretKey), config);
        }
        catch (Exception e) when (e is AmazonClientException or ArgumentException or InvalidOperationException)
        {
            throw new MlModelException(ErrorCodes.Connector, $"{Subject()}: cannot set up the S3 client: {e.GetType().Name}", e);
        }
    }

    /// <inheritdoc />
    public string Description => $"s3://{_bucket}/{_prefix}";

    /// <summary>The bucket.</summary>
    public string Bucket => _bucket;

    /// <summary>The key prefix of every object, "" or ending with '/'.</summary>
    public string Prefix => _prefix;

    /// <summary>The AWS SDK client (for tests and benchmarks).</summary>
    internal IAmazonS3 Client => _client;

    /// <inheritdoc />
    public override string ToString() => Description;

    /// <summary>Disposes the AWS SDK client.</summary>
    public void Dispose() => _client.Dispose();

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
}
