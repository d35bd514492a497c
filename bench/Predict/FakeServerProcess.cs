using MlModel.Dsl.Serving.TensorFlow;
using MlModel.Dsl.Serving.TensorFlow.Tests;

namespace MlModel.Dsl.Predict.Benchmarks;

/// <summary>
/// <c>server --config FILE --model NAME --version N</c>: the tests' fake TensorFlow Serving in a
/// process of its own, started on the serving config the engine's deploy wrote
/// (<see cref="BenchHome"/>), as <c>tensorflow_model_server --model_config_file=FILE</c> would be.
/// Prints <c>LISTENING &lt;address&gt;</c> once version N of NAME is AVAILABLE and serves until its
/// standard input closes.
/// </summary>
internal static class FakeServerProcess
{
    public static async Task<int> RunAsync(Options options)
    {
        var config = options.Get("config", "");
        var model = options.Get("model", "");
        var version = options.Long("version", 1);
        if (!File.Exists(config) || model.Length == 0)
        {
            await Console.Error.WriteLineAsync("usage: server --config <models.config> --model <serving name> --version <n>");
            return 2;
        }

        await using var server = new FakeTensorFlowServing(config) { RecordRequests = false, ConfigPollInterval = TimeSpan.FromMilliseconds(100) };
        for (var i = 0; server.StateOf(model, version) != ModelVersionState.Available; i++)
        {
            if (i == 300)
            {
                await Console.Error.WriteLineAsync($"the fake server did not load version {version} of {model} from {config} within 30 s");
                return 1;
            }

            await Task.Delay(100);
        }

        // Rarely re-read the config from now on: it does not change.
        server.ConfigPollInterval = TimeSpan.FromSeconds(5);
        Console.WriteLine("LISTENING " + server.Address);
        await Console.In.ReadToEndAsync();
        await Console.Error.WriteLineAsync($"the fake server accepted {server.AcceptedConnections} connections");
        return 0;
    }

    public static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "MlModel.Dsl.sln")))
            {
                return d.FullName;
            }
        }

        throw new InvalidOperationException("run the benchmark from the repository's bench/Predict build (no MlModel.Dsl.sln above " + AppContext.BaseDirectory + ")");
    }
}
