using MlModel.Dsl.Backends;
using MlModel.Dsl.Backends.Local;
using MlModel.Dsl.IntegrationTests.Support;

namespace MlModel.Dsl.IntegrationTests.Execution;

/// <summary>The seams a host plugs into: one call from a connector to a store, capabilities instead of concrete types.</summary>
public class BackendSeamTests
{
    [Test]
    public async Task OpenStoreAsync_resolves_a_connector_as_the_caller_may_use_it()
    {
        using var h = new EngineHarness();
        var folder = Path.Combine(h.Home, "bob-objects");
        Directory.CreateDirectory(folder);
        await h.Engine.Connectors.SaveAsync(new ConnectorInfo("bobs", "local", new Dictionary<string, string> { ["root"] = folder }) { Owner = "bob" }, EngineHarness.Root);

        (await h.Engine.Connectors.OpenStoreAsync("local", EngineHarness.Alice)).Should().BeAssignableTo<ILocalFileStore>("a local store says it can hand out paths");
        var bobs = await h.Engine.Connectors.OpenStoreAsync("bobs", EngineHarness.Bob);
        await bobs.PutAsync("a.txt", new MemoryStream([1, 2, 3]), 3);
        File.Exists(Path.Combine(folder, "a.txt")).Should().BeTrue();

        var act = () => h.Engine.Connectors.OpenStoreAsync("bobs", EngineHarness.Alice, usedAs: "--store");
        var error = (await act.Should().ThrowAsync<MlModelException>()).Which.Error;
        error.Code.Should().Be(ErrorCodes.Connector);
        error.Message.Should().StartWith("--store: unknown connector 'bobs'; known connectors: local")
            .And.EndWith("Add it first, e.g.: mlmodel connector add id=bobs type=s3 endpoint=URL bucket=B access_key=KEY secret_key=SECRET");
        (await h.Engine.Connectors.OpenStoreAsync("bobs", EngineHarness.Root)).Should().NotBeNull("administrators may use any connector");
    }

    [Test]
    public void The_serving_backend_says_what_it_loads()
    {
        using var h = new EngineHarness();
        h.Options.Serving!.Capabilities.Should().Be(h.Options.Serving.Capabilities with { });
        h.Options.Serving.Capabilities.AnalysisTools.Should().Equal("tf");
        h.Options.Serving.Capabilities.Formats.Should().Equal("saved_model");
    }
}
