using MlModel.Dsl.Data;
using MlModel.Dsl.IntegrationTests.Support;
using Npgsql;

namespace MlModel.Dsl.IntegrationTests.Execution;

/// <summary>The whole command set on a real PostgreSQL server, as a deployment at scale runs it.</summary>
public class PostgresEngineTests
{
    private string _database = null!;
    private string _connectionString = null!;
    private EngineHarness _h = null!;

    [SetUp]
    public async Task SetUp()
    {
        _database = "mlmodel_engine_" + Guid.NewGuid().ToString("N")[..12];
        await using (var admin = new NpgsqlConnection(TestServices.Postgres))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {_database}", admin);
            await create.ExecuteNonQueryAsync();
        }
        _connectionString = new NpgsqlConnectionStringBuilder(TestServices.Postgres) { Database = _database }.ConnectionString;
        _h = new EngineHarness(repository: new PostgresModelRepository(_connectionString));
    }

    [TearDown]
    public async Task TearDown()
    {
        _h.Dispose();
        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(TestServices.Postgres);
        await admin.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {_database} WITH (FORCE)", admin);
        await drop.ExecuteNonQueryAsync();
    }

    [Test]
    public async Task Import_list_summary_deploy_stop_delete_and_history_run_on_postgresql()
    {
        (await _h.ImportHalfPlusTwoAsync("mnist_v1")).Should().Be(1);
        (await _h.ImportHalfPlusTwoAsync("mnist_v1")).Should().Be(2);
        (await _h.RunAsync("mlmodel list")).Select(r => r[3]).Should().Equal(1, 2);
        (await _h.RunAsync("mlmodel summary name=mnist_v1")).First(r => (string)r[0]! == "version")[1].Should().Be("2");
        (await _h.RunAsync("mlmodel deploy name=mnist_v1 label=stable")).Single().Should().Equal("on", 2, "root_mnist_v1");
        (await _h.RunAsync("mlmodel stop name=mnist_v1")).Single().Should().Equal("off");
        (await _h.RunAsync("mlmodel delete name=mnist_v1 version=2")).Single().Should().Equal("ok");
        (await _h.ImportHalfPlusTwoAsync("mnist_v1")).Should().Be(3, "versions are never reused");
        (await _h.RunAsync("mlmodel history name=mnist_v1")).Select(r => r[2])
            .Should().Equal("import", "delete", "stop", "deploy", "import", "import");
    }

    [Test]
    public async Task Eight_concurrent_imports_on_separate_connections_get_eight_versions()
    {
        var key = _h.PutObject("USERS/root/m.tar", Archives.FromFolder(TestPaths.Model("saved_model_half_plus_two_cpu")));
        await _h.Engine.InitializeAsync();
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            var options = _h.Options;
            var engine = new MlModelEngine(new MlModelOptions
            {
                Repository = new PostgresModelRepository(_connectionString),
                ModelStore = options.ModelStore,
                Serving = options.Serving,
            }.WithConnectors(options.Connectors));
            using var r = await engine.ExecuteAsync($"mlmodel import name=m analysis_tool=tf kind=k algorithm=deep format=saved_model connector_id=local path={key}", EngineHarness.Root);
            return (int)r.First()[2]!;
        }));
        results.Should().BeEquivalentTo(Enumerable.Range(1, 8));
    }
}

internal static class OptionsExtensions
{
    public static MlModelOptions WithConnectors(this MlModelOptions options, IEnumerable<Backends.ConnectorInfo> connectors)
    {
        foreach (var c in connectors)
        {
            options.Connectors.Add(c);
        }
        return options;
    }
}
