using BenchmarkDotNet.Running;
using MlModel.Dsl.Data.Benchmarks;

// dotnet run -c Release -- [--drop] [memory | timings [rounds] | <BenchmarkDotNet arguments>]
//   memory    live heap while listing 100,000 rows, streamed against materialised
//   timings   best-of-N alternating runs against the baseline (for noisy machines)
//   --drop    remove the seeded databases afterwards (they are reused between runs otherwise)
var drop = args.Contains("--drop");
args = [.. args.Where(a => a != "--drop")];
var postgres = BenchDatabases.PostgresAdmin is not null;
if (!postgres)
{
    Console.WriteLine("MLMODEL_BENCH_PG / MLMODEL_TEST_PG not set: SQLite only.");
}

await BenchDatabases.PrepareAsync(postgres);
try
{
    if (args is ["memory", ..])
    {
        MemoryProbe.Run(BenchDatabases.Sqlite);
        if (postgres)
        {
            MemoryProbe.Run(BenchDatabases.Postgres);
        }
    }
    else if (args is ["timings", ..])
    {
        var rounds = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 10;
        Timings.Run(BenchDatabases.Sqlite, rounds);
        if (postgres)
        {
            Timings.Run(BenchDatabases.Postgres, rounds);
        }
    }
    else
    {
        BenchmarkSwitcher.FromAssembly(typeof(RepositoryBenchmarks).Assembly).Run(args);
    }
}
finally
{
    if (drop)
    {
        await BenchDatabases.DropAsync(postgres);
    }
}
