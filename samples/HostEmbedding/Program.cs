// A host engine's pipe evaluation, in miniature: the `mlmodel` stage is run by the library, the
// rest of the pipeline (`where`, `fields`) by the host, here with System.Data's DataView, whose
// RowFilter already speaks the `column = 'value'` expressions such hosts use.
//
//   dotnet run --project samples/HostEmbedding -- [--serving-url URL] [home] ["query"]
//
// With --serving-url (or MLMODEL_SERVING_URL) the models are served by TensorFlow Serving at URL,
// started on <home>/serving/models.config; without, by an in-process stand-in.

using System.Data;
using Microsoft.Extensions.DependencyInjection;
using MlModel.Dsl;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Backends.Local;
using MlModel.Dsl.Data;
using TensorFlowServingBackend = MlModel.Dsl.Serving.TensorFlow.TensorFlowServingBackend;
using TensorFlowServingOptions = MlModel.Dsl.Serving.TensorFlow.TensorFlowServingOptions;

var positional = new List<string>();
var servingUrl = Environment.GetEnvironmentVariable("MLMODEL_SERVING_URL") is { Length: > 0 } fromEnvironment ? fromEnvironment : null;
for (var i = 0; i < args.Length; i++)
{
    if (args[i] == "--serving-url" && i + 1 < args.Length)
    {
        servingUrl = args[++i];
    }
    else
    {
        positional.Add(args[i]);
    }
}
var home = positional.Count > 0 ? Path.GetFullPath(positional[0]) : Path.Combine(Path.GetTempPath(), "mlmodel-host-sample");
var query = positional.Count > 1 ? positional[1] : "* | mlmodel list | where analysis_tool = 'tf' | fields name, version";

// 1. The host registers the engine once, with the backends it wants.
await using var services = new ServiceCollection()
    .AddMlModel(o =>
    {
        o.Repository = new SqliteModelRepository(Path.Combine(home, "mlmodel.db"));
        o.ModelStore = new LocalObjectStore(Path.Combine(home, "store"));
        o.Connectors.Add(new ConnectorInfo("local", "local", new Dictionary<string, string> { ["root"] = Path.Combine(home, "objects") }));
        o.Administrators.Add("root");
        o.OwnsBackends = true; // disposing the container disposes the engine, and the engine these
        // For step 4: a serving backend that predicts. TensorFlowServingBackend with a RestAddress is
        // the real one: it publishes versions under <home>/serving, writes the config TensorFlow
        // Serving polls, and predicts through its REST API. Without a server, an in-process
        // stand-in computes half_plus_two itself.
        o.Serving = servingUrl is null
            ? new InProcessHalfPlusTwo()
            : new TensorFlowServingBackend(new TensorFlowServingOptions
            {
                ServingRoot = Path.Combine(home, "serving"),
                ConfigFile = Path.Combine(home, "serving", "models.config"),
                RestAddress = new Uri(servingUrl),
            });
    })
    .BuildServiceProvider();
var engine = services.GetRequiredService<MlModelEngine>();
var root = new MlModelCaller("root");

// 2. Some models to look at: the bundled half_plus_two SavedModel, imported as two tf models,
//    and a spark model registered the way the host's `fit` command would.
var samples = Path.Combine(AppContext.BaseDirectory, "half_plus_two.tar");
Directory.CreateDirectory(Path.Combine(home, "objects", "USERS", "root"));
File.Copy(samples, Path.Combine(home, "objects", "USERS", "root", "half_plus_two.tar"), overwrite: true);
foreach (var name in new[] { "mnist_v1", "clothes" })
{
    await engine.ExecuteAsync($"mlmodel import name={name} analysis_tool=tf kind=regression algorithm=deep format=saved_model connector_id=local path=USERS/root/half_plus_two.tar", root);
}
await engine.Models.RegisterAsync(new ModelRegistration { Name = "churn", AnalysisTool = "spark", Kind = "classification", Algorithm = "RandomForestClassifier" }, root);

// 3. The pipe: the library finds and runs the mlmodel stage...
var (stage, result) = await engine.ExecuteQueryAsync(query, root);
using (result)
{
    var table = new DataTable("mlmodel");
    table.Load(result.CreateReader()); // streamed through the library's DbDataReader

    // ...and the host runs what comes after it.
    var view = HostStages.Run(table, stage.After);

    Console.WriteLine($"query:  {query}");
    Console.WriteLine($"before: '{stage.Before}'   mlmodel: {stage.Command}   after: '{stage.After}'");
    Console.WriteLine(string.Join(" | ", view.Table!.Columns.Cast<DataColumn>().Select(c => c.ColumnName)));
    foreach (DataRowView row in view)
    {
        Console.WriteLine(string.Join(" | ", row.Row.ItemArray.Select(v => v?.ToString())));
    }
}

