// A host engine's pipe evaluation, in miniature: the `mlmodel` stage is run by the library, the
// rest of the pipeline (`where`, `fields`) by the host, here with System.Data's DataView, whose
// RowFilter already speaks the `column = 'value'` expressions such hosts use.
//
//   dotnet run --project samples/HostEmbedding -- [home] ["query"]

using System.Data;
using Microsoft.Extensions.DependencyInjection;
using MlModel.Dsl;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Backends.Local;
using MlModel.Dsl.Data;

var home = args.Length > 0 ? Path.GetFullPath(args[0]) : Path.Combine(Path.GetTempPath(), "mlmodel-host-sample");
var query = args.Length > 1 ? args[1] : "* | mlmodel list | where analysis_tool = 'tf' | fields name, version";

// 1. The host registers the engine once, with the backends it wants.
await using var services = new ServiceCollection()
    .AddMlModel(o =>
    {
        o.Repository = new SqliteModelRepository(Path.Combine(home, "mlmodel.db"));
        o.ModelStore = new LocalObjectStore(Path.Combine(home, "store"));
        o.Connectors.Add(new ConnectorInfo("local", "local", new Dictionary<string, string> { ["root"] = Path.Combine(home, "objects") }));
        o.Administrators.Add("root");
        o.OwnsBackends = true; // disposing the container disposes the engine, and the engine these
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
    var view = table.DefaultView;
    foreach (var step in stage.After.Split('|', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
    {
        var space = step.IndexOf(' ');
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

    Console.WriteLine($"query:  {query}");
    Console.WriteLine($"before: '{stage.Before}'   mlmodel: {stage.Command}   after: '{stage.After}'");
    Console.WriteLine(string.Join(" | ", view.Table!.Columns.Cast<DataColumn>().Select(c => c.ColumnName)));
    foreach (DataRowView row in view)
    {
        Console.WriteLine(string.Join(" | ", row.Row.ItemArray.Select(v => v?.ToString())));
    }
}
