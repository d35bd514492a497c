namespace MlModel.Dsl.Storage.S3;

/// <summary>
/// Where and how an <see cref="S3ObjectStore"/> stores objects. <see cref="ToString"/> never shows
/// the credentials.
/// </summary>
public sealed class S3StoreOptions
{
    /// <summary>The smallest part S3 accepts (all parts but the last).</summary>
    public const int MinPartSize = 5 * 1024 * 1024;

    /// <summary>The largest part this store buffers (the limit of one array).</summary>
    public const int MaxPartSize = 1024 * 1024 * 1024;

    /// <summary>The most parts a multipart upload may have.</summary>
    public const int MaxParts = 10_000;

    /// <summary>
    /// The endpoint, <c>http://127.0.0.1:7480</c> or <c>https://s3.example.org</c>; null for AWS S3
    /// in <see cref="Region"/>. Presigned URLs use the endpoint's scheme.
    /// </summary>
    public string? ServiceUrl { get; set; }

    /// <summary>The region requests are signed for; <c>us-east-1</c> by default (what Ceph and most S3 servers expect).</summary>
    public string Region { get; set; } = "us-east-1";

    /// <summary>The bucket (required; the store does not create it).</summary>
    public string Bucket { get; set; } = "";

    /// <summary>An optional key prefix under which the store keeps its objects (<c>team-a/models</c>); '/'-separated.</summary>
    public string? Prefix { get; set; }

    /// <summary>The access key id; with <see cref="SecretKey"/>, or both null for the AWS SDK's default credential chain.</summary>
    public string? AccessKey { get; set; }

    /// <summary>The secret access key. Never shown in messages or <see cref="ToString"/>.</summary>
    public string? SecretKey { get; set; }

    /// <summary>Path-style addressing (<c>endpoint/bucket/key</c>); true by default, as S3-compatible servers need.</summary>
    public bool ForcePathStyle { get; set; } = true;

    /// <summary>
    /// Objects of a known length below this many bytes go up in one PUT (buffered in memory, so this
    /// also bounds that buffer); larger ones, and those of unknown length that exceed one part, as
    /// multipart uploads. 8 MiB by default, as the AWS CLI's <c>multipart_threshold</c>.
    /// </summary>
    public long MultipartThreshold { get; set; } = 8 * 1024 * 1024;

    /// <summary>
    /// Bytes per part of a multipart upload; 8 MiB by default (the AWS CLI's
    /// <c>multipart_chunksize</c>), at least 5 MiB. Raised for an object of known length that would
    /// otherwise need more than 10,000 parts. With 16 MiB parts a whole-process import or export
    /// of a 1 GiB model through the S3 store peaked at 151 MB (RSS); 8 MiB parts keep it at about
    /// 137 MB, under the 150 MB goal, for a few percent of speed on a local gateway
    /// (docs/performance.md).
    /// </summary>
    public int PartSize { get; set; } = 8 * 1024 * 1024;

    /// <summary>
    /// Part buffers an upload may hold at once, the one being filled included, which is also the
    /// most parts in flight: an upload's memory is at most <see cref="PartSize"/> × this. 2 by
    /// default (one part uploading while the next fills, or both uploading while the producer
    /// waits): against a local Ceph gateway this was as fast as 3 or 4 and kept a 1 GiB upload's
    /// process under 150 MB (bench/Storage). Raise it for high-latency links.
    /// </summary>
    public int MaxConcurrentParts { get; set; } = 2;

    /// <summary>The connector id, for messages (<c>the server refused the credentials for connector 'x'</c>); optional.</summary>
    public string? ConnectorId { get; set; }

    /// <summary>How long a TCP connection attempt may take; 10 s by default.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long one HTTP request (one part, one GET's headers) may take; null for the AWS SDK's default.</summary>
    public TimeSpan? RequestTimeout { get; set; }

    /// <summary>Shows where the store is, never the credentials.</summary>
    public override string ToString() =>
        $"S3StoreOptions {{ ServiceUrl = {S3ObjectStore.SafeEndpoint(ServiceUrl) ?? "(AWS)"}, Region = {Region}, Bucket = {Bucket}, Prefix = {Prefix}, "
        + $"AccessKey = {(AccessKey is null ? "(none)" : "***")}, SecretKey = {(SecretKey is null ? "(none)" : "***")}, ForcePathStyle = {ForcePathStyle}, "
        + $"MultipartThreshold = {MultipartThreshold}, PartSize = {PartSize}, MaxConcurrentParts = {MaxConcurrentParts} }}";
}
