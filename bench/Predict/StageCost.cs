using System.Diagnostics;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Execution.Predict;

namespace MlModel.Dsl.Predict.Benchmarks;

/// <summary>
/// <c>stage-cost [--rows 1000000] [--rounds 10] [--batch 256] [--concurrency 4] [--forms numeric,text]</c>: the predict
/// stage's own CPU per row, without the network, the server or the engine: the internal
/// <see cref="PredictStage"/> over <see cref="HostRows"/> (both forms), its batches answered at
/// once in this process by half_plus_two computed here, the result read and checked as the
/// <c>stage</c> sides read it. On one thread (every batch completes synchronously), so the figure
/// hardly depends on what else the machine runs: it is what to look at when changing the stage.
/// </summary>
internal static class StageCost
{
    public static async Task<int> RunAsync(Options options)
    {
        var rows = options.Long("rows", 1_000_000);
        var rounds = (int)options.Long("rounds", 10);
        var batch = (int)options.Long("batch", 256);
        var concurrency = (int)options.Long("concurrency", 4);
        var predictor = new HalfPlusTwo();
        var signature = await predictor.GetSignatureAsync("root_half_plus_two", null);
        Console.WriteLine($"# the predict stage alone, {rows:N0} rows a run, batches of {batch}, {concurrency} in flight, answered in process; load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        var forms = options.Get("forms", "numeric,text,new-rows").Split(',');
        foreach (var (form, make) in new (string, Func<long, RowSource>)[] { ("numeric", HostRows.Numeric), ("text", HostRows.JsonText), ("new-rows", HostRows.NewNumeric) })
        {
            if (!forms.Contains(form))
            {
                continue;
            }

            var cpu = new List<double>();
            var allocated = new List<double>();
            for (var round = 0; round < rounds + 3; round++)
            {
                var input = make(rows);
                var plan = PredictPlan.Resolve(new ServingPredictCommand(BenchHome.ModelName), "root_half_plus_two", 1, "feature", signature);
                var stage = new PredictStage(plan, predictor, input.Fields, batch, concurrency);
                using var self = Process.GetCurrentProcess();
                var cpuBefore = self.TotalProcessorTime;
                var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
                long done = 0;
                await foreach (var row in stage.RunAsync(input.TakeRows(), CancellationToken.None))
                {
                    var id = (long)row[0]!;
                    if (id != done % HostRows.Distinct || (double)row[3]! != Workload.Y(Workload.X(id)) || ((double[])row[2]!).Length != 1)
                    {
                        throw new InvalidOperationException($"row {id} came back wrong");
                    }

                    done++;
                }

                self.Refresh();
                if (round >= 3)
                {
                    // The first rounds warm up the JIT.
                    cpu.Add((self.TotalProcessorTime - cpuBefore).TotalNanoseconds / done);
                    allocated.Add((GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore) / (double)done);
                }
            }

            cpu.Sort();
            Console.WriteLine($"{form,-8} {cpu[cpu.Count / 2],5:F0} ns of CPU per row (median of {rounds}; {cpu[0]:F0} to {cpu[^1]:F0}), {allocated[allocated.Count / 2]:F0} B allocated per row");
        }

        return 0;
    }

    /// <summary>half_plus_two in this process: y = 0.5x + 2, answered at once.</summary>
    private sealed class HalfPlusTwo : IServingPredictor
    {
        private static readonly int[] RowShape = [1];

        public Task<ServingSignature> GetSignatureAsync(string servingName, int? version, CancellationToken cancellationToken = default) =>
            Task.FromResult(new ServingSignature(1, new ModelSignature(ModelSignature.ServingDefault, "tensorflow/serving/predict",
                [new TensorSpec("x", "x:0", "DT_FLOAT", [-1, 1])], [new TensorSpec("y", "y:0", "DT_FLOAT", [-1, 1])])));

        public Task<IReadOnlyList<PredictOutput>> PredictAsync(PredictBatch batch, CancellationToken cancellationToken = default)
        {
            var x = batch.Inputs[0].Values.Span;
            var y = new double[batch.Rows];
            for (var i = 0; i < y.Length; i++)
            {
                y[i] = Workload.Y(x[i]);
            }

            return Task.FromResult<IReadOnlyList<PredictOutput>>([new PredictOutput(null, RowShape, y)]);
        }
    }
}
