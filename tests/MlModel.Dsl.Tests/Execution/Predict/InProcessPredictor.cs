using System.Collections.Concurrent;
using MlModel.Dsl.Backends;

namespace MlModel.Dsl.Tests.Execution.Predict;

/// <summary>
/// A predictor that computes real outputs in the test process, for unit tests of the predict
/// stage (not a stand-in for TensorFlow Serving: its REST client is tested against the fake
/// server). Two models, by serving name suffix:
/// <c>..._half_plus_two</c>: y = x/2 + 2 (input x [-1,1], output y [-1,1], as the SavedModel);
/// <c>..._iris</c>: a softmax classifier of fixed weights (input [-1,4], output probabilities [-1,3]).
/// Any other name is served with the signature given to <see cref="Serve"/>, outputs y = x/2 + 2 per value.
/// It records every batch, and how many were in flight at once.
/// </summary>
public sealed class InProcessPredictor : IServingPredictor
{
    /// <summary>The classifier's weights: one row per class, one column per feature.</summary>
    public static readonly double[,] IrisWeights =
    {
        { 0.9, 1.1, -2.0, -1.5 },
        { 0.2, -0.7, 0.6, -0.3 },
        { -1.1, -0.4, 1.6, 3.0 },
    };

    public static readonly double[] IrisBias = [0.5, 1.0, -2.5];

    private readonly ConcurrentDictionary<string, ServingSignature> _signatures = new(StringComparer.Ordinal);
    private int _inFlight;
    private int _maxInFlight;

    public ConcurrentQueue<PredictBatch> Batches { get; } = new();

    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    /// <summary>Called at the start of each batch, in the caller's flow (may wait: tests hold batches back with it).</summary>
    public Func<PredictBatch, CancellationToken, Task>? OnBatch { get; set; }

    /// <summary>An error every batch fails with, as a server's refusal would.</summary>
    public MlModelException? Refuse { get; set; }

    /// <summary>The version <see cref="GetSignatureAsync"/> reports for the latest.</summary>
    public int LatestVersion { get; set; } = 1;

    /// <summary>When set, answers every batch in place of the served model (outputs of any shape, several outputs).</summary>
    public Func<PredictBatch, IReadOnlyList<PredictOutput>>? Answer { get; set; }

    public static ModelSignature HalfPlusTwo { get; } = new(ModelSignature.ServingDefault, "tensorflow/serving/predict",
        [new TensorSpec("x", "x:0", "DT_FLOAT", [-1, 1])], [new TensorSpec("y", "y:0", "DT_FLOAT", [-1, 1])]);

    public static ModelSignature Iris { get; } = new(ModelSignature.ServingDefault, "tensorflow/serving/predict",
        [new TensorSpec("features", "features:0", "DT_FLOAT", [-1, 4])], [new TensorSpec("probabilities", "softmax:0", "DT_FLOAT", [-1, 3])]);

    public void Serve(string servingName, ModelSignature signature, int version = 1) =>
        _signatures[servingName] = new ServingSignature(version, signature);

    public Task<ServingSignature> GetSignatureAsync(string servingName, int? version, CancellationToken cancellationToken = default)
    {
        if (_signatures.TryGetValue(servingName, out var s))
        {
            return Task.FromResult(version is int v ? s with { Version = v } : s);
        }
        var signature = servingName.EndsWith("_iris", StringComparison.Ordinal) ? Iris
            : servingName.EndsWith("half_plus_two", StringComparison.Ordinal) ? HalfPlusTwo
            : throw new MlModelException(ErrorCodes.NotFound, $"Servable not found for request: Latest({servingName})");
        return Task.FromResult(new ServingSignature(version ?? LatestVersion, signature));
    }

    public async Task<IReadOnlyList<PredictOutput>> PredictAsync(PredictBatch batch, CancellationToken cancellationToken = default)
    {
        var now = Interlocked.Increment(ref _inFlight);
        try
        {
            int seen;
            while ((seen = Volatile.Read(ref _maxInFlight)) < now && Interlocked.CompareExchange(ref _maxInFlight, now, seen) != seen)
            {
            }
            // A copy: the stage lends its buffers for the call only.
            Batches.Enqueue(batch with { Inputs = batch.Inputs.Select(i => i with { Values = i.Values.ToArray() }).ToList() });
            if (OnBatch is { } hook)
            {
                await hook(batch, cancellationToken);
            }
            cancellationToken.ThrowIfCancellationRequested();
            if (Refuse is { } refusal)
            {
                throw refusal;
            }
            return Answer is { } answer ? answer(batch)
                : batch.ServingName.EndsWith("_iris", StringComparison.Ordinal) ? Classify(batch) : HalfPlusTwoOf(batch);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private static PredictOutput[] HalfPlusTwoOf(PredictBatch batch)
    {
        var input = batch.Inputs[0];
        var y = new double[input.Values.Length];
        var x = input.Values.Span;
        for (var i = 0; i < y.Length; i++)
        {
            y[i] = (float)(x[i] / 2 + 2);
        }
        return [new PredictOutput(null, input.RowShape, y)];
    }

    private static PredictOutput[] Classify(PredictBatch batch)
    {
        var x = batch.Inputs[0].Values.Span;
        var result = new double[batch.Rows * 3];
        Span<double> z = stackalloc double[3];
        for (var r = 0; r < batch.Rows; r++)
        {
            for (var c = 0; c < 3; c++)
            {
                z[c] = IrisBias[c];
                for (var f = 0; f < 4; f++)
                {
                    z[c] += IrisWeights[c, f] * x[r * 4 + f];
                }
            }
            Softmax(z).CopyTo(result.AsSpan(r * 3));
        }
        return [new PredictOutput(null, [3], result)];
    }

    /// <summary>The softmax of <paramref name="z"/>, in float32 as TensorFlow computes it.</summary>
    public static double[] Softmax(ReadOnlySpan<double> z)
    {
        var max = double.NegativeInfinity;
        foreach (var v in z)
        {
            max = Math.Max(max, v);
        }
        var e = new double[z.Length];
        var sum = 0.0;
        for (var i = 0; i < z.Length; i++)
        {
            e[i] = Math.Exp(z[i] - max);
            sum += e[i];
        }
        for (var i = 0; i < z.Length; i++)
        {
            e[i] = (float)(e[i] / sum);
        }
        return e;
    }

    /// <summary>The classifier's expected probabilities for one row of features.</summary>
    public static double[] IrisOf(params double[] features)
    {
        var z = new double[3];
        for (var c = 0; c < 3; c++)
        {
            z[c] = IrisBias[c];
            for (var f = 0; f < 4; f++)
            {
                z[c] += IrisWeights[c, f] * features[f];
            }
        }
        return Softmax(z);
    }
}
