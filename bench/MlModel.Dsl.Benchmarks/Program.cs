using BenchmarkDotNet.Running;

// `dotnet run -c Release --project bench/MlModel.Dsl.Benchmarks -- --filter '*'`; see README.md.
// `... -- cputime`: GrammarBenchmarks timed by the thread's CPU time (CpuTime.cs).
if (args is ["cputime"])
{
    MlModel.Dsl.Benchmarks.CpuTime.Run();
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(MlModel.Dsl.Benchmarks.ParseBenchmarks).Assembly).Run(args);
