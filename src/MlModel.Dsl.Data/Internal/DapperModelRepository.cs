using System.Data;
using System.Data.Common;
using Dapper;
using MlModel.Dsl.Backends;

namespace MlModel.Dsl.Data.Internal;

/// <summary>
/// The repository on Dapper, for any <see cref="SqlDialect"/>. Each call opens a pooled
/// connection and closes it before returning, except <see cref="List"/>, whose enumerator owns
/// its connection until it is disposed.
/// </summary>
internal sealed class DapperModelRepository : IModelRepository, IAsyncDisposable
{
    private readonly SqlDialect _dialect;
    private readonly TimeProvider _clock;
    private readonly ConnectorSecrets _secrets;
    private readonly Lock _initGate = new();
    private Task? _initialization;

    public DapperModelRepository(SqlDialect dialect, TimeProvider clock, ConnectorSecretKey? secretKey = null)
    {
        _dialect = dialect;
        _clock = clock;
        _secrets = new ConnectorSecrets(secretKey);
    }

    public SqlDialect Dialect => _dialect;

    private int? Timeout => _dialect.CommandTimeoutSeconds;

    // ------------------------------------------------------------------ schema

    public Task InitializeAsync(CancellationToken cancellationToken = default) =>
        EnsureInitializedAsync(cancellationToken);

