using MlModel.Dsl.Backends;
using MlModel.Dsl.Backends.Local;
using MlModel.Dsl.Data;
using MlModel.Dsl.Serving.TensorFlow;

namespace MlModel.Dsl.IntegrationTests.Support;

/// <summary>
/// A real embedded engine in a temporary home: a SQLite file, local folders for the objects
/// and the model store, and TensorFlow Serving's model root and config file.
/// </summary>
internal sealed class EngineHarness : IDisposable
{
    public static readonly MlModelCaller Root = new("root", IsAdministrator: true);
    public static readonly MlModelCaller Alice = new("alice");
    public static readonly MlModelCaller Bob = new("bob");

    private readonly TempFolder _home = new();

    public EngineHarness(Action<MlModelOptions>? configure = null, IModelRepository? repository = null)
        : this((_, o) => configure?.Invoke(o), repository)
    {
    }

    /// <summary>A harness whose <paramref name="configure"/> sees its folders (the config file a fake server polls).</summary>
    public EngineHarness(Action<EngineHarness, MlModelOptions> configure, IModelRepository? repository = null)
    {
        Directory.CreateDirectory(Objects);
        Options = new MlModelOptions
        {
            Repository = repository ?? new SqliteModelRepository(Path.Combine(Home, "mlmodel.db"),
                new ModelRepositoryOptions { SecretKey = ConnectorSecretKey.FromFile(Path.Combine(Home, "secret.key")) }),
            ModelStore = new LocalObjectStore(Store),
            Serving = new TensorFlowServingBackend(new TensorFlowServingOptions
            {
                ServingRoot = ServingRoot,
                ConfigFile = ConfigFile,
            }),
            DisplayTimeZone = TimeZoneInfo.Utc,
        };
        Options.Connectors.Add(new ConnectorInfo("local", "local", new Dictionary<string, string> { ["root"] = Objects }));
        configure(this, Options);
        Engine = new MlModelEngine(Options);
    }

    public string Home => _home.Path;
    public string Objects => Path.Combine(Home, "objects");
    public string Store => Path.Combine(Home, "store");
    public string ServingRoot => Path.Combine(Home, "serving");
    public string ConfigFile => Path.Combine(ServingRoot, "models.config");
    public MlModelOptions Options { get; }
    public MlModelEngine Engine { get; }

    /// <summary>Puts an archive where the <c>local</c> connector finds it, and returns its key.</summary>
    public string PutObject(string key, byte[] content)
    {
        var path = Path.Combine(Objects, key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, content);
        return key;
    }

    /// <summary>Runs a command and returns its rows, buffered.</summary>
    public async Task<ResultSet> RunAsync(string command, MlModelCaller? caller = null)
    {
        using var result = await Engine.ExecuteAsync(command, caller ?? Root);
        return result.ToBuffered();
    }

    /// <summary>Imports the half_plus_two SavedModel fixture under USERS/{user}/ and returns its version.</summary>
    public async Task<int> ImportHalfPlusTwoAsync(string name = "half_plus_two", MlModelCaller? caller = null, string? top = "half_plus_two")
    {
        caller ??= Root;
        var key = PutObject($"USERS/{caller.User}/{name}-{Guid.NewGuid():N}.tar", Archives.FromFolder(TestPaths.Model("saved_model_half_plus_two_cpu"), top));
        var result = await RunAsync($"mlmodel import name={name} analysis_tool=tf kind=regression algorithm=deep format=saved_model connector_id=local path={key}", caller);
        return (int)result.First()[2]!;
    }

    /// <summary>Every file under the model store and the serving root, for "nothing left behind" checks.</summary>
    public IReadOnlyList<string> StoredFiles() =>
        Directory.Exists(Store) ? Directory.EnumerateFiles(Store, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(Store, f)).Order().ToList() : [];

    public void Dispose() => _home.Dispose();
}
