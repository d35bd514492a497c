using MlModel.Dsl.Serving.TensorFlow;
using MlModel.Dsl.Serving.TensorFlow.Tests;

namespace MlModel.Dsl.IntegrationTests.Support;

/// <summary>
/// A real embedded engine (<see cref="EngineHarness"/>: SQLite, local folders, TensorFlow
/// Serving's model root and config file) whose <see cref="TensorFlowServingBackend"/> talks over
/// HTTP to the fake TensorFlow Serving on 127.0.0.1, which polls the config file the library
/// writes and loads the versions it publishes, as <c>tensorflow_model_server
/// --model_config_file=... --rest_api_port=...</c> does.
/// </summary>
internal sealed class ServedEngine : IAsyncDisposable
{
    private ServedEngine(EngineHarness harness, FakeTensorFlowServing server, TensorFlowServingBackend backend)
    {
        Harness = harness;
        Server = server;
        Backend = backend;
    }

    public EngineHarness Harness { get; }

    public FakeTensorFlowServing Server { get; }

    public TensorFlowServingBackend Backend { get; }

    public MlModelEngine Engine => Harness.Engine;

    public static ServedEngine Start(Action<MlModelOptions>? configure = null)
    {
        FakeTensorFlowServing? server = null;
        TensorFlowServingBackend? backend = null;
        var harness = new EngineHarness((h, o) =>
        {
            server = new FakeTensorFlowServing(h.ConfigFile);
            (o.Serving as IDisposable)?.Dispose();
            backend = new TensorFlowServingBackend(new TensorFlowServingOptions
            {
                ServingRoot = h.ServingRoot,
                ConfigFile = h.ConfigFile,
                RestAddress = server.Address,
                // The fake loads a version within about 200 ms; a deploy asks every 20 ms.
                PollInterval = TimeSpan.FromMilliseconds(20),
                AvailableTimeout = TimeSpan.FromSeconds(30),
            });
            o.Serving = backend;
            configure?.Invoke(o);
        });
        return new ServedEngine(harness, server!, backend!);
    }

    public async ValueTask DisposeAsync()
    {
        await Engine.DisposeAsync();
        Backend.Dispose();
        await Server.DisposeAsync();
        Harness.Dispose();
    }
}