    /// <summary>
    /// Runs the migrations once per instance; every other method waits for it first, so a
    /// repository works without an explicit <see cref="InitializeAsync"/>. A failed attempt is
    /// retried by the next call.
    /// </summary>
    private Task EnsureInitializedAsync(CancellationToken cancellationToken)
    {
        var initialization = _initialization;
        if (initialization is { IsCompletedSuccessfully: true })
        {
            return Task.CompletedTask;
        }
        lock (_initGate)
        {
            if (_initialization is null || _initialization.IsFaulted || _initialization.IsCanceled)
            {
                // Not tied to one caller's token: another caller may be waiting on the same run.
                _initialization = MigrateAsync(target: null, CancellationToken.None);
            }
            initialization = _initialization;
        }
        return initialization.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Brings the schema to <paramref name="target"/> (the latest when null) in one transaction
    /// under the dialect's schema lock, so concurrent processes apply each step exactly once.
    /// </summary>
    internal async Task MigrateAsync(int? target, CancellationToken cancellationToken)
    {
        var goal = target ?? Migrations.Latest;
        await RunAsync("initialize", async (connection, ct) =>
        {
            await _dialect.PrepareAsync(connection, ct);
            await using var transaction = await _dialect.BeginWriteAsync(connection, ct);
            await _dialect.LockSchemaAsync(connection, transaction, ct);
            await connection.ExecuteAsync(Command(_dialect.CreateSchemaTable, null, transaction, ct));
            var current = await connection.ExecuteScalarAsync<int>(Command(Sql.SchemaVersion, null, transaction, ct));
            if (current > Migrations.Latest)
            {
                throw new MlModelException(ErrorCodes.Backend,
                    $"{Describe("initialize")}: the database schema is at version {current}, newer than this library's {Migrations.Latest}; upgrade MlModel.Dsl.Data.");
            }
            foreach (var migration in Migrations.All.Where(m => m.Version > current && m.Version <= goal))
            {
                foreach (var statement in _dialect.Script(migration))
                {
                    await connection.ExecuteAsync(Command(statement, null, transaction, ct));
                }
                var applied = _dialect.Time(Now());
                await connection.ExecuteAsync(Command(Sql.RecordMigration, new { migration.Version, Applied = applied }, transaction, ct));
            }
            // Sealing reads the rows with today's statements, which need today's columns: only a
            // schema brought to the latest step (tests stop earlier to write old rows).
            if (goal == Migrations.Latest && _secrets.Key is not null)
            {
                await SealPlainSecretsAsync(connection, transaction, ct);
            }
            await transaction.CommitAsync(ct);
            return 0;
        }, cancellationToken, initialize: false);
    }

    /// <summary>
    /// Encrypts the secret settings stored in plain text (by a release before secrets were
    /// encrypted, or by a repository that had no key then), inside the migration transaction.
    /// Runs at every initialisation with a key; it reads the few connector rows and writes only
    /// the ones that need it, so a key given later still seals what was stored before.
    /// </summary>
    private async Task SealPlainSecretsAsync(DbConnection connection, DbTransaction transaction, CancellationToken ct)
    {
        var rows = await connection.QueryAsync<ConnectorRow>(Command(Sql.ListConnectors, null, transaction, ct));
        foreach (var row in rows)
        {
            var settings = row.ParseSettings();
            if (settings.Any(ConnectorSecrets.IsPlainSecret))
            {
                var sealedSettings = _secrets.Seal(row.Id, settings, Describe("initialize"), ConnectorSecrets.IsPlainSecret);
                await connection.ExecuteAsync(Command(Sql.UpdateConnectorSettings,
                    new { row.Id, Settings = ConnectorRow.SerializeSettings(sealedSettings) }, transaction, ct));
            }
        }
    }

    /// <summary>
    /// Null when the repository has been used (a version was allocated, even if every model was
    /// deleted since); otherwise what was found, for the engine's refusal to start a brand-new
    /// repository next to a model store that holds models. A SQLite file that is missing or
    /// empty is reported as such without being created (the engine may refuse, and a refusal
    /// changes nothing); otherwise the schema is brought up to date first.
    /// </summary>
    public async Task<string?> DescribeIfNewAsync(CancellationToken cancellationToken = default)
    {
        if (_initialization is null && _dialect.DescribeNewBeforeOpening() is { } unopened)
        {
            return unopened;
        }
        var used = await RunAsync("look for models", async (connection, ct) =>
            await connection.ExecuteScalarAsync<int>(Command(Sql.HasBeenUsed, null, null, ct)) != 0, cancellationToken);
        return used ? null : _dialect.DescribeUnused();
    }

    // ------------------------------------------------------------------ versions

    public Task<int> AllocateVersionAsync(string user, string name, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(name);
        return RunAsync("allocate version", async (connection, ct) =>
        {
            // SQLite: BEGIN IMMEDIATE takes the write lock first, so no two writers interleave.
            // PostgreSQL: the upsert locks the counter row; the transaction only scopes it.
            await using var transaction = await _dialect.BeginWriteAsync(connection, ct);
            var version = await connection.ExecuteScalarAsync<int>(
                Command(Sql.AllocateVersion, new { User = user, Name = name }, transaction, ct));
            await transaction.CommitAsync(ct);
            return version;
        }, cancellationToken);
    }

    public Task<bool> ReleaseVersionAsync(string user, string name, int version, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(name);
        return RunAsync("release version", async (connection, ct) =>
        {
            await using var transaction = await _dialect.BeginWriteAsync(connection, ct);
            var released = await connection.ExecuteAsync(
                Command(Sql.ReleaseVersion, new { User = user, Name = name, Version = version }, transaction, ct));
            await transaction.CommitAsync(ct);
            return released == 1;
        }, cancellationToken);
    }

    public Task<ModelVersion> InsertAsync(ModelVersion model, IReadOnlyList<ModelFile> files, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(files);
        ArgumentOutOfRangeException.ThrowIfLessThan(model.Version, 1, nameof(model) + "." + nameof(model.Version));
        CheckManifest(files);
        return RunAsync("insert", async (connection, ct) =>
        {
            await using var transaction = await _dialect.BeginWriteAsync(connection, ct);
            var stored = await InsertCoreAsync(connection, transaction, model, files, ct);
            await transaction.CommitAsync(ct);
            return stored;
        }, cancellationToken, conflict: $"version {model.Version} of {model.User}/{model.Name} already exists");
    }

    /// <summary>Inserts many versions in one transaction; for seeding tests and benchmarks.</summary>
    internal Task<int> InsertManyAsync(IEnumerable<(ModelVersion Model, IReadOnlyList<ModelFile> Files)> items, CancellationToken cancellationToken = default) =>
        RunAsync("insert", async (connection, ct) =>
        {
            await using var transaction = await _dialect.BeginWriteAsync(connection, ct);
            var count = 0;
            foreach (var (model, files) in items)
            {
                await InsertCoreAsync(connection, transaction, model, files, ct);
                count++;
            }
            await transaction.CommitAsync(ct);
            return count;
        }, cancellationToken);

    // Caught here so that a unique violation from the database can only mean "version exists".
    private static void CheckManifest(IReadOnlyList<ModelFile> files)
    {
        var paths = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in files)
        {
            ArgumentNullException.ThrowIfNull(file, nameof(files));
            if (!paths.Add(file.Path))
            {
                throw new ArgumentException($"The file manifest lists '{file.Path}' twice.", nameof(files));
            }
        }
    }

