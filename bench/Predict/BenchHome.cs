using System.Globalization;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Backends.Local;
using MlModel.Dsl.Data;
using MlModel.Dsl.Serving.TensorFlow;

namespace MlModel.Dsl.Predict.Benchmarks;

/// <summary>
/// The engine's home the benchmark predicts with, as a user's embedded setup has it (the CLI's
/// layout): a SQLite registry, local folders for the objects and the model store, and TensorFlow
/// Serving's model folder and config. The driver imports the bundled half_plus_two SavedModel
/// (samples/models/half_plus_two.tar) and deploys it with the engine; the fake server then serves
/// the config that deploy wrote, so the registry, the config and the server agree, and the
/// <c>stage</c> sides open the same home with the server as the backend's REST address.
/// </summary>
internal static class BenchHome
{
    /// <summary>The model's name in the registry.</summary>
    public const string ModelName = "half_plus_two";

    /// <summary>The caller of every command: the CLI's default user, an administrator.</summary>
    public static readonly MlModelCaller Root = new("root", IsAdministrator: true);

    /// <summary>The serving config deploy writes in <paramref name="home"/>.</summary>
    public static string ConfigFile(string home) => Path.Combine(home, "serving", "models.config");

    /// <summary>
    /// The engine's options on <paramref name="home"/>; with <paramref name="restAddress"/> the
    /// serving backend talks to the server there (predict, status), as <c>--serving-url</c> makes it.
    /// </summary>
    public static MlModelOptions Options(string home, Uri? restAddress, int batchSize = 256, int batchesInFlight = 4)
    {
        var options = new MlModelOptions
        {
            Repository = new SqliteModelRepository(Path.Combine(home, "mlmodel.db")),
            ModelStore = new LocalObjectStore(Path.Combine(home, "store")),
            Serving = new TensorFlowServingBackend(new TensorFlowServingOptions
            {
                ServingRoot = Path.Combine(home, "serving"),
                ConfigFile = ConfigFile(home),
                RestAddress = restAddress,
            }),
            OwnsBackends = true,
            PredictBatchSize = batchSize,
            PredictBatchesInFlight = batchesInFlight,
        };
        options.Connectors.Add(new ConnectorInfo("local", "local", new Dictionary<string, string> { ["root"] = Path.Combine(home, "objects") }));
        return options;
    }

    /// <summary>
    /// Imports and deploys half_plus_two in a new <paramref name="home"/> (the README's
    /// walkthrough, through the engine) and returns its serving name and version.
    /// </summary>
    public static async Task<(string ServingName, int Version)> DeployAsync(string home)
    {
        var objects = Path.Combine(home, "objects", "USERS", Root.User);
        Directory.CreateDirectory(objects);
        File.Copy(Path.Combine(FakeServerProcess.RepositoryRoot(), "samples", "models", "half_plus_two.tar"), Path.Combine(objects, "half_plus_two.tar"));
        await using var engine = new MlModelEngine(Options(home, restAddress: null));
        int version;
        await using (var imported = await engine.ExecuteAsync(
            $"mlmodel import name={ModelName} analysis_tool=tf kind=regression algorithm=deep format=saved_model connector_id=local path=USERS/{Root.User}/half_plus_two.tar",
            Root))
        {
            version = Convert.ToInt32(imported.Single()[2], CultureInfo.InvariantCulture);
        }

        await using var deployed = await engine.ExecuteAsync($"mlmodel deploy name={ModelName} version={version}", Root);
        var servingName = (string)deployed.Single()[2]!;
        return (servingName, version);
    }
}
