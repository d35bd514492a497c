using BenchmarkDotNet.Running;

// `dotnet run -c Release --project bench/MlModel.Dsl.Benchmarks -- --filter '*'`; see README.md.
BenchmarkSwitcher.FromAssembly(typeof(MlModel.Dsl.Benchmarks.ParseBenchmarks).Assembly).Run(args);
