using System.Data.Common;

namespace MlModel.Dsl.Data.Internal;

/// <summary>
/// The few things SQLite and PostgreSQL do differently: how a connection opens, how a writer
/// takes its lock, how a time is bound, how the schema is locked while it migrates, and the
/// DDL. Everything else is <see cref="DapperModelRepository"/>.
/// </summary>
internal abstract class SqlDialect
{
    /// <summary>"SQLite" or "PostgreSQL", for error messages.</summary>
    public abstract string Kind { get; }

    /// <summary>Where the database is (file, or host, port and database), without secrets.</summary>
    public abstract string Location { get; }

    /// <summary>Seconds a command may run; null for the provider default.</summary>
    public int? CommandTimeoutSeconds { get; init; }

    /// <summary>An open connection, set up for the repository.</summary>
    public abstract DbConnection Open();

    /// <inheritdoc cref="Open"/>
    public abstract ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>
    /// A transaction that holds the database's write lock from its first statement
    /// (SQLite: <c>BEGIN IMMEDIATE</c>), so a read-then-write inside it cannot be overtaken.
    /// </summary>
    public abstract ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>Work that must happen before the migration transaction (SQLite: WAL).</summary>
    public abstract Task PrepareAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>Serialises migrations across processes inside <paramref name="transaction"/>.</summary>
    public abstract Task LockSchemaAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken);

    /// <summary>Creates <c>mlmodel_schema</c> when it is missing.</summary>
    public abstract string CreateSchemaTable { get; }

    /// <summary>The statements of <paramref name="migration"/> for this database.</summary>
    public abstract IReadOnlyList<string> Script(Migration migration);

    /// <summary>A normalised UTC time as this database binds it.</summary>
    public abstract object Time(DateTime utc);

    /// <summary>Whether <paramref name="exception"/> is a unique-constraint violation.</summary>
    public abstract bool IsUniqueViolation(Exception exception);

    /// <summary>
    /// For <see cref="DapperModelRepository.DescribeIfNewAsync"/>: when the database has not been
    /// opened yet and can be seen to be new without opening it (SQLite: no file, or an empty
    /// one), what was found; null otherwise. Creates nothing.
    /// </summary>
    public virtual string? DescribeNewBeforeOpening() => null;

    /// <summary>What to call a database that is open but has never been used (no version ever allocated).</summary>
    public virtual string DescribeUnused() => $"the {Kind} database {Location} holds no model and has never allocated a version";

    /// <summary>
    /// The cause of a failure, in words, when it lies in the machine rather than in the database
    /// (SQLite's "disk I/O error" on a full disk); null to report the provider's own message.
    /// </summary>
    public virtual string? Explain(Exception exception) => null;

    /// <summary>Removes anything secret (the password) from a message that goes to the caller.</summary>
    public abstract string Redact(string message);

    /// <summary>
    /// Rows of <paramref name="sql"/> (one of <see cref="Sql.ListEntryVariants"/>) read by the
    /// database's own faster path, on <paramref name="connection"/>; null to read them through
    /// Dapper. The enumerator is disposed before the connection.
    /// </summary>
    public virtual IEnumerator<Backends.ModelListEntry>? ReadListEntries(DbConnection connection, string sql, Backends.ModelFilter filter) => null;

    /// <summary>The cross-process lock of one model (<see cref="Backends.IModelRepository.LockModelAsync"/>).</summary>
    public abstract Task<IAsyncDisposable> LockModelAsync(string user, string name, CancellationToken cancellationToken);

    /// <summary>Releases what the dialect holds (pools, data sources).</summary>
    public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;

    protected static string RedactSecret(string message, string? secret) =>
        string.IsNullOrEmpty(secret) ? message : message.Replace(secret, "***", StringComparison.Ordinal);
}
