using System.Diagnostics;

namespace MlModel.Dsl.Data.Benchmarks;

/// <summary>
/// A cross-check for shared, noisy machines, where BenchmarkDotNet's means carry other
/// processes' load: runs each benchmark and its baseline alternately and prints the fastest
/// run of each (wall clock) with the process CPU time of that run. The minimum is what the
/// code costs when it gets the CPU; the alternation gives both sides the same weather.
/// </summary>
public static class Timings
{
    public static void Run(string database, int rounds)
    {
        var benchmarks = new RepositoryBenchmarks { Database = database };
        benchmarks.Setup();
        try
        {
            Console.WriteLine($"{database}: best of {rounds} alternating runs (wall / CPU)");
            if (database == BenchDatabases.Sqlite)
            {
                Console.WriteLine("  list entries read " + (Internal.SqliteListReader.IsAvailable ? "through SQLite's C API" : "through Dapper (the C API path is not available)"));
            }
            Compare("list, materialised", rounds, 1, () => benchmarks.RawAdo_List_Materialised(), () => benchmarks.Repository_List_Materialised());
            Compare("list, streamed", rounds, 1, () => benchmarks.RawAdo_List_Streamed(), () => benchmarks.Repository_List_Streamed());
            Compare("list command, data reader", rounds, 1, () => benchmarks.RawAdo_List_Command(), () => benchmarks.Engine_List_Command());
            Compare("summary", rounds, 2_000,
                () => benchmarks.RawAdo_Summary().GetAwaiter().GetResult(),
                () => benchmarks.Repository_Summary().GetAwaiter().GetResult());
        }
        finally
        {
            benchmarks.Cleanup();
        }
    }

    private static void Compare(string category, int rounds, int calls, Action raw, Action repository)
    {
        var bestRaw = (Wall: double.MaxValue, Cpu: 0.0);
        var bestRepository = (Wall: double.MaxValue, Cpu: 0.0);
        for (var round = 0; round < rounds + 1; round++)
        {
            var r = Measure(raw, calls);
            var m = Measure(repository, calls);
            if (round == 0)
            {
                continue;   // warm-up: JIT, pools, page cache
            }
            if (r.Wall < bestRaw.Wall)
            {
                bestRaw = r;
            }
            if (m.Wall < bestRepository.Wall)
            {
                bestRepository = m;
            }
        }
        var unit = calls == 1 ? "ms" : "us";
        var scale = calls == 1 ? 1.0 : 1000.0;
        Console.WriteLine($"  {category,-20} raw ADO.NET {bestRaw.Wall * scale,9:F1} / {bestRaw.Cpu * scale,9:F1} {unit}" +
            $"   repository {bestRepository.Wall * scale,9:F1} / {bestRepository.Cpu * scale,9:F1} {unit}" +
            $"   ratio {bestRepository.Wall / bestRaw.Wall:F2}");
    }

    // Milliseconds per call, wall clock and process CPU.
    private static (double Wall, double Cpu) Measure(Action action, int calls)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < calls; i++)
        {
            action();
        }
        var wall = clock.Elapsed.TotalMilliseconds / calls;
        process.Refresh();
        return (wall, (process.TotalProcessorTime - cpu).TotalMilliseconds / calls);
    }
}