    private async Task<ModelVersion> InsertCoreAsync(DbConnection connection, DbTransaction transaction, ModelVersion model, IReadOnlyList<ModelFile> files, CancellationToken ct)
    {
        var created = model.Created == default ? Now() : DbTime.Normalize(model.Created);
        var modified = model.Modified == default ? created : DbTime.Normalize(model.Modified);
        var id = await connection.ExecuteScalarAsync<long>(Command(Sql.InsertModel,
            new ModelParameters(model, _dialect.Time(created), _dialect.Time(modified)), transaction, ct));
        if (files.Count > 0)
        {
            await InsertFilesAsync(connection, transaction, id, files, ct);
        }
        return model with { Id = id, Created = created, Modified = modified };
    }

    /// <summary>
    /// The manifest's rows: one prepared command whose parameters are made once and only given new
    /// values per row. Dapper's run of the statement per element (new parameters bound by name
    /// each time, and its generated binder compiled on first use) took 157 ms for 10,000 files on
    /// SQLite in a fresh process and 69 ms warm; this loop 118 and 51 ms (the rest is SQLite's).
    /// </summary>
    private async Task InsertFilesAsync(DbConnection connection, DbTransaction transaction, long id, IReadOnlyList<ModelFile> files, CancellationToken ct)
    {
        SqlCatalogue.AssertKnown(Sql.InsertFile);
        await using var command = connection.CreateCommand();
        command.CommandText = Sql.InsertFile;
        command.Transaction = transaction;
        if (Timeout is { } seconds)
        {
            command.CommandTimeout = seconds;
        }

        DbParameter Add(string name, DbType type)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.DbType = type;
            command.Parameters.Add(parameter);
            return parameter;
        }

