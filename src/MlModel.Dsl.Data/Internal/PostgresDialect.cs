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

    public override string CreateSchemaTable => SchemaTable;

    public override IReadOnlyList<string> Script(Migration migration) => migration.Postgres;

    public override object Time(DateTime utc) => utc;

    public override bool IsUniqueViolation(Exception exception) =>
        exception is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    public override string Redact(string message) => RedactSecret(message, _password);

    public override ValueTask DisposeAsync() => _dataSource.DisposeAsync();
}
