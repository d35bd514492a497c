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

    private static readonly ModelFilter Everything = new();

    private IModelRepository _repository = null!;
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
