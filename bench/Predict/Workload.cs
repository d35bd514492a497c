namespace MlModel.Dsl.Predict.Benchmarks;

/// <summary>
/// What one side of the benchmark does: <see cref="Rows"/> rows of one float feature (row shape
/// <c>(1,)</c>) predicted by half_plus_two, in batches of <see cref="BatchSize"/> rows with at most
/// <see cref="Concurrency"/> batches in flight, outputs taken in input order.
/// </summary>
internal sealed record Workload(Uri Server, string ServingName, int Version, long Rows, int BatchSize, int Concurrency)
{
    /// <summary>The engine's home with the model deployed (<see cref="BenchHome"/>), for the sides that run the engine.</summary>
    public string Home { get; init; } = "";

    /// <summary>Row <paramref name="row"/>'s feature: quarters from -100 to 923.75, exact in float32, as is half_plus_two of it.</summary>
    public static double X(long row) => ((row % 4096) * 0.25) - 100;

    /// <summary>What half_plus_two answers for <paramref name="x"/>.</summary>
    public static double Y(double x) => (0.5 * x) + 2;
}

/// <summary>What a side saw: rows predicted, the sum of their outputs, and outputs that were not half_plus_two of their row.</summary>
internal sealed record SideTotals(long Rows, double Checksum, long Mismatches);

/// <summary>
/// Batching, batches in flight and in-order consumption, shared by the sides that send batches
/// through a batch-at-a-time call: the rows are made as they are needed and each batch's outputs
/// are checked and dropped when it is taken, so memory holds only the batches in flight.
/// </summary>
internal static class BatchPipeline
{
    /// <param name="workload">The rows, batch size and batches in flight.</param>
    /// <param name="predict">Sends one batch (its features, row count) and returns its outputs, one per row.</param>
    /// <param name="cancellationToken">Stops the run.</param>
    public static async Task<SideTotals> RunAsync(Workload workload, Func<double[], int, CancellationToken, Task<ReadOnlyMemory<double>>> predict, CancellationToken cancellationToken)
    {
        var inFlight = new Queue<(double[] X, Task<ReadOnlyMemory<double>> Y)>(workload.Concurrency);
        long next = 0, done = 0, mismatches = 0;
        var checksum = 0.0;
        while (next < workload.Rows || inFlight.Count > 0)
        {
            while (next < workload.Rows && inFlight.Count < workload.Concurrency)
            {
                var rows = (int)Math.Min(workload.BatchSize, workload.Rows - next);
                var x = new double[rows];
                for (var i = 0; i < rows; i++)
                {
                    x[i] = Workload.X(next + i);
                }

                inFlight.Enqueue((x, predict(x, rows, cancellationToken)));
                next += rows;
            }

            var (xs, task) = inFlight.Dequeue();
            var y = (await task).Span;
            if (y.Length != xs.Length)
            {
                throw new InvalidOperationException($"a batch of {xs.Length} rows came back with {y.Length} outputs");
            }

            for (var i = 0; i < y.Length; i++)
            {
                checksum += y[i];
                if (y[i] != Workload.Y(xs[i]))
                {
                    mismatches++;
                }
            }

            done += y.Length;
        }

        return new SideTotals(done, checksum, mismatches);
    }
}
