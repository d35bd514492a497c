using MlModel.Dsl.Backends;

namespace MlModel.Dsl;

/// <summary>Who is asking: the requesting user of spec B.5.</summary>
/// <param name="User">The requesting user's name.</param>
/// <param name="IsAdministrator">Whether the host vouches that the user is an administrator.</param>
public sealed record MlModelCaller(string User, bool IsAdministrator = false);

/// <summary>Limits on what an imported archive may expand to (a gzip bomb stops at the first).</summary>
public sealed record ArchiveLimits
{
    /// <summary>Total bytes of all files after decompression; default 20 GiB.</summary>
    public long MaxExpandedBytes { get; init; } = 20L * 1024 * 1024 * 1024;

    /// <summary>Number of entries, directories included; default 100,000.</summary>
    public int MaxEntries { get; init; } = 100_000;

    /// <summary>
    /// How deep an entry's path may be, counted in names (<c>a/b/c.pb</c> is 3); default 64.
    /// Models nest a few levels; the limit keeps a hostile archive from making folders a
    /// file system or a tool walking the store cannot handle.
    /// </summary>
    public int MaxPathDepth { get; init; } = 64;
}

/// <summary>Progress of an import or export.</summary>
/// <param name="Operation">import or export.</param>
/// <param name="Bytes">Bytes moved so far.</param>
/// <param name="TotalBytes">Bytes expected in all, when known.</param>
/// <param name="Files">Files moved so far.</param>
public readonly record struct TransferProgress(string Operation, long Bytes, long? TotalBytes, int Files);

/// <summary>
/// How an engine is put together: its backends and policies. Build once per host; see
/// <see cref="MlModelEngine"/>.
/// </summary>
public sealed class MlModelOptions
{
    /// <summary>The metadata repository (required): SqliteModelRepository or PostgresModelRepository from MlModel.Dsl.Data.</summary>
    public IModelRepository? Repository { get; set; }

    /// <summary>Where managed model files live (required for import, export, deploy): a prefix per user, name and version.</summary>
    public IObjectStore? ModelStore { get; set; }

    /// <summary>Where export archives are written; defaults to <see cref="ModelStore"/> under <c>exports/</c>... set it to keep them apart.</summary>
    public IObjectStore? ExportStore { get; set; }

    /// <summary>The serving system (required for deploy, stop and status).</summary>
    public IServingBackend? Serving { get; set; }

    /// <summary>
    /// Whether the engine owns the backends set here (<see cref="Repository"/>, <see cref="ModelStore"/>,
    /// <see cref="ExportStore"/>, <see cref="Serving"/>) and disposes them when it is disposed: what a
    /// host that makes them for one engine wants. Default false: the host disposes them, after the
    /// engine's last command, as it may share them with other engines.
    /// </summary>
    public bool OwnsBackends { get; set; }

    /// <summary>Object-store providers by connector type; <c>local</c> is there already, MlModel.Dsl.Storage.S3 adds <c>s3</c>.</summary>
    public IList<IObjectStoreProvider> ObjectStoreProviders { get; } = [new Backends.Local.LocalObjectStoreProvider()];

    /// <summary>
    /// Connectors defined by the host rather than stored in the repository; they win over stored
    /// ones with the same id. They are shared (spec B.5): every user may use them, importing
    /// keys under <c>USERS/&lt;user&gt;/</c>, whatever their <see cref="ConnectorInfo.Shared"/>
    /// says; their <see cref="ConnectorInfo.Owner"/>, when set, and administrators import any key.
    /// </summary>
    public IList<ConnectorInfo> Connectors { get; } = [];

    /// <summary>User names that are administrators (spec B.5), besides callers flagged as such.</summary>
    public ISet<string> Administrators { get; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>How long an export's download URL stays valid; default one hour (spec: 3600).</summary>
    public TimeSpan ExportUrlExpiry { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Import limits.</summary>
    public ArchiveLimits ArchiveLimits { get; set; } = new();

    /// <summary>Whether deploy re-reads a version's files and checks their SHA-256 first; default true.</summary>
    public bool VerifyChecksumsOnDeploy { get; set; } = true;

    /// <summary>
    /// How old files without a version must be before <c>mlmodel check repair=true</c> deletes
    /// them; younger ones may belong to an import in progress. Default one hour.
    /// </summary>
    public TimeSpan OrphanGracePeriod { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How long a deploy, stop, delete or repair waits for another one of the same model to finish
    /// before it fails with <c>conflict</c>; default 10 minutes (a deploy may wait for the server
    /// to load a version, twice).
    /// </summary>
    public TimeSpan ModelLockTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Rows per request of <c>serving predict</c>; default 256. Rows with many values go in
    /// shorter batches (at most about a million values per request).
    /// </summary>
    public int PredictBatchSize
    {
        get;
        set => field = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "a batch holds at least one row");
    } = 256;

    /// <summary>How many requests of one <c>serving predict</c> may be in flight at once; default 4. Rows stay in input order.</summary>
    public int PredictBatchesInFlight
    {
        get;
        set => field = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "at least one request must be allowed");
    } = 4;

    /// <summary>The time zone of <c>create</c>/<c>modified</c>/<c>cdate</c>/<c>mdate</c>; default the machine's.</summary>
    public TimeZoneInfo DisplayTimeZone { get; set; } = TimeZoneInfo.Local;

    /// <summary>The clock; tests may replace it.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;
}
