using MlModel.Dsl.Serving.TensorFlow;
using MlModel.Dsl.Serving.TensorFlow.Tests;

namespace MlModel.Dsl.Predict.Benchmarks;

/// <summary>
/// <c>server</c>: the tests' fake TensorFlow Serving in a process of its own, serving TensorFlow
/// Serving's half_plus_two SavedModel (tests/fixtures) as version 1 of <see cref="ServingName"/>.
/// Prints <c>LISTENING &lt;address&gt;</c> once the version is AVAILABLE and serves until its
/// standard input closes.
/// </summary>
internal static class FakeServerProcess
{
    public const string ServingName = "bench_hp2";

    public static async Task<int> RunAsync()
    {
        var dir = Path.Combine(Path.GetTempPath(), "mlmodel-predict-bench-" + Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var version = Path.Combine(dir, "serving", ServingName, "1");
        CopyFolder(Path.Combine(RepositoryRoot(), "tests", "fixtures", "tensorflow-serving-testdata", "saved_model_half_plus_two_cpu", "00000123"), version);
        var config = Path.Combine(dir, "models.config");
        await File.WriteAllTextAsync(config,
            "model_config_list {\n  config {\n    name: \"" + ServingName + "\"\n    base_path: \"" + Path.Combine(dir, "serving", ServingName)
            + "\"\n    model_platform: \"tensorflow\"\n    model_version_policy {\n      specific {\n        versions: 1\n      }\n    }\n  }\n}\n");
        try
        {
            await using var server = new FakeTensorFlowServing(config) { RecordRequests = false, ConfigPollInterval = TimeSpan.FromMilliseconds(100) };
            for (var i = 0; server.StateOf(ServingName, 1) != ModelVersionState.Available; i++)
            {
                if (i == 300)
                {
                    await Console.Error.WriteLineAsync("the fake server did not load half_plus_two within 30 s");
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
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
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

    private static void CopyFolder(string source, string target)
    {
        Directory.CreateDirectory(target);
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var to = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(file, to);
        }
    }
}