// 4. A stage that consumes rows: the host's own rows (a DataTable of features, the output of the
//    host's stages before it) flow through `serving predict`, and the host's `where` runs on its
//    output. The library runs the serving predict stage of the query text over the rows it is given.
await engine.ExecuteAsync("mlmodel deploy name=mnist_v1", root);
using var features = new DataTable("features");
features.Columns.Add("id", typeof(int));
features.Columns.Add("x", typeof(double[]));
foreach (var i in Enumerable.Range(1, 5))
{
    features.Rows.Add(i, new[] { i * 1.0 });
}
const string predict = "features | serving predict name=mnist_v1 col=x | where probability > 3";
var (predictStage, predicted) = await engine.ExecuteQueryAsync(predict, root, RowSource.FromReader(features.CreateDataReader()));
await using (predicted)
{
    var table = new DataTable("predicted");
    foreach (var field in predicted.Fields)
    {
        table.Columns.Add(field.Name, field.ClrType);
    }
    await foreach (var row in predicted.ReadAllAsync()) // rows stream back in order as batches are answered
    {
        table.Rows.Add(row);
    }
    var where = HostStages.Run(table, predictStage.After);
    Console.WriteLine();
    Console.WriteLine($"query:  {predict}");
    Console.WriteLine($"serving: {(servingUrl is null ? "in-process half_plus_two" : "TensorFlow Serving at " + servingUrl)}");
    Console.WriteLine(string.Join(" | ", table.Columns.Cast<DataColumn>().Select(c => c.ColumnName)));
    foreach (DataRowView row in where)
    {
        // x and predictions are numeric arrays (a json column holds the host's array as it is).
        Console.WriteLine(string.Join(" | ", row.Row.ItemArray.Select(v => v is double[] a
            ? "[" + string.Join(",", a.Select(d => d.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]"
            : Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture))));
    }
}

/// <summary>The host's own stages after the library's: <c>where</c> as a DataView filter, <c>fields</c> as its columns.</summary>
internal static class HostStages
{
    public static DataView Run(DataTable table, string after)
    {
        var view = table.DefaultView;
        foreach (var step in after.Split('|', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var space = step.IndexOf(' ', StringComparison.Ordinal);
            var (verb, argument) = space < 0 ? (step, "") : (step[..space], step[(space + 1)..].Trim());
            switch (verb)
            {
                case "where":
                    view.RowFilter = string.IsNullOrEmpty(view.RowFilter) ? argument : $"({view.RowFilter}) AND ({argument})";
                    break;
                case "fields":
                    view = view.ToTable(false, argument.Split(',', StringSplitOptions.TrimEntries)).DefaultView;
                    break;
                default:
                    throw new NotSupportedException($"this sample host knows where and fields, not '{verb}'");
            }
        }
        return view;
    }
}

/// <summary>
/// A serving backend that serves every deployed version in this process as TensorFlow Serving's
/// half_plus_two (y = x/2 + 2), so that the sample runs without a server.
/// </summary>
internal sealed class InProcessHalfPlusTwo : IServingBackend, IServingPredictor
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string, int), string?> _served = new();

    public Task DeployAsync(string servingName, int version, string? label, IReadOnlyList<ServingFile> files, CancellationToken cancellationToken = default)
    {
        _served[(servingName, version)] = label;
        return Task.CompletedTask;
    }

    public Task StopAsync(string servingName, int version, CancellationToken cancellationToken = default)
    {
        _served.TryRemove((servingName, version), out _);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<ServingVersionStatus>> GetStatusAsync(string servingName, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<ServingVersionStatus>>(_served.Where(kv => kv.Key.Item1 == servingName)
            .Select(kv => new ServingVersionStatus(kv.Key.Item2, true, kv.Value is null ? [] : [kv.Value], "AVAILABLE", null)).ToList());

    public Task<IReadOnlyDictionary<string, IReadOnlyList<int>>> GetDeployedAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyDictionary<string, IReadOnlyList<int>>>(_served.Keys.GroupBy(k => k.Item1)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<int>)g.Select(k => k.Item2).Order().ToList()));

    public Task<ServingSignature> GetSignatureAsync(string servingName, int? version, CancellationToken cancellationToken = default)
    {
        var served = _served.Keys.Where(k => k.Item1 == servingName).Select(k => k.Item2).ToList();
        if (served.Count == 0)
        {
            throw new MlModelException(ErrorCodes.NotFound, $"no version of {servingName} is served");
        }
        return Task.FromResult(new ServingSignature(version ?? served.Max(), new ModelSignature(ModelSignature.ServingDefault, null,
            [new TensorSpec("x", "x:0", "DT_FLOAT", [-1, 1])], [new TensorSpec("y", "y:0", "DT_FLOAT", [-1, 1])])));
    }

    public Task<IReadOnlyList<PredictOutput>> PredictAsync(PredictBatch batch, CancellationToken cancellationToken = default)
    {
        var x = batch.Inputs[0].Values.Span;
        var y = new double[x.Length];
        for (var i = 0; i < x.Length; i++)
        {
            y[i] = x[i] / 2 + 2;
        }
        return Task.FromResult<IReadOnlyList<PredictOutput>>([new PredictOutput(null, batch.Inputs[0].RowShape, y)]);
    }
}
