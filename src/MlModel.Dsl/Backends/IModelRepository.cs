namespace MlModel.Dsl.Backends;

/// <summary>
/// The model repository: metadata of every model version, the audit trail and the connector
/// registry. Implementations: SQLite (embedded default) and PostgreSQL, in MlModel.Dsl.Data.
/// </summary>
/// <remarks>
/// Names reaching a repository have been checked against spec B.2; implementations still
/// parameterise every query. Methods throw <see cref="MlModelException"/> with code
/// <see cref="ErrorCodes.Backend"/> when the database fails.
/// </remarks>
public interface IModelRepository
{
    /// <summary>Creates or upgrades the schema. Safe to call more than once and from several processes.</summary>
    Task InitializeAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Whether the repository is brand new: null when it has been used (it has allocated a
    /// version, even if every model has been deleted since); otherwise what was found, in words
    /// for an error message, without secrets: <c>the SQLite database /srv/mlmodel.db is empty (0 bytes)</c>.
    /// The engine asks before it initialises the repository and refuses to start a brand-new one
    /// next to a model store that already holds model files: a lost or emptied database would
    /// otherwise show no model, and <c>mlmodel check repair=true</c> would delete their files as
    /// orphans. An implementation that can see the database is new without creating it (a missing
    /// file) should not create it here. The default answers null: a repository that cannot tell is
    /// taken as used, and never refused.
    /// </summary>
    Task<string?> DescribeIfNewAsync(CancellationToken cancellationToken = default) => Task.FromResult<string?>(null);

    /// <summary>
    /// Allocates the next version of (user, name) atomically: two callers at once get two
    /// different numbers, and a number is never handed out again, even after a delete (spec B.4).
    /// </summary>
    Task<int> AllocateVersionAsync(string user, string name, CancellationToken cancellationToken = default);

    /// <summary>
    /// Gives back a number from <see cref="AllocateVersionAsync"/> whose import failed before its
    /// row was inserted, so that versions go up by one per import (spec B.4). Only the last number
    /// handed out for (user, name) is given back, and not while a row carries it; true when it was.
    /// Callers give back only a number no row ever had (a deleted version's number stays spent).
    /// The default gives nothing back: a gap in the numbers, never a reuse.
    /// </summary>
    Task<bool> ReleaseVersionAsync(string user, string name, int version, CancellationToken cancellationToken = default) =>
        Task.FromResult(false);

    /// <summary>Inserts a version (whose number came from <see cref="AllocateVersionAsync"/>) and its file manifest; returns it with its id.</summary>
    Task<ModelVersion> InsertAsync(ModelVersion model, IReadOnlyList<ModelFile> files, CancellationToken cancellationToken = default);

    /// <summary>
    /// Takes the lock that serialises the changes of one model (deploy, stop, delete, repair),
    /// held until the result is disposed. It must exclude other processes sharing the
    /// repository (and, for a shared database, other hosts), and be released when its holder dies,
    /// so a killed process never leaves a model locked. Waits until it is free or
    /// <paramref name="cancellationToken"/> fires. The default excludes nobody outside the
    /// process (the engine always serialises within it): a repository that several processes
    /// share overrides it.
    /// </summary>
    Task<IAsyncDisposable> LockModelAsync(string user, string name, CancellationToken cancellationToken = default) =>
        Task.FromResult<IAsyncDisposable>(NoLock.Instance);

    /// <summary>One version, or the latest when <paramref name="version"/> is null; null when absent.
    /// The latest is the highest version not being deleted; an explicit version is returned in any state.</summary>
    Task<ModelVersion?> GetAsync(string user, string name, int? version, CancellationToken cancellationToken = default);

    /// <summary>Every version of a model, ascending.</summary>
    Task<IReadOnlyList<ModelVersion>> GetVersionsAsync(string user, string name, CancellationToken cancellationToken = default);

    /// <summary>
    /// Streams the versions that match, ordered by user, name, version. The connection stays
    /// open while the sequence is enumerated and closes when the enumerator is disposed.
    /// </summary>
    IEnumerable<ModelVersion> List(ModelFilter filter);

    /// <summary>
    /// <see cref="List"/> with only the fields <c>mlmodel list</c> shows: what the executor
    /// calls for <c>list</c>. Same order, filter and streaming contract. The default maps
    /// <see cref="List"/>; a repository that can read fewer columns overrides it.
    /// </summary>
    IEnumerable<ModelListEntry> ListEntries(ModelFilter filter) => List(filter).Select(ModelListEntry.From);

    /// <summary>The file manifest of a version.</summary>
    Task<IReadOnlyList<ModelFile>> GetFilesAsync(long modelId, CancellationToken cancellationToken = default);

    /// <summary>Replaces the updatable fields of a version (everything but id, user, name, version, created); sets modified.</summary>
    Task<ModelVersion> UpdateAsync(ModelVersion model, CancellationToken cancellationToken = default);

    /// <summary>Deletes a version's row and manifest; false when it was not there.</summary>
    Task<bool> DeleteAsync(string user, string name, int version, CancellationToken cancellationToken = default);

    /// <summary>Appends to the audit trail.</summary>
    Task AppendAuditAsync(AuditEntry entry, CancellationToken cancellationToken = default);

    /// <summary>The audit trail of a model (of one version when given), newest first.</summary>
    Task<IReadOnlyList<AuditEntry>> GetHistoryAsync(string user, string name, int? version, CancellationToken cancellationToken = default);

    /// <summary>A stored connector, with its owner and shared flag, or null.</summary>
    Task<ConnectorInfo?> GetConnectorAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Every stored connector, with its owner and shared flag, ordered by id.</summary>
    Task<IReadOnlyList<ConnectorInfo>> ListConnectorsAsync(CancellationToken cancellationToken = default);

    /// <summary>Adds or replaces a connector, its owner and shared flag included (what administrators do).</summary>
    Task SaveConnectorAsync(ConnectorInfo connector, CancellationToken cancellationToken = default);

    /// <summary>Removes a connector; false when it was not there.</summary>
    Task<bool> DeleteConnectorAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>
    /// Adds <paramref name="connector"/>, or replaces the stored one with its id only when that
    /// one has the same <see cref="ConnectorInfo.Owner"/> (which must be given); false, changing
    /// nothing, when the id belongs to a connector of another owner or of none. What a user who
    /// is not an administrator does: two users adding the same id at once never replace each
    /// other's. The default reads, then saves; a repository that several processes share
    /// overrides it with one atomic statement.
    /// </summary>
    async Task<bool> SaveOwnConnectorAsync(ConnectorInfo connector, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connector);
        ArgumentNullException.ThrowIfNull(connector.Owner, "connector.Owner");
        if (await GetConnectorAsync(connector.Id, cancellationToken) is { } stored && stored.Owner != connector.Owner)
        {
            return false;
        }
        await SaveConnectorAsync(connector, cancellationToken);
        return true;
    }

    /// <summary>
    /// Removes a connector only when <paramref name="owner"/> owns it; false when there is no
    /// such connector of that owner. The default reads, then deletes; a repository that several
    /// processes share overrides it with one statement.
    /// </summary>
    async Task<bool> DeleteOwnConnectorAsync(string id, string owner, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(owner);
        return await GetConnectorAsync(id, cancellationToken) is { } stored && stored.Owner == owner
            && await DeleteConnectorAsync(id, cancellationToken);
    }
}

/// <summary>The lock of a repository that no other process shares.</summary>
internal sealed class NoLock : IAsyncDisposable
{
    public static readonly NoLock Instance = new();

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
