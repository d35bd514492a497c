using MlModel.Dsl.Backends;
using MlModel.Dsl.IntegrationTests.Support;

namespace MlModel.Dsl.IntegrationTests.Execution;

/// <summary>
/// Backends say what went wrong and nothing else; the engine places their errors in the command
/// that ran into them, as fields, and the message gets its prefix once.
/// </summary>
public class ErrorContextTests
{
    private static async Task<MlModelError> FailsAsync(Func<Task> act) =>
        (await act.Should().ThrowAsync<MlModelException>()).Which.Error;

    private static void PlacedOnce(MlModelError error, string command, string operation)
    {
        error.Command.Should().Be(command);
        error.Operation.Should().Be(operation);
        error.Message.Should().Be($"{command} {operation}: {error.Detail}");
        error.Detail.Should().NotContain("mlmodel " + operation + ":", "the backend's own text carries no prefix");
    }

    [Test]
    public async Task An_object_store_error_reaches_the_caller_placed_in_the_import()
    {
        using var h = new EngineHarness();
        var error = await FailsAsync(() => h.RunAsync(
            "mlmodel import name=m analysis_tool=tf kind=regression algorithm=deep format=saved_model connector_id=local path=USERS/root/none.tar"));
        error.Code.Should().Be(ErrorCodes.NotFound);
        PlacedOnce(error, "mlmodel", "import");
        error.Detail.Should().Contain("USERS/root/none.tar");

        // The audit trail records the same text, prefixed once.
        var history = await h.RunAsync("mlmodel history name=m");
        history.Single()[7].Should().Be(error.Message);
    }

    [Test]
    public async Task A_serving_backend_error_is_placed_in_the_command_that_ran_into_it()
    {
        using var h = new EngineHarness();
        await h.ImportHalfPlusTwoAsync("m");
        await h.RunAsync("mlmodel deploy name=m");
        await File.WriteAllTextAsync(h.ConfigFile, "model_config_list { config { name: "); // a config cut short

        // The backend fails reading its config; the stop that asked for it is the one named,
        // not an operation the backend guessed.
        var error = await FailsAsync(() => h.RunAsync("mlmodel stop name=m"));
        PlacedOnce(error, "mlmodel", "stop");
        error.Detail.Should().Contain(h.ConfigFile);

        var status = await FailsAsync(() => h.RunAsync("mlmodel status name=m"));
        PlacedOnce(status, "mlmodel", "status");
        status.Detail.Should().Be(error.Detail);
    }

    [Test]
    public async Task A_provider_error_is_placed_in_the_connector_subcommand()
    {
        using var h = new EngineHarness();
        var error = await FailsAsync(() => h.Engine.Connectors.SaveAsync(
            new ConnectorInfo("nowhere", "local", new Dictionary<string, string>()), EngineHarness.Root));
        error.Code.Should().Be(ErrorCodes.Connector);
        PlacedOnce(error, "mlmodel", "connector add");
        error.Message.Should().Be("mlmodel connector add: connector 'nowhere' (local) needs the setting 'root' (the folder that holds the objects)");
    }

    [Test]
    public async Task A_host_named_use_of_a_connector_is_the_errors_command()
    {
        using var h = new EngineHarness();
        var error = await FailsAsync(() => h.Engine.Connectors.OpenStoreAsync("nothing", EngineHarness.Alice, usedAs: "--store"));
        error.Command.Should().Be("--store");
        error.Operation.Should().BeNull();
        error.Message.Should().Be("--store: " + error.Detail);
        error.Detail.Should().StartWith("unknown connector 'nothing'; known connectors: local. Add it first");
    }
}
