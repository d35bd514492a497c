using System.Data.Common;
using Microsoft.Data.Sqlite;
using MlModel.Dsl.Backends;

namespace MlModel.Dsl.Data.Tests.Support;

/// <summary>A real database file in a temporary folder of its own, removed afterwards.</summary>
public sealed class SqliteTestDatabase : TestDatabase
{
    private readonly string _folder;

    private SqliteTestDatabase(string folder)
    {
        _folder = folder;
        // A sub-folder that does not exist yet: the repository must create it.
        FilePath = Path.Combine(folder, "db", "models.db");
    }

    public static Task<TestDatabase> CreateAsync()
    {
        var folder = Path.Combine(Path.GetTempPath(), "mlmodel-data-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        return Task.FromResult<TestDatabase>(new SqliteTestDatabase(folder));
    }

    public string FilePath { get; }

    public override string Kind => "SQLite";

    protected override IModelRepository NewRepository(ModelRepositoryOptions? options) => new SqliteModelRepository(FilePath, options);

    public override IModelRepository CreateUnreachableRepository()
    {
        // The folder cannot be created: a regular file is in the way.
        var blocker = Path.Combine(_folder, "not-a-folder");
        File.WriteAllText(blocker, "x");
        return new SqliteModelRepository($"Data Source={Path.Combine(blocker, "models.db")};Password={Secret}");
    }

    public override Task<TestDatabase> CreateSiblingAsync() => CreateAsync();

    public override async Task<DbConnection> OpenAsync()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = FilePath, ForeignKeys = true, Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder is not a test failure.
        }
    }
}
