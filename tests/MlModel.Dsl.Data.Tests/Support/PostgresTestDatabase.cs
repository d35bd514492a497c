using System.Data.Common;
using Dapper;
using MlModel.Dsl.Backends;
using Npgsql;

namespace MlModel.Dsl.Data.Tests.Support;

/// <summary>
/// A database of its own (<c>mlmodel_test_&lt;guid&gt;</c>) on the server named by
/// <c>MLMODEL_TEST_PG</c>, dropped afterwards. Without the variable the tests fail: a suite
/// that silently skips its server half proves nothing.
/// </summary>
public sealed class PostgresTestDatabase : TestDatabase
{
    public const string Variable = "MLMODEL_TEST_PG";

    private readonly string _adminConnectionString;
    private readonly string _databaseName;

    private PostgresTestDatabase(string adminConnectionString, string databaseName, string connectionString)
    {
        _adminConnectionString = adminConnectionString;
        _databaseName = databaseName;
        ConnectionString = connectionString;
    }

    public string ConnectionString { get; }

    public override string Kind => "PostgreSQL";

    public static string AdminConnectionString()
    {
        var value = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrWhiteSpace(value))
        {
            Assert.Fail($"{Variable} is not set, so the PostgreSQL half of the repository suite cannot run. " +
                "Start the test services (`scripts/services.sh start`, then `. .tmp/services/services.env`) or export " +
                $"{Variable}='Host=127.0.0.1;Port=5432;Username=postgres;Database=postgres' for a server where that user may CREATE DATABASE.");
        }
        return value!;
    }

    public static async Task<TestDatabase> CreateAsync()
    {
        var admin = AdminConnectionString();
        var name = "mlmodel_test_" + Guid.NewGuid().ToString("N");
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            // The name is ours (a GUID), not input; CREATE DATABASE takes no parameters.
            await connection.ExecuteAsync($"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'");
        }
        var builder = new NpgsqlConnectionStringBuilder(admin)
        {
            Database = name,
            // Small pool and short timeout: a leaked connection shows up as a failure, not a hang.
            MaxPoolSize = 20,
            Timeout = 10,
        };
        return new PostgresTestDatabase(admin, name, builder.ConnectionString);
    }

    protected override IModelRepository NewRepository(ModelRepositoryOptions? options) => new PostgresModelRepository(ConnectionString, options);

    public override IModelRepository CreateUnreachableRepository() =>
        // Port 1 (tcpmux) is closed on any test machine: connection refused at once.
        new PostgresModelRepository($"Host=127.0.0.1;Port=1;Database=mlmodel;Username=mlmodel;Password={Secret};Timeout=3");

    public override Task<TestDatabase> CreateSiblingAsync() => CreateAsync();

    public override async Task<DbConnection> OpenAsync()
    {
        var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(_adminConnectionString);
        await connection.OpenAsync();
        await connection.ExecuteAsync($"DROP DATABASE IF EXISTS {_databaseName} WITH (FORCE)");
    }
}
