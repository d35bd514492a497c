using MlModel.Dsl.Backends;
using MlModel.Dsl.Data.Internal;

namespace MlModel.Dsl.Data;

/// <summary>
/// The model repository in a PostgreSQL database, for hosts where several processes or
/// machines share one repository. Tables are prefixed <c>mlmodel_</c> and live in the
/// connection's default schema (its <c>search_path</c>).
/// </summary>
/// <remarks>
/// The schema is created or upgraded by <see cref="InitializeAsync"/>, or by the first call
/// that needs it; concurrent initialisations are serialised by an advisory lock. The
/// repository owns a connection pool: dispose it when done. Database failures surface as
/// <see cref="MlModelException"/> with code <see cref="ErrorCodes.Backend"/>; their messages
/// name the host, port and database, never the password.
/// </remarks>
public sealed class PostgresModelRepository : IModelRepository, IDisposable, IAsyncDisposable
{
    private readonly DapperModelRepository _core;

    /// <summary>Creates the repository; nothing connects until the first call.</summary>
    /// <param name="connectionString">An Npgsql connection string (<c>Host=...;Database=...;Username=...;Password=...</c>).</param>
    /// <param name="options">Clock and command timeout; defaults when null.</param>
    /// <exception cref="ArgumentException">The connection string does not parse.</exception>
    public PostgresModelRepository(string connectionString, ModelRepositoryOptions? options = null)
    {
        options ??= new ModelRepositoryOptions();
        var dialect = new PostgresDialect(connectionString)
        {
            CommandTimeoutSeconds = SqliteModelRepository.Seconds(options.CommandTimeout),
        };
        _core = new DapperModelRepository(dialect, options.TimeProvider);
    }

    /// <inheritdoc/>
    public Task InitializeAsync(CancellationToken cancellationToken = default) => _core.InitializeAsync(cancellationToken);

    /// <inheritdoc/>
    public Task<int> AllocateVersionAsync(string user, string name, CancellationToken cancellationToken = default) =>
        _core.AllocateVersionAsync(user, name, cancellationToken);

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

    /// <summary>Closes the repository's pooled connections.</summary>
    public void Dispose() => _core.DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <inheritdoc cref="Dispose"/>
    public ValueTask DisposeAsync() => _core.DisposeAsync();

    internal DapperModelRepository Core => _core;
}
