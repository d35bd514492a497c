using System.Data.Common;
using Dapper;
using Npgsql;

namespace MlModel.Dsl.Data.Internal;

internal sealed class PostgresDialect : SqlDialect
{
    // pg_advisory_xact_lock key for migrations: "mlmodel" in ASCII. Advisory locks are per
    // database, so repositories in different databases of one cluster do not wait for each other.
    private const long SchemaLockKey = 0x6D6C6D6F64656C;

    private readonly NpgsqlDataSource _dataSource;
    private readonly string? _password;

    public PostgresDialect(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException)
        {
            // The provider's message names the keyword at fault, never the value.
            throw new ArgumentException("Invalid PostgreSQL connection string: " + ex.Message, nameof(connectionString));
        }
        _password = builder.Password;
        Location = $"{builder.Host}:{builder.Port}/{builder.Database ?? builder.Username}";
        // One data source (and pool) per repository: disposing the repository closes its connections.
        _dataSource = NpgsqlDataSource.Create(builder);
    }

    public override string Kind => "PostgreSQL";

    public override string Location { get; }

    public override DbConnection Open() => _dataSource.OpenConnection();

    public override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await _dataSource.OpenConnectionAsync(cancellationToken);

    // Read committed is enough: the statements that must not interleave take row locks
    // (ON CONFLICT DO UPDATE) or the advisory lock.
    public override async ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        await connection.BeginTransactionAsync(cancellationToken);

    public override Task PrepareAsync(DbConnection connection, CancellationToken cancellationToken) => Task.CompletedTask;

    // Taken first in the migration transaction, so two processes never race on CREATE TABLE IF
    // NOT EXISTS (which is not concurrency-safe in PostgreSQL); released at commit or rollback.
    public override Task LockSchemaAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition(
            LockSchema, new { Key = SchemaLockKey }, transaction,
            CommandTimeoutSeconds, cancellationToken: cancellationToken));

    private const string SchemaTable =
        "CREATE TABLE IF NOT EXISTS mlmodel_schema (version integer PRIMARY KEY, applied timestamptz NOT NULL)";

    private const string LockSchema = "SELECT pg_advisory_xact_lock(@Key)";

    // Model locks use the two-key form, whose key space is separate from the one-key form of
    // the schema lock: (ModelLockClass, hash of user/name). A collision of two models' hashes
    // only makes their changes wait for each other.
    private const int ModelLockClass = 0x6D6C6D64; // "mlmd"

    private const string LockModel = "SELECT pg_advisory_lock(@Class, @Key)";

    private const string UnlockModel = "SELECT pg_advisory_unlock(@Class, @Key)";

    /// <summary>
    /// A session-level advisory lock on a connection of its own, held until disposed: it spans
    /// hosts that share the database, and the server releases it when the session ends, so a
    /// killed holder never leaves the model locked.
    /// </summary>
    public override async Task<IAsyncDisposable> LockModelAsync(string user, string name, CancellationToken cancellationToken)
    {
        var key = ModelLockKey(user, name);
        var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            // No command timeout: the caller's token bounds the wait (Npgsql cancels the query on it).
            await connection.ExecuteAsync(new CommandDefinition(LockModel, new { Class = ModelLockClass, Key = key }, commandTimeout: 0, cancellationToken: cancellationToken));
            return new AdvisoryLock(connection, key);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    internal static int ModelLockKey(string user, string name)
    {
        // FNV-1a over the UTF-8 of "user/name": stable across processes and .NET versions.
        var hash = 2166136261u;
        foreach (var b in System.Text.Encoding.UTF8.GetBytes(user + "/" + name))
        {
            hash = (hash ^ b) * 16777619u;
        }
        return unchecked((int)hash);
    }

    private sealed class AdvisoryLock(NpgsqlConnection connection, int key) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            try
            {
                await connection.ExecuteAsync(new CommandDefinition(UnlockModel, new { Class = ModelLockClass, Key = key }));
            }
            catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
            {
                // The session ends below, and with it the lock.
            }
            finally
            {
                // A pooled connection is reset on return (DISCARD ALL releases advisory locks too).
                await connection.DisposeAsync();
            }
        }
    }

    public override string CreateSchemaTable => SchemaTable;

    public override IReadOnlyList<string> Script(Migration migration) => migration.Postgres;

    public override object Time(DateTime utc) => utc;

    public override bool IsUniqueViolation(Exception exception) =>
        exception is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    public override string Redact(string message) => RedactSecret(message, _password);

    public override ValueTask DisposeAsync() => _dataSource.DisposeAsync();
}
