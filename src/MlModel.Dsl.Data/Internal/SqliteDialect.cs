using System.Data.Common;
using MlModel.Dsl.Backends.Local;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace MlModel.Dsl.Data.Internal;

internal sealed class SqliteDialect : SqlDialect
{
    private readonly string _connectionString;
    private readonly string? _password;
    private readonly int _busyMilliseconds;
    private volatile bool _folderReady;

    // What the file was when this dialect first opened it.
    private FileFound _foundAtFirstOpen;

    private enum FileFound
    {
        Existing,
        Missing,
        Empty,
    }

    /// <summary>
    /// <paramref name="pathOrConnectionString"/> is a connection string when it parses as one
    /// and names a Data Source; anything else is taken as a file path.
    /// </summary>
    public SqliteDialect(string pathOrConnectionString, TimeSpan busyTimeout)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pathOrConnectionString);
        var builder = TryParse(pathOrConnectionString) ?? new SqliteConnectionStringBuilder { DataSource = pathOrConnectionString };
        if (builder.Mode == SqliteOpenMode.Memory || builder.DataSource is ":memory:" || builder.DataSource.Length == 0)
        {
            // Every operation opens its own connection: an in-memory database would be empty each time.
            throw new ArgumentException("The SQLite model repository needs a database file, not an in-memory database.", nameof(pathOrConnectionString));
        }
        builder.DataSource = Path.GetFullPath(builder.DataSource);
        // Foreign keys and the busy timeout are set on the native handle at each open (see
        // Open); the connection-string keyword would run a PRAGMA statement per open instead.
        builder.ForeignKeys = null;
        builder.Pooling = true;
        // Microsoft.Data.Sqlite also retries a busy statement until its command timeout; keep
        // that in step with busy_timeout.
        builder.DefaultTimeout = (int)Math.Clamp(Math.Ceiling(busyTimeout.TotalSeconds), 1, int.MaxValue);
        DatabasePath = builder.DataSource;
        _password = builder.Password;
        _connectionString = builder.ConnectionString;
        _busyMilliseconds = (int)Math.Clamp(busyTimeout.TotalMilliseconds, 0, int.MaxValue);
    }

    public string DatabasePath { get; }

    public override string Kind => "SQLite";

    public override string Location => DatabasePath;

    public override DbConnection Open()
    {
        if (!_folderReady)
        {
            if (_foundAtFirstOpen == FileFound.Existing)
            {
                _foundAtFirstOpen = FileState();
            }
            // SQLite creates the file but not the folders above it.
            var folder = Path.GetDirectoryName(DatabasePath);
            if (!string.IsNullOrEmpty(folder))
            {
                Directory.CreateDirectory(folder);
            }
            _folderReady = true;
        }
        var connection = new SqliteConnection(_connectionString);
        try
        {
            connection.Open();
            // Per connection, and cheap: C calls on the handle, no statement to compile.
            // Foreign keys carry ON DELETE CASCADE of the manifest; the busy timeout makes a
            // writer queue behind another's lock instead of failing at once.
            var handle = connection.Handle!;
            Check(raw.sqlite3_busy_timeout(handle, _busyMilliseconds), handle);
            Check(raw.sqlite3_db_config(handle, raw.SQLITE_DBCONFIG_ENABLE_FKEY, 1, out _), handle);
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private static void Check(int result, sqlite3 handle)
    {
        if (result != raw.SQLITE_OK)
        {
            throw new SqliteException(raw.sqlite3_errmsg(handle).utf8_to_string(), result);
        }
    }

    public override IEnumerator<MlModel.Dsl.Backends.ModelListEntry>? ReadListEntries(DbConnection connection, string sql, MlModel.Dsl.Backends.ModelFilter filter) =>
        SqliteListReader.TryOpen((SqliteConnection)connection, sql, filter);

    // Microsoft.Data.Sqlite does its I/O synchronously; the async path would only add a state machine.
    public override ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Open());
    }

    public override string? DescribeNewBeforeOpening() => _folderReady
        ? null
        : FileState() switch
        {
            FileFound.Missing => $"the SQLite database {DatabasePath} does not exist",
            FileFound.Empty => $"the SQLite database {DatabasePath} is empty (0 bytes)",
            _ => null,
        };

    public override string DescribeUnused() => _foundAtFirstOpen switch
    {
        FileFound.Missing => $"the SQLite database {DatabasePath} did not exist when this process opened it",
        FileFound.Empty => $"the SQLite database {DatabasePath} was empty (0 bytes) when this process opened it",
        _ => base.DescribeUnused(),
    };

    /// <summary>
    /// Missing or empty when SQLite would make a new database of the file (an empty one with an
    /// empty or no write-ahead log).
    /// </summary>
    private FileFound FileState()
    {
        var file = new FileInfo(DatabasePath);
        if (!file.Exists)
        {
            return Directory.Exists(DatabasePath) ? FileFound.Existing : FileFound.Missing;
        }
        var wal = new FileInfo(DatabasePath + "-wal");
        return file.Length == 0 && (!wal.Exists || wal.Length == 0) ? FileFound.Empty : FileFound.Existing;
    }

    // SQLite's primary result codes for failures that may lie in the file system.
    private const int SqlitePerm = 3;
    private const int SqliteReadOnly = 8;
    private const int SqliteIoError = 10;
    private const int SqliteFull = 13;
    private const int SqliteCantOpen = 14;

    /// <summary>
    /// SQLite reports no error number ("disk I/O error", "unable to open database file"): the
    /// database's folder is looked at, and written to, to find the cause (read-only, full, a file
    /// in the way), which is what the user needs to know.
    /// </summary>
    public override string? Explain(Exception exception)
    {
        var folder = Path.GetDirectoryName(DatabasePath)!;
        switch (exception)
        {
            case SqliteException { SqliteErrorCode: SqliteFull }:
                return FileSystemErrors.Describe(FileSystemErrors.Enospc);
            case SqliteException { SqliteErrorCode: SqlitePerm or SqliteReadOnly or SqliteIoError or SqliteCantOpen }:
                if (Directory.Exists(DatabasePath))
                {
                    return $"{DatabasePath} is a folder, not a file";
                }
                return FileSystemErrors.ProbeWrite(folder);
            case IOException or UnauthorizedAccessException:
                // Creating the database's folder.
                return FileSystemErrors.Reason(exception, folder);
            default:
                return null;
        }
    }

    public override ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        ValueTask.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(deferred: false));

    public override Task PrepareAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        // WAL lets readers (a streaming list) run beside a writer; the mode is stored in the
        // file, and it cannot be switched inside a transaction, hence here.
        using var command = connection.CreateCommand();
        command.CommandText = WalMode;
        var mode = command.ExecuteScalar() as string;
        if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"The database did not switch to WAL journal mode (it reports '{mode}').");
        }
        return Task.CompletedTask;
    }

    // BEGIN IMMEDIATE (BeginWriteAsync) already excludes every other writer.
    public override Task LockSchemaAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) =>
        Task.CompletedTask;

    private const string SchemaTable =
        "CREATE TABLE IF NOT EXISTS mlmodel_schema (version INTEGER PRIMARY KEY, applied TEXT NOT NULL) STRICT";

    private const string WalMode = "PRAGMA journal_mode = WAL";

    public override string CreateSchemaTable => SchemaTable;

    public override IReadOnlyList<string> Script(Migration migration) => migration.Sqlite;

    public override object Time(DateTime utc) => DbTime.ToSqliteText(utc);

    public override bool IsUniqueViolation(Exception exception) =>
        exception is SqliteException { SqliteErrorCode: 19, SqliteExtendedErrorCode: 2067 or 1555 };

    public override string Redact(string message) => RedactSecret(message, _password);

    public override ValueTask DisposeAsync()
    {
        // Close this file's pooled handles, so the file (and its -wal, -shm) can be moved or removed.
        using var connection = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(connection);
        return ValueTask.CompletedTask;
    }

    private static SqliteConnectionStringBuilder? TryParse(string text)
    {
        if (!text.Contains('=', StringComparison.Ordinal))
        {
            return null;
        }
        try
        {
            var builder = new SqliteConnectionStringBuilder(text);
            return builder.DataSource.Length > 0 ? builder : null;
        }
        catch (ArgumentException)
        {
            return null;   // a path that happens to contain '='
        }
    }
}
