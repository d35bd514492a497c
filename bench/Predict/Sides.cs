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
/// own. To time another pipeline, add it here under a new name and pass the names with
/// <c>--sides</c>; nothing else changes.
/// </summary>
internal static class Sides
{
    public static IReadOnlyDictionary<string, PredictSide> All { get; } = new Dictionary<string, PredictSide>(StringComparer.Ordinal)
    {
        ["raw"] = RawHttpClientAsync,
        ["ours"] = PredictorAsync,
        ["stage"] = (workload, token) => StageAsync(workload, HostRows.Numeric, token),
        ["stage-text"] = (workload, token) => StageAsync(workload, HostRows.JsonText, token),
        ["stage-new-rows"] = (workload, token) => StageAsync(workload, HostRows.NewNumeric, token),
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

    /// <summary>The engine of a <c>stage</c> side: one per process, as a host keeps one, made on first use.</summary>
    private static MlModelEngine? _engine;

    /// <summary>
    /// What users run: <c>serving predict</c> as a stage over a host's rows,
    /// <see cref="MlModelEngine.ExecuteAsync(MlModelCommand, MlModelCaller, RowSource, CancellationToken)"/>
    /// with a <see cref="ServingPredictCommand"/> (name only: the version is the latest served, shape
    /// and dtype come from its signature) on the engine's home where the driver deployed the model,
    /// the backend pointed at the server, <see cref="MlModelOptions.PredictBatchSize"/> and
    /// <see cref="MlModelOptions.PredictBatchesInFlight"/> set to the workload's batch size and
    /// batches in flight. The rows come from a host's <see cref="IAsyncEnumerable{T}"/> of
    /// <c>id, feature</c> (<paramref name="rows"/>); the result is read with
    /// <see cref="ResultSet.ReadAllAsync"/>, and each row's <c>probability</c> (half_plus_two's
    /// output) is checked against its id and summed, its <c>predictions</c> array read. Each run is a
    /// command: the registry's check and the signature's request are in the time.
    /// </summary>
    private static async Task<SideTotals> StageAsync(Workload workload, Func<long, RowSource> rows, CancellationToken cancellationToken)
    {
        _engine ??= new MlModelEngine(BenchHome.Options(workload.Home, workload.Server, workload.BatchSize, workload.Concurrency));
        await using var result = await _engine.ExecuteAsync(new ServingPredictCommand(BenchHome.ModelName), BenchHome.Root, rows(workload.Rows), cancellationToken);
        var predictions = result.IndexOf("predictions");
        var probability = result.IndexOf("probability");
        long done = 0, mismatches = 0;
        var checksum = 0.0;
        await foreach (var row in result.ReadAllAsync(cancellationToken))
        {
            var id = (long)row[0]!;
            var y = (double)row[probability]!;
            var output = (double[])row[predictions]!;
            checksum += y;
            // In input order, half_plus_two of the row's feature, its predictions the one-value array.
            if (id != done % HostRows.Distinct || y != Workload.Y(Workload.X(id)) || output.Length != 1 || output[0] != y)
            {
                mismatches++;
            }

            done++;
        }

        return new SideTotals(done, checksum, mismatches);
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

/// <summary>
/// A host's rows for the stage: <c>id</c> (a long) and <c>feature</c>, handed out one by one as the
/// stage pulls them (an <see cref="IAsyncEnumerable{T}"/> that completes synchronously, as rows
/// already at hand do). Either rows at hand, as a host that holds its rows (a table's) gives them:
/// 4,096 rows made before the run and handed out in turn, so that the host's making of rows is not
/// timed, as the raw program makes none; or a new row made for each (<see cref="NewNumeric"/>), the
/// host's allocation then in the time. <see cref="Workload.X"/> repeats every 4,096 rows, and so do
/// the ids: a consumer checks the order with <c>id == row % 4096</c>.
/// </summary>
internal sealed class HostRows : IAsyncEnumerable<object?[]>
{
    /// <summary>How many distinct rows there are; ids and features repeat after them.</summary>
    public const int Distinct = 4096;

    private static readonly IReadOnlyList<ResultField> NumericFields = [new("id", FieldType.Long), new("feature", FieldType.Json)];
    private static readonly IReadOnlyList<ResultField> TextFields = [new("id", FieldType.Long), new("feature", FieldType.String)];

    /// <summary>The rows at hand with the feature as the host's numeric array (a <c>double[1]</c>).</summary>
    private static readonly object?[][] NumericRows = [.. Enumerable.Range(0, Distinct).Select(i => new object?[] { (long)i, new[] { Workload.X(i) } })];

    /// <summary>The rows at hand with the feature as the JSON text IRIS's rows carry (<c>[-99.75]</c>).</summary>
    private static readonly object?[][] TextRows = [.. Enumerable.Range(0, Distinct).Select(i => new object?[] { (long)i, "[" + Workload.X(i).ToString(System.Globalization.CultureInfo.InvariantCulture) + "]" })];

    private readonly long _rows;
    private readonly object?[][]? _atHand;

    private HostRows(long rows, object?[][]? atHand)
    {
        _rows = rows;
        _atHand = atHand;
    }

    /// <summary>The feature as the host's numeric array, rows at hand.</summary>
    public static RowSource Numeric(long rows) => RowSource.FromRows(NumericFields, new HostRows(rows, NumericRows));

    /// <summary>The feature as JSON text, rows at hand.</summary>
    public static RowSource JsonText(long rows) => RowSource.FromRows(TextFields, new HostRows(rows, TextRows));

    /// <summary>The feature as the host's numeric array, a new row (its array, its boxed id, a new <c>double[1]</c>) made for each.</summary>
    public static RowSource NewNumeric(long rows) => RowSource.FromRows(NumericFields, new HostRows(rows, null));

    public IAsyncEnumerator<object?[]> GetAsyncEnumerator(CancellationToken cancellationToken = default) => new Enumerator(this, cancellationToken);

    private sealed class Enumerator(HostRows rows, CancellationToken cancellationToken) : IAsyncEnumerator<object?[]>
    {
        private long _next;

        public object?[] Current { get; private set; } = [];

        public ValueTask<bool> MoveNextAsync()
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_next == rows._rows)
            {
                return ValueTask.FromResult(false);
            }

            var i = (int)(_next++ % Distinct);
            Current = rows._atHand is { } made ? made[i] : [(long)i, new[] { Workload.X(i) }];
            return ValueTask.FromResult(true);
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
