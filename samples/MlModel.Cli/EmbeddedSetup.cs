using MlModel.Dsl;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Backends.Local;
using MlModel.Dsl.Data;
using MlModel.Dsl.Serving.TensorFlow;
using MlModel.Dsl.Storage.S3;

namespace MlModel.Cli;

/// <summary>
/// The embedded default, all under one home folder:
/// <c>mlmodel.db</c> (SQLite), <c>objects/</c> (the <c>local</c> connector, where imports come from),
/// <c>store/</c> (managed model files and exports), <c>serving/</c> (TensorFlow Serving's model
/// base paths and <c>serving/models.config</c>, ready for <c>--model_config_file</c>).
/// </summary>
internal static class EmbeddedSetup
{
    public static MlModelEngine Create(CliOptions o)
    {
        var home = Path.GetFullPath(o.Home);
        Directory.CreateDirectory(home);
        Directory.CreateDirectory(Path.Combine(home, "objects"));
        var options = new MlModelOptions
        {
            Repository = o.Database is null
                ? new SqliteModelRepository(Path.Combine(home, "mlmodel.db"))
                : new PostgresModelRepository(o.Database),
            ModelStore = new LocalObjectStore(Path.Combine(home, "store")),
            Serving = new TensorFlowServingBackend(new TensorFlowServingOptions
            {
                ServingRoot = Path.Combine(home, "serving"),
                ConfigFile = Path.Combine(home, "serving", "models.config"),
                RestAddress = o.ServingUrl is null ? null : new Uri(o.ServingUrl),
            }),
        };
        options.ObjectStoreProviders.Add(new S3ObjectStoreProvider());
        options.Connectors.Add(new ConnectorInfo("local", "local", new Dictionary<string, string> { ["root"] = Path.Combine(home, "objects") }));
        options.Administrators.Add("root");
        return new MlModelEngine(options);
    }
}
