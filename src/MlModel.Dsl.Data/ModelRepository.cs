using MlModel.Dsl.Backends;
using MlModel.Dsl.Data.Internal;

namespace MlModel.Dsl.Data;

/// <summary>
/// What <see cref="SqliteModelRepository"/> and <see cref="PostgresModelRepository"/> share: one
/// implementation of <see cref="IModelRepository"/> on Dapper, which each database configures
/// with its own dialect. Hosts use the two sealed classes; this type cannot be derived from
/// outside the library.
/// </summary>
public abstract class ModelRepository : IModelRepository, IDisposable, IAsyncDisposable
{
    private readonly DapperModelRepository _core;

    private protected ModelRepository(SqlDialect dialect, ModelRepositoryOptions options)
    {
        _core = new DapperModelRepository(dialect, options.TimeProvider, options.SecretKey);
    }

    /// <inheritdoc/>
    public Task InitializeAsync(CancellationToken cancellationToken = default) => _core.InitializeAsync(cancellationToken);

    /// <inheritdoc/>
    public Task<string?> DescribeIfNewAsync(CancellationToken cancellationToken = default) => _core.DescribeIfNewAsync(cancellationToken);

    /// <inheritdoc/>
    public Task<int> AllocateVersionAsync(string user, string name, CancellationToken cancellationToken = default) =>
        _core.AllocateVersionAsync(user, name, cancellationToken);

    /// <inheritdoc/>
    public Task<bool> ReleaseVersionAsync(string user, string name, int version, CancellationToken cancellationToken = default) =>
        _core.ReleaseVersionAsync(user, name, version, cancellationToken);

    /// <inheritdoc/>
    public Task<ModelVersion> InsertAsync(ModelVersion model, IReadOnlyList<ModelFile> files, CancellationToken cancellationToken = default) =>
        _core.InsertAsync(model, files, cancellationToken);

    /// <inheritdoc/>
    public Task<ModelVersion?> GetAsync(string user, string name, int? version, CancellationToken cancellationToken = default) =>
        _core.GetAsync(user, name, version, cancellationToken);

    /// <inheritdoc/>
    public Task<IReadOnlyList<ModelVersion>> GetVersionsAsync(string user, string name, CancellationToken cancellationToken = default) =>
        _core.GetVersionsAsync(user, name, cancellationToken);

    /// <inheritdoc/>
    public IEnumerable<ModelVersion> List(ModelFilter filter) => _core.List(filter);

    /// <inheritdoc/>
    public Task<IAsyncDisposable> LockModelAsync(string user, string name, CancellationToken cancellationToken = default) =>
        _core.LockModelAsync(user, name, cancellationToken);

    /// <inheritdoc />
    public IEnumerable<ModelListEntry> ListEntries(ModelFilter filter) => _core.ListEntries(filter);

    /// <inheritdoc/>
    public Task<IReadOnlyList<ModelFile>> GetFilesAsync(long modelId, CancellationToken cancellationToken = default) =>
        _core.GetFilesAsync(modelId, cancellationToken);

    /// <inheritdoc/>
    public Task<ModelVersion> UpdateAsync(ModelVersion model, CancellationToken cancellationToken = default) =>
        _core.UpdateAsync(model, cancellationToken);

    /// <inheritdoc/>
    public Task<bool> DeleteAsync(string user, string name, int version, CancellationToken cancellationToken = default) =>
        _core.DeleteAsync(user, name, version, cancellationToken);

    /// <inheritdoc/>
    public Task AppendAuditAsync(AuditEntry entry, CancellationToken cancellationToken = default) =>
        _core.AppendAuditAsync(entry, cancellationToken);

    /// <inheritdoc/>
    public Task<IReadOnlyList<AuditEntry>> GetHistoryAsync(string user, string name, int? version, CancellationToken cancellationToken = default) =>
        _core.GetHistoryAsync(user, name, version, cancellationToken);

    /// <inheritdoc/>
    public Task<ConnectorInfo?> GetConnectorAsync(string id, CancellationToken cancellationToken = default) =>
        _core.GetConnectorAsync(id, cancellationToken);

    /// <inheritdoc/>
    public Task<IReadOnlyList<ConnectorInfo>> ListConnectorsAsync(CancellationToken cancellationToken = default) =>
        _core.ListConnectorsAsync(cancellationToken);

    /// <inheritdoc/>
    public Task SaveConnectorAsync(ConnectorInfo connector, CancellationToken cancellationToken = default) =>
        _core.SaveConnectorAsync(connector, cancellationToken);

    /// <inheritdoc/>
    public Task<bool> DeleteConnectorAsync(string id, CancellationToken cancellationToken = default) =>
        _core.DeleteConnectorAsync(id, cancellationToken);

    /// <inheritdoc/>
    public Task<bool> SaveOwnConnectorAsync(ConnectorInfo connector, CancellationToken cancellationToken = default) =>
        _core.SaveOwnConnectorAsync(connector, cancellationToken);

    /// <inheritdoc/>
    public Task<bool> DeleteOwnConnectorAsync(string id, string owner, CancellationToken cancellationToken = default) =>
        _core.DeleteOwnConnectorAsync(id, owner, cancellationToken);

    /// <summary>Closes the repository's pooled connections.</summary>
    public void Dispose()
    {
        DisposeAsync().AsTask().GetAwaiter().GetResult();
        GC.SuppressFinalize(this);
    }

    /// <inheritdoc cref="Dispose"/>
    public ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return _core.DisposeAsync();
    }

    internal DapperModelRepository Core => _core;

    internal static int? Seconds(TimeSpan? timeout) =>
        timeout is { } t ? (int)Math.Clamp(Math.Ceiling(t.TotalSeconds), 1, int.MaxValue) : null;
}