        Add("@ModelId", DbType.Int64).Value = id;
        var ordinal = Add("@Ordinal", DbType.Int32);
        var path = Add("@Path", DbType.String);
        var size = Add("@Size", DbType.Int64);
        var sha256 = Add("@Sha256", DbType.String);
        await command.PrepareAsync(ct);
        for (var i = 0; i < files.Count; i++)
        {
            ordinal.Value = i;
            path.Value = files[i].Path;
            size.Value = files[i].Size;
            sha256.Value = files[i].Sha256;
            await command.ExecuteNonQueryAsync(ct);
        }
    }

    public Task<ModelVersion?> GetAsync(string user, string name, int? version, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(name);
        return RunAsync("get", async (connection, ct) =>
        {
            var row = await connection.QueryFirstOrDefaultAsync<ModelRow>(version is { } v
                ? Command(Sql.GetVersion, new { User = user, Name = name, Version = v }, null, ct)
                : Command(Sql.GetLatest, new { User = user, Name = name, Deleting = ModelStates.Deleting }, null, ct));
            return row?.ToModel();
        }, cancellationToken);
    }

    public Task<IReadOnlyList<ModelVersion>> GetVersionsAsync(string user, string name, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(name);
        return RunAsync<IReadOnlyList<ModelVersion>>("get versions", async (connection, ct) =>
        {
            var rows = await connection.QueryAsync<ModelRow>(Command(Sql.GetVersions, new { User = user, Name = name }, null, ct));
            return rows.Select(r => r.ToModel()).ToList();
        }, cancellationToken);
    }

    public Task<IAsyncDisposable> LockModelAsync(string user, string name, CancellationToken cancellationToken = default) =>
        _dialect.LockModelAsync(user, name, cancellationToken);

    public IEnumerable<ModelVersion> List(ModelFilter filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        return Stream<ModelRow, ModelVersion>(Sql.List(filter), filter, row => row.ToModel(), native: null);
    }

    public IEnumerable<ModelListEntry> ListEntries(ModelFilter filter)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var sql = Sql.ListEntries(filter);
        // Dapper fills ModelRow's 17 list columns and leaves the rest unset.
        return Stream<ModelRow, ModelListEntry>(sql, filter, row => ModelListEntry.From(row.ToModel()),
            native: connection => _dialect.ReadListEntries(connection, sql, filter));
    }

    /// <summary>
    /// The enumerator owns one connection and one data reader; Dapper's row parser (or the
    /// dialect's own reader, where it has one) maps one row at a time, so memory stays flat
    /// however many versions match.
    /// </summary>
    /// <remarks>
    /// This is Dapper's unbuffered query taken one level down (<c>ExecuteReader</c> plus
    /// <c>GetRowParser</c>) for one reason: <c>Query&lt;T&gt;(buffered: false)</c> calls
    /// <c>DbCommand.Cancel()</c> when the enumeration is abandoned early, which on Npgsql opens a
    /// separate cancel connection to the server (about 100 ms measured, for any result size).
    /// Disposing the reader instead lets the provider skip the remaining rows.
    /// </remarks>
    private IEnumerable<TResult> Stream<TRow, TResult>(string sql, ModelFilter filter, Func<TRow, TResult> map,
        Func<DbConnection, IEnumerator<TResult>?>? native)
    {
        if (_initialization is not { IsCompletedSuccessfully: true })
        {
            // List is synchronous by contract; Task.Run keeps a caller's synchronization
            // context out of the migration's continuations.
            Task.Run(() => EnsureInitializedAsync(CancellationToken.None)).GetAwaiter().GetResult();
        }
        SqlCatalogue.AssertKnown(sql);
        var command = new CommandDefinition(
            sql,
            new { filter.User, filter.Name, filter.AnalysisTool, Serving = filter.Serving ?? false, Deleting = ModelStates.Deleting },
            commandTimeout: Timeout);
        DbConnection? connection = null;
        IDataReader? reader = null;
        IEnumerator<TResult>? rows = null;
        try
        {
            Func<IDataReader, TRow>? parse = null;
            try
            {
                connection = _dialect.Open();
                rows = native?.Invoke(connection);
                if (rows is null)
                {
                    reader = connection.ExecuteReader(command, CommandBehavior.SingleResult);
                    parse = reader.GetRowParser<TRow>();
                }
            }
            catch (Exception ex) when (IsBackendFailure(ex))
            {
                throw Failure("list", ex, CancellationToken.None);
            }
            while (true)
            {
                TResult item;
                try
                {
                    if (rows is not null)
                    {
                        if (!rows.MoveNext())
                        {
                            break;
                        }
                        item = rows.Current;
                    }
                    else
                    {
                        if (!reader!.Read())
                        {
                            break;
                        }
                        item = map(parse!(reader));
                    }
                }
                catch (Exception ex) when (IsBackendFailure(ex))
                {
                    throw Failure("list", ex, CancellationToken.None);
                }
                yield return item;
            }
        }
        finally
        {
            rows?.Dispose();
            reader?.Dispose();
            connection?.Dispose();
        }
    }

    public Task<IReadOnlyList<ModelFile>> GetFilesAsync(long modelId, CancellationToken cancellationToken = default) =>
        RunAsync<IReadOnlyList<ModelFile>>("get files", async (connection, ct) =>
        {
            var rows = await connection.QueryAsync<FileRow>(Command(Sql.GetFiles, new { ModelId = modelId }, null, ct));
            return rows.Select(r => r.ToFile()).ToList();
        }, cancellationToken);

    public Task<ModelVersion> UpdateAsync(ModelVersion model, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        return RunAsync("update", async (connection, ct) =>
        {
            var parameters = new ModelParameters(model, created: "", _dialect.Time(Now()));
            var row = await connection.QueryFirstOrDefaultAsync<ModelRow>(Command(Sql.UpdateModel, parameters, null, ct));
            return row?.ToModel() ?? throw new MlModelException(ErrorCodes.NotFound,
                $"Cannot update version {model.Version} of model '{model.Name}' of user '{model.User}': it does not exist.");
        }, cancellationToken);
    }

    public Task<bool> DeleteAsync(string user, string name, int version, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(name);
        return RunAsync("delete", async (connection, ct) =>
            await connection.ExecuteAsync(Command(Sql.DeleteModel, new { User = user, Name = name, Version = version }, null, ct)) > 0,
            cancellationToken);
    }

    // ------------------------------------------------------------------ audit

    public Task AppendAuditAsync(AuditEntry entry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entry);
        return RunAsync("append audit", async (connection, ct) =>
        {
            var time = entry.Time == default ? Now() : DbTime.Normalize(entry.Time);
            return await connection.ExecuteAsync(Command(Sql.InsertAudit, new
            {
                Time = _dialect.Time(time),
                entry.Actor,
                entry.Operation,
                entry.User,
                entry.Name,
                entry.Version,
                entry.Parameters,
                entry.Outcome,
                entry.Message,
            }, null, ct));
        }, cancellationToken);
    }

    public Task<IReadOnlyList<AuditEntry>> GetHistoryAsync(string user, string name, int? version, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(name);
        return RunAsync<IReadOnlyList<AuditEntry>>("get history", async (connection, ct) =>
        {
            var rows = await connection.QueryAsync<AuditRow>(version is { } v
                ? Command(Sql.HistoryOfVersion, new { User = user, Name = name, Version = v }, null, ct)
                : Command(Sql.History, new { User = user, Name = name }, null, ct));
            return rows.Select(r => r.ToEntry()).ToList();
        }, cancellationToken);
    }

    // ------------------------------------------------------------------ connectors

    public Task<ConnectorInfo?> GetConnectorAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        return RunAsync("get connector", async (connection, ct) =>
            await connection.QueryFirstOrDefaultAsync<ConnectorRow>(Command(Sql.GetConnector, new { Id = id }, null, ct)) is { } row
                ? Open(row, "get connector")
                : null,
            cancellationToken);
    }

    public Task<IReadOnlyList<ConnectorInfo>> ListConnectorsAsync(CancellationToken cancellationToken = default) =>
        RunAsync<IReadOnlyList<ConnectorInfo>>("list connectors", async (connection, ct) =>
        {
            var rows = await connection.QueryAsync<ConnectorRow>(Command(Sql.ListConnectors, null, null, ct));
            return rows.Select(r => Open(r, "list connectors")).ToList();
        }, cancellationToken);

    private ConnectorInfo Open(ConnectorRow row, string operation) =>
        _secrets.Open(row.Id, row.Type, row.ParseSettings(), Describe(operation)) with { Owner = row.Owner, Shared = row.Shared };

    public Task SaveConnectorAsync(ConnectorInfo connector, CancellationToken cancellationToken = default) =>
        SaveAsync(Sql.SaveConnector, "save connector", connector, cancellationToken);

    public async Task<bool> SaveOwnConnectorAsync(ConnectorInfo connector, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connector);
        ArgumentNullException.ThrowIfNull(connector.Owner, "connector.Owner");
        return await SaveAsync(Sql.SaveOwnConnector, "save connector", connector, cancellationToken) > 0;
    }

    private async Task<int> SaveAsync(string sql, string operation, ConnectorInfo connector, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connector);
        // Sealed before anything is written: without a key, a connector with secrets is refused whole.
        var settings = ConnectorRow.SerializeSettings(_secrets.Seal(connector.Id, connector.Settings, Describe(operation)));
        return await RunAsync(operation, (connection, ct) =>
            connection.ExecuteAsync(Command(sql, new { connector.Id, connector.Type, Settings = settings, connector.Owner, connector.Shared }, null, ct)),
            cancellationToken);
    }

    public Task<bool> DeleteConnectorAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        return RunAsync("delete connector", async (connection, ct) =>
            await connection.ExecuteAsync(Command(Sql.DeleteConnector, new { Id = id }, null, ct)) > 0,
            cancellationToken);
    }

    public Task<bool> DeleteOwnConnectorAsync(string id, string owner, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentNullException.ThrowIfNull(owner);
        return RunAsync("delete connector", async (connection, ct) =>
            await connection.ExecuteAsync(Command(Sql.DeleteOwnConnector, new { Id = id, Owner = owner }, null, ct)) > 0,
            cancellationToken);
    }

    public ValueTask DisposeAsync() => _dialect.DisposeAsync();

    // ------------------------------------------------------------------ plumbing

    private DateTime Now() => DbTime.Normalize(_clock.GetUtcNow().UtcDateTime);

    private CommandDefinition Command(string sql, object? parameters, DbTransaction? transaction, CancellationToken ct)
    {
        SqlCatalogue.AssertKnown(sql);
        return new(sql, parameters, transaction, Timeout, cancellationToken: ct);
    }

    /// <summary>
    /// Opens a connection, runs <paramref name="body"/>, and turns any database failure into a
    /// <c>backend</c> <see cref="MlModelException"/> (a unique violation into <c>conflict</c>
    /// when <paramref name="conflict"/> says what it means). Cancellation stays an
    /// <see cref="OperationCanceledException"/>.
    /// </summary>
    private async Task<T> RunAsync<T>(
        string operation,
        Func<DbConnection, CancellationToken, Task<T>> body,
        CancellationToken cancellationToken,
        bool initialize = true,
        string? conflict = null)
    {
        if (initialize)
        {
            await EnsureInitializedAsync(cancellationToken);
        }
        try
        {
            await using var connection = await _dialect.OpenAsync(cancellationToken);
            return await body(connection, cancellationToken);
        }
        catch (Exception ex) when (conflict is not null && _dialect.IsUniqueViolation(ex))
        {
            throw new MlModelException(ErrorCodes.Conflict, $"{Describe(operation)}: {conflict}.", ex);
        }
        catch (Exception ex) when (IsBackendFailure(ex))
        {
            throw Failure(operation, ex, cancellationToken);
        }
    }

    // Anything else a provider throws is a backend failure: callers see one exception type.
    private static bool IsBackendFailure(Exception exception) =>
        exception is not (MlModelException or OperationCanceledException);

    private Exception Failure(string operation, Exception exception, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            // A provider that reports a cancelled command in its own terms.
            return new OperationCanceledException($"{Describe(operation)} was cancelled.", exception, cancellationToken);
        }
        // The machine's part when the dialect can tell it ("no space left on device" rather than
        // SQLite's "disk I/O error"); else the provider's message and the first inner one
        // ("Failed to connect to 127.0.0.1:1: Connection refused"). The password, if it were
        // ever echoed, is masked.
        var detail = _dialect.Explain(exception) ?? exception.Message.TrimEnd('.');
        if (detail == exception.Message.TrimEnd('.') && exception.InnerException is { } inner && !detail.Contains(inner.Message, StringComparison.Ordinal))
        {
            detail += ": " + inner.Message.TrimEnd('.');
        }
        return new MlModelException(ErrorCodes.Backend, _dialect.Redact($"{Describe(operation)} failed: {detail}."), exception);
    }

    private string Describe(string operation) => $"{_dialect.Kind} model repository at {_dialect.Location}: {operation}";
}
