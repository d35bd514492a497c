using System.Buffers;
using System.Net.Http.Headers;
using System.Text.Json;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Serving.TensorFlow;

namespace MlModel.Dsl.Predict.Benchmarks;

/// <summary>One side of the benchmark: every row of the workload through the server, its outputs checked in order.</summary>
internal delegate Task<SideTotals> PredictSide(Workload workload, CancellationToken cancellationToken);

/// <summary>
/// The sides the benchmark can run, by name (<c>side &lt;name&gt;</c>). Each runs in a process of its
/// own. To time another pipeline (the core predict stage, once it exists), add it here under a new
/// name and pass the names with <c>--sides</c>; nothing else changes.
/// </summary>
internal static class Sides
{
    public static IReadOnlyDictionary<string, PredictSide> All { get; } = new Dictionary<string, PredictSide>(StringComparer.Ordinal)
    {
        ["raw"] = RawHttpClientAsync,
        ["ours"] = PredictorAsync,
    };

    private static readonly int[] RowShape = [1];

    /// <summary>
    /// MlModel.Dsl: <see cref="IServingPredictor.PredictAsync"/> of a <see cref="TensorFlowServingBackend"/>
    /// on the server (its own HttpClient and connection pool, as a host gets it), batch after batch.
    /// </summary>
    private static async Task<SideTotals> PredictorAsync(Workload workload, CancellationToken cancellationToken)
    {
        // The backend's files are never touched: predict only talks to the server.
        var unused = Path.Combine(Path.GetTempPath(), "mlmodel-predict-bench-unused");
        using var backend = new TensorFlowServingBackend(new TensorFlowServingOptions
        {
            ServingRoot = unused,
            ConfigFile = Path.Combine(unused, "models.config"),
            RestAddress = workload.Server,
        });
        // Through the interface the predict stage holds, not the concrete backend.
#pragma warning disable CA1859
        IServingPredictor predictor = backend;
#pragma warning restore CA1859
        return await BatchPipeline.RunAsync(workload, async (x, rows, token) =>
        {
            var outputs = await predictor.PredictAsync(
                new PredictBatch(workload.ServingName, workload.Version, rows, [new PredictInput(null, "DT_FLOAT", RowShape, x)]), token);
            return outputs[0].Values;
        }, cancellationToken);
    }

    /// <summary>
    /// The baseline: a plain HttpClient program that knows its model. It writes the same
    /// <c>{"instances":[[x],...]}</c> body with Utf8JsonWriter, POSTs it to the same route on a
    /// SocketsHttpHandler with the same connection limit, and takes every number of the answer as
    /// the next row's output, without checking the answer's form.
    /// </summary>
    private static async Task<SideTotals> RawHttpClientAsync(Workload workload, CancellationToken cancellationToken)
    {
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 16 }) { Timeout = TimeSpan.FromSeconds(30) };
        var route = new Uri(workload.Server, $"v1/models/{workload.ServingName}/versions/{workload.Version}:predict");
        return await BatchPipeline.RunAsync(workload, async (x, rows, token) =>
        {
            var body = new ArrayBufferWriter<byte>((rows * 12) + 32);
            using (var json = new Utf8JsonWriter(body))
            {
                json.WriteStartObject();
                json.WriteStartArray("instances");
                foreach (var value in x)
                {
                    json.WriteStartArray();
                    json.WriteNumberValue((float)value);
                    json.WriteEndArray();
                }

                json.WriteEndArray();
                json.WriteEndObject();
            }

            using var content = new ReadOnlyMemoryContent(body.WrittenMemory);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await http.PostAsync(route, content, token);
            response.EnsureSuccessStatusCode();
            var answer = await response.Content.ReadAsByteArrayAsync(token);
            var y = new double[rows];
            var reader = new Utf8JsonReader(answer);
            var i = 0;
            while (reader.Read())
            {
                if (reader.TokenType == JsonTokenType.Number)
                {
                    y[i++] = reader.GetDouble();
                }
            }

            return y;
        }, cancellationToken);
    }
}
