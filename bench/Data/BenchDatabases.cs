using Dapper;
using Microsoft.Data.Sqlite;
using MlModel.Dsl.Backends;
using Npgsql;

namespace MlModel.Dsl.Data.Benchmarks;

/// <summary>
/// The two seeded databases the benchmarks read: 100,000 versions (10 users x 100 models x
/// 100 versions). They are seeded once by the host process, before BenchmarkDotNet starts its
/// per-benchmark processes, and found again by fixed names.
/// </summary>
public static class BenchDatabases
{
    public const int Users = 10;
    public const int ModelsPerUser = 100;
    public const int VersionsPerModel = 100;
    public const int Rows = Users * ModelsPerUser * VersionsPerModel;

    public const string Sqlite = "SQLite";
    public const string Postgres = "PostgreSQL";

    private const string PostgresDatabaseName = "mlmodel_bench_100000";

    public static string SqlitePath { get; } = Path.Combine(Path.GetTempPath(), "mlmodel-bench", "models-100000.db");

    /// <summary>The server: MLMODEL_BENCH_PG, else MLMODEL_TEST_PG (a user that may CREATE DATABASE).</summary>
    public static string? PostgresAdmin =>
        Environment.GetEnvironmentVariable("MLMODEL_BENCH_PG") is { Length: > 0 } bench ? bench
        : Environment.GetEnvironmentVariable("MLMODEL_TEST_PG") is { Length: > 0 } test ? test
        : null;

    public static string PostgresConnectionString =>
        new NpgsqlConnectionStringBuilder(PostgresAdmin ?? throw new InvalidOperationException(
            "Set MLMODEL_BENCH_PG or MLMODEL_TEST_PG to a PostgreSQL connection string to run the PostgreSQL benchmarks."))
        { Database = PostgresDatabaseName }.ConnectionString;

    public static IModelRepository Open(string database) => database switch
    {
        Sqlite => new SqliteModelRepository(SqlitePath),
        Postgres => new PostgresModelRepository(PostgresConnectionString),
        _ => throw new ArgumentOutOfRangeException(nameof(database), database, null),
    };

    /// <summary>The i-th seeded user and model, as the benchmarks ask for them.</summary>
    public static string User(int i) => $"user{i:D2}";

    public static string Model(int i) => $"model_{i:D3}";

    /// <summary>Creates and fills whichever database is missing or incomplete.</summary>
    public static async Task PrepareAsync(bool postgres)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(SqlitePath)!);
        await SeedAsync(Sqlite);
        if (postgres)
        {
            await using (var admin = new NpgsqlConnection(PostgresAdmin))
            {
                await admin.OpenAsync();
                var exists = await admin.ExecuteScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = @Name)", new { Name = PostgresDatabaseName });
                if (!exists)
                {
                    await admin.ExecuteAsync($"CREATE DATABASE {PostgresDatabaseName} TEMPLATE template0 ENCODING 'UTF8'");
                }
            }
            await SeedAsync(Postgres);
        }
    }

    public static async Task DropAsync(bool postgres)
    {
        SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(SqlitePath + suffix);
        }
        if (postgres)
        {
            NpgsqlConnection.ClearAllPools();
            await using var admin = new NpgsqlConnection(PostgresAdmin);
            await admin.OpenAsync();
            await admin.ExecuteAsync($"DROP DATABASE IF EXISTS {PostgresDatabaseName} WITH (FORCE)");
        }
    }

    private static async Task SeedAsync(string database)
    {
        var repository = Open(database);
        try
        {
            await repository.InitializeAsync();
            var present = repository.List(new ModelFilter()).Count();
            if (present == Rows)
            {
                Console.WriteLine($"{database}: {Rows:N0} versions already seeded.");
                return;
            }
            if (present != 0)
            {
                throw new InvalidOperationException($"{database} holds {present:N0} versions, not {Rows:N0}: run with --drop first.");
            }
            var started = DateTime.UtcNow;
            var core = repository switch
            {
                SqliteModelRepository s => s.Core,
                PostgresModelRepository p => p.Core,
                _ => throw new InvalidOperationException(),
            };
            // Reads only: the version counters are left alone.
            for (var u = 0; u < Users; u++)
            {
                // One transaction per user: 10,000 rows.
                await core.InsertManyAsync(
                    from m in Enumerable.Range(0, ModelsPerUser)
                    from v in Enumerable.Range(1, VersionsPerModel)
                    select (Row(u, m, v), (IReadOnlyList<ModelFile>)[]));
            }
            Console.WriteLine($"{database}: seeded {Rows:N0} versions in {(DateTime.UtcNow - started).TotalSeconds:F0} s.");
        }
        finally
        {
            await ((IAsyncDisposable)repository).DisposeAsync();
        }
    }

    // About 1 KB per row, shaped like the spec's examples.
    private static ModelVersion Row(int user, int model, int version)
    {
        var created = new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddMinutes((user * ModelsPerUser + model) * VersionsPerModel + version);
        return new ModelVersion
        {
            User = User(user),
            Name = Model(model),
            Version = version,
            Description = $"모델 설명입니다. {model}번 모델의 {version}번째 버전",
            AnalysisTool = model % 3 == 0 ? "spark" : "tf",
            Kind = "classification",
            Algorithm = model % 3 == 0 ? "RandomForestClassifier" : "deep",
            Feature = "pixel_0, pixel_1, pixel_2, pixel_3",
            Label = "digit",
            Filename = model % 3 == 0 ? "metadata" : "saved_model.pb",
            Format = model % 3 == 0 ? "spark" : "saved_model",
            Parameter = """{"epochs": 3, "batch_size": 64, "train_validation_ratio": 0.8}""",
            Evaluation = """[{"losses": {"loss": 0.2996, "val_loss": 0.1435}, "metrics": {"acc": 0.9142, "val_acc": 0.9583}}, {"losses": {"loss": 0.1201, "val_loss": 0.0963}, "metrics": {"acc": 0.9641, "val_acc": 0.9712}}, {"losses": {"loss": 0.0811, "val_loss": 0.0802}, "metrics": {"acc": 0.9755, "val_acc": 0.9760}}]""",
            CrossValidation = "{}",
            GridInfo = "{}",
            TrainCnt = 55_260 + version,
            Elapsed = 569.0207872390747 + version,
            Dictionary = "dict.tsv",
            Serving = version == VersionsPerModel,
            ServingName = $"{User(user)}_{Model(model)}",
            State = ModelStates.Done,
            DataModelName = "mnist_train",
            Query = "model mnist_train | fit deep label=digit",
            StorageKey = $"models/{User(user)}/{Model(model)}/{version}/",
            SizeBytes = 48_213_000 + version,
            Created = created,
            Modified = created.AddSeconds(11),
        };
    }
}
