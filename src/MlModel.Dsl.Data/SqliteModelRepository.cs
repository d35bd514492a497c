using MlModel.Dsl.Backends;
using MlModel.Dsl.Data.Internal;

namespace MlModel.Dsl.Data;

/// <summary>
/// The model repository in one SQLite file: the embedded default. The file and its folder are
/// created on first use; the database runs in WAL mode (a streaming <c>list</c> does not block
/// writers), with foreign keys on and a busy timeout so concurrent writers queue instead of failing.
/// </summary>
/// <remarks>
/// The schema is created or upgraded by <see cref="ModelRepository.InitializeAsync"/>, or by the first call
/// that needs it. Several processes may share the file: writers take SQLite's write lock up
/// front (<c>BEGIN IMMEDIATE</c>). Database failures surface as <see cref="MlModelException"/>
/// with code <see cref="ErrorCodes.Backend"/>.
/// </remarks>
public sealed class SqliteModelRepository : ModelRepository
{
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
        : this(Dialect(databasePathOrConnectionString, options ??= new ModelRepositoryOptions()), options)
    {
    }

    private SqliteModelRepository(SqliteDialect dialect, ModelRepositoryOptions options)
        : base(dialect, options)
    {
        _dialect = dialect;
    }

    private static SqliteDialect Dialect(string databasePathOrConnectionString, ModelRepositoryOptions options) =>
        new(databasePathOrConnectionString, options.BusyTimeout) { CommandTimeoutSeconds = Seconds(options.CommandTimeout) };

    /// <summary>The full path of the database file.</summary>
    public string DatabasePath => _dialect.DatabasePath;
}
