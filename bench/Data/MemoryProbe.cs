using MlModel.Dsl.Backends;

namespace MlModel.Dsl.Data.Benchmarks;

/// <summary>
/// What BenchmarkDotNet's "Allocated" column cannot show: how much of a listing stays alive.
/// Prints the live managed heap (after a full collection) at 10,000, 50,000 and 100,000 rows,
/// streamed (each row mapped to its object?[] and dropped) and materialised (kept in a list).
/// </summary>
public static class MemoryProbe
{
    private static readonly int[] Checkpoints = [10_000, 50_000, 100_000];

    public static void Run(string database)
    {
        var repository = BenchDatabases.Open(database);
        try
        {
            repository.InitializeAsync().GetAwaiter().GetResult();
            var baseline = GC.GetTotalMemory(forceFullCollection: true);
            Console.WriteLine($"{database}: live heap above the {baseline / 1024.0 / 1024.0:F1} MB baseline, after a full collection");
            Console.WriteLine($"{"rows",10} {"streamed MB",14} {"materialised MB",16}");
            var streamed = Probe(repository, keep: false, baseline);
            var materialised = Probe(repository, keep: true, baseline);
            foreach (var rows in Checkpoints)
            {
                Console.WriteLine($"{rows,10:N0} {streamed[rows],14:F1} {materialised[rows],16:F1}");
            }
        }
        finally
        {
            ((IAsyncDisposable)repository).DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static Dictionary<int, double> Probe(IModelRepository repository, bool keep, long baseline)
    {
        var result = new Dictionary<int, double>();
        var kept = new List<object?[]>();
        var count = 0;
        foreach (var model in repository.ListEntries(new ModelFilter()))
        {
            var row = ListRow.From(model);
            if (keep)
            {
                kept.Add(row);
            }
            if (Array.IndexOf(Checkpoints, ++count) >= 0)
            {
                result[count] = (GC.GetTotalMemory(forceFullCollection: true) - baseline) / 1024.0 / 1024.0;
            }
        }
        GC.KeepAlive(kept);
        return result;
    }
}
