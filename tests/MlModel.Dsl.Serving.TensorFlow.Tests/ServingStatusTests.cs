using MlModel.Dsl.Backends;

namespace MlModel.Dsl.Serving.TensorFlow.Tests;

/// <summary>
/// What <c>serving status</c> gets from the backend: one entry per version with the config's
/// labels and the server's state (TensorFlow Serving's model status API), the state left unknown,
/// never guessed, when the server cannot say.
/// </summary>
public sealed class ServingStatusTests
{
    [Test]
    public async Task Each_version_has_the_servers_state_and_the_configs_labels()
    {
        await using var served = await ServedModels.StartAsync(
            new ServedVersion("demo_model_cnn_wine_quality_0422", 1),
            new ServedVersion("demo_model_cnn_wine_quality_0422", 2, Loads: false));
        await served.LabelAsync("demo_model_cnn_wine_quality_0422", "CNN wineQ model", 1);

        var status = await served.Backend.GetStatusAsync("demo_model_cnn_wine_quality_0422");

        status.Should().BeEquivalentTo(new[]
        {
            new ServingVersionStatus(1, true, ["CNN wineQ model"], "AVAILABLE", null),
            new ServingVersionStatus(2, true, [], "LOADING", null),
        }, o => o.WithStrictOrdering());
    }

    [Test]
    public async Task A_version_that_failed_to_load_is_END_with_the_servers_error()
    {
        await using var served = await ServedModels.StartAsync(new ServedVersion("root_m", 1));
        // A version folder without saved_model.pb: the SavedModel loader fails.
        Directory.CreateDirectory(served.Dir.Combine("serving", "root_m", "2"));
        await served.Config.UpdateAsync(doc => doc.Find("root_m")!.AddSpecificVersion(2));
        await ServedModels.WaitUntilAsync(() => served.Server.StateOf("root_m", 2) == ModelVersionState.End);

        var two = (await served.Backend.GetStatusAsync("root_m")).Single(s => s.Version == 2);

        two.ServerState.Should().Be("END");
        two.ServerMessage.Should().Be($"Could not find SavedModel .pb or .pbtxt at supplied export directory path: {served.Dir.Combine("serving", "root_m", "2")}");
    }

    [Test]
    public async Task An_unreachable_server_leaves_the_state_unknown_and_says_why()
    {
        using var dir = new TempDir();
        await File.WriteAllTextAsync(dir.Combine("models.config"), """
            model_config_list {
              config {
                name: "root_m"
                base_path: "BASE"
                model_platform: "tensorflow"
                model_version_policy { specific { versions: 1 } }
              }
            }
            """.Replace("BASE", dir.Combine("serving", "root_m"), StringComparison.Ordinal));
        var options = new TensorFlowServingOptions { ServingRoot = dir.Combine("serving"), ConfigFile = dir.Combine("models.config") };
        using var offline = new TensorFlowServingBackend(options);
        using var unreachable = new TensorFlowServingBackend(new TensorFlowServingOptions
        {
            ServingRoot = options.ServingRoot,
            ConfigFile = options.ConfigFile,
            RestAddress = new Uri("http://127.0.0.1:1/"),
        });

        var withoutServer = (await offline.GetStatusAsync("root_m")).Single();
        var withDeadServer = (await unreachable.GetStatusAsync("root_m")).Single();

        withoutServer.Should().BeEquivalentTo(new ServingVersionStatus(1, true, [], null, null));
        withDeadServer.ServerState.Should().BeNull();
        withDeadServer.ServerMessage.Should().StartWith("TensorFlow Serving at http://127.0.0.1:1/ is not reachable: ");
    }
}
