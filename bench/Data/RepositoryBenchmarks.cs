using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using MlModel.Dsl.Backends;

namespace MlModel.Dsl.Data.Benchmarks;

/// <summary>
/// <c>list</c> over 100,000 versions (materialised and streamed; the 17 fields the list table
/// shows, read by <see cref="IModelRepository.ListEntries"/> as the executor does) and <c>summary</c> (the latest
/// version of one model) at 100,000 versions, each against the same SELECT through raw ADO.NET
/// (the baseline of its category).
/// </summary>
[MemoryDiagnoser]
[CategoriesColumn]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory, BenchmarkLogicalGroupRule.ByParams)]
public class RepositoryBenchmarks
{
    private const string Materialised = "list, materialised";
    private const string Streamed = "list, streamed";
    private const string Summary = "summary";
    private const string Command = "list command, data reader";

    private static readonly ModelFilter Everything = new();

    private IModelRepository _repository = null!;
    private MlModelEngine _engine = null!;
    private RawAdo _raw = null!;
    private int _next;

    /// <summary>SQLite always; PostgreSQL when a server is configured.</summary>
    public static IEnumerable<string> Databases() =>
        BenchDatabases.PostgresAdmin is null ? [BenchDatabases.Sqlite] : [BenchDatabases.Sqlite, BenchDatabases.Postgres];

    [ParamsSource(nameof(Databases))]
    public string Database { get; set; } = BenchDatabases.Sqlite;

    [GlobalSetup]
    public void Setup()
    {
        _repository = BenchDatabases.Open(Database);
        _repository.InitializeAsync().GetAwaiter().GetResult();
        _raw = new RawAdo(Database);
        _engine = new MlModelEngine(new MlModelOptions { Repository = _repository });
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        ((IAsyncDisposable)_repository).DisposeAsync().AsTask().GetAwaiter().GetResult();
        _raw.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true), BenchmarkCategory(Materialised)]
    public int RawAdo_List_Materialised() => _raw.ListEntries().Select(ListRow.From).ToList().Count;

    [Benchmark, BenchmarkCategory(Materialised)]
    public int Repository_List_Materialised() => _repository.ListEntries(Everything).Select(ListRow.From).ToList().Count;

    [Benchmark(Baseline = true), BenchmarkCategory(Streamed)]
    public int RawAdo_List_Streamed() => Consume(_raw.ListEntries());

    [Benchmark, BenchmarkCategory(Streamed)]
    public int Repository_List_Streamed() => Consume(_repository.ListEntries(Everything));

    // What a host sees: `mlmodel list` through the engine, every cell read from the result set's
    // DbDataReader, times formatted for display; the baseline formats the same SELECT's rows
    // the same way.
    [Benchmark(Baseline = true), BenchmarkCategory(Command)]
    public int RawAdo_List_Command() => Consume(_raw.ListEntries().Select(ListRow.Formatted));

    [Benchmark, BenchmarkCategory(Command)]
    public int Engine_List_Command()
    {
        using var result = _engine.ExecuteAsync("mlmodel list", Administrator).GetAwaiter().GetResult();
        using var reader = result.CreateReader();
        var values = new object[reader.FieldCount];
        var cells = 0;
        while (reader.Read())
        {
            cells += reader.GetValues(values);
        }
        return cells;
    }

    private static readonly MlModelCaller Administrator = new("root", IsAdministrator: true);

    private static int Consume(IEnumerable<object?[]> rows)
    {
        var cells = 0;
        foreach (var row in rows)
        {
            cells += row.Length;
        }
        return cells;
    }

    [Benchmark(Baseline = true), BenchmarkCategory(Summary)]
    public Task<ModelVersion?> RawAdo_Summary()
    {
        var (user, name) = NextModel();
        return _raw.GetLatestAsync(user, name);
    }

    [Benchmark, BenchmarkCategory(Summary)]
    public Task<ModelVersion?> Repository_Summary()
    {
        var (user, name) = NextModel();
        return _repository.GetAsync(user, name, null);
    }

    // Each row is mapped to its object?[] and dropped: nothing accumulates.
    private static int Consume(IEnumerable<ModelListEntry> models)
    {
        var cells = 0;
        foreach (var model in models)
        {
            cells += ListRow.From(model).Length;
        }
        return cells;
    }

    // A different model each call, so no single row stays hot in a cache of ours.
    private (string User, string Name) NextModel()
    {
        var i = _next++;
        return (BenchDatabases.User(i % BenchDatabases.Users), BenchDatabases.Model(i / BenchDatabases.Users % BenchDatabases.ModelsPerUser));
    }
}
