using MlModel.Dsl.Backends;
using MlModel.Dsl.Data.Internal;

namespace MlModel.Dsl.Data;

/// <summary>
/// The model repository in one SQLite file: the embedded default. The file and its folder are
/// created on first use; the database runs in WAL mode (a streaming <c>list</c> does not block
/// writers), with foreign keys on and a busy timeout so concurrent writers queue instead of failing.
/// </summary>
/// <remarks>
/// The schema is created or upgraded by <see cref="InitializeAsync"/>, or by the first call
/// that needs it. Several processes may share the file: writers take SQLite's write lock up
/// front (<c>BEGIN IMMEDIATE</c>). Database failures surface as <see cref="MlModelException"/>
/// with code <see cref="ErrorCodes.Backend"/>.
/// </remarks>
public sealed class SqliteModelRepository : IModelRepository, IDisposable, IAsyncDisposable
{
    private readonly DapperModelRepository _core;
    private readonly SqliteDialect _dialect;

    /// <summary>Opens (on first use) the repository in a database file.</summary>
    /// <param name="databasePathOrConnectionString">
    /// A file path (<c>/var/lib/mlmodel/models.db</c>), or a Microsoft.Data.Sqlite connection
    /// string with a <c>Data Source</c> (<c>Data Source=models.db;Password=...</c>). A relative
    /// path is taken from the current directory. In-memory databases are refused: every
    /// operation opens its own connection.
    /// </param>
    /// <param name="options">Clock, busy timeout and command timeout; defaults when null.</param>
    public SqliteModelRepository(string databasePathOrConnectionString, ModelRepositoryOptions? options = null)
    {
        options ??= new ModelRepositoryOptions();
        _dialect = new SqliteDialect(databasePathOrConnectionString, options.BusyTimeout)
        {
            CommandTimeoutSeconds = Seconds(options.CommandTimeout),
        };
        _core = new DapperModelRepository(_dialect, options.TimeProvider);
    }

    /// <summary>The full path of the database file.</summary>
    public string DatabasePath => _dialect.DatabasePath;

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

    /// <summary>Closes the pooled connections to this file.</summary>
    public void Dispose() => _core.DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <inheritdoc cref="Dispose"/>
    public ValueTask DisposeAsync() => _core.DisposeAsync();

    internal DapperModelRepository Core => _core;

    internal static int? Seconds(TimeSpan? timeout) =>
        timeout is { } t ? (int)Math.Clamp(Math.Ceiling(t.TotalSeconds), 1, int.MaxValue) : null;
}
