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
    private readonly SqliteOpenMode _mode;
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
        _mode = builder.Mode;
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
            // The folders above the file, and the file itself for its owner only (0600).
            PrepareFile();
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

    /// <summary>
    /// SQLite creates the file but not the folders above it; they are created here, on Unix
    /// for the owner only (0700). The file is created here too, empty (which SQLite takes as a
    /// new database) and 0600, because SQLite would create it 0644 less the umask, and gives
    /// its -wal, -shm and -journal files the mode of the database file: so they are 0600 too.
    /// Existing folders and files keep their modes.
    /// </summary>
    private void PrepareFile()
    {
        var folder = Path.GetDirectoryName(DatabasePath);
        if (!string.IsNullOrEmpty(folder))
        {
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(folder);
            }
            else
            {
                Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }
        if (_mode != SqliteOpenMode.ReadWriteCreate || OperatingSystem.IsWindows() || File.Exists(DatabasePath) || Directory.Exists(DatabasePath))
        {
            // (A folder in the file's place is left for the open to fail on, with its explanation.)
            return;
        }
        try
        {
            using var created = new FileStream(DatabasePath, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
        }
        catch (IOException) when (File.Exists(DatabasePath))
        {
            // Another connection or process created it meanwhile.
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

    /// <summary>
    /// An exclusive lock on a file per model in <c>&lt;database&gt;.locks/</c>: .NET takes
    /// flock(LOCK_EX | LOCK_NB) for <see cref="FileShare.None"/> on Unix, which excludes every
    /// other open of the file, in this process or another, and the kernel drops it when the
    /// holder dies. The files stay (a few empty files, one per model ever changed): removing
    /// a lock file while another process waits on it would let two holders in.
    /// </summary>
    public override async Task<IAsyncDisposable> LockModelAsync(string user, string name, CancellationToken cancellationToken)
    {
        var folder = DatabasePath + ".locks";
        Directory.CreateDirectory(folder);
        // Names are letters, digits, '_', '.' and '-' (spec B.2): safe as a file name as they are.
        var path = Path.Combine(folder, user + "+" + name + ".lock");
        var delay = 5;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                return new FileLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None));
            }
            catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException && e.HResult is 11 or 35 or unchecked((int)0x80070020))
            {
                // EWOULDBLOCK/EAGAIN (Linux 11, macOS 35), or a sharing violation (Windows): held by another.
                await Task.Delay(delay, cancellationToken);
                delay = Math.Min(delay * 2, 50);
            }
        }
    }

    private sealed class FileLock(FileStream stream) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => stream.DisposeAsync();
    }

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
