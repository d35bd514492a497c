using MlModel.Dsl.Backends;
using MlModel.Dsl.Backends.Local;
using MlModel.Dsl.IntegrationTests.Support;
using MlModel.Dsl.Storage.S3;
using Microsoft.Extensions.DependencyInjection;

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

    // An S3 store is a real backend that can tell it was disposed: its SDK client refuses calls.
    // Built only; nothing here reaches a server.
    private static S3ObjectStore UnreachableS3Store() => new(new S3StoreOptions
    {
        ServiceUrl = "http://127.0.0.1:9", Bucket = "b", AccessKey = "a", SecretKey = "s",
    });

    private static async Task ShouldBeDisposedAsync(Func<Task> act) =>
        (await act.Should().ThrowAsync<Exception>()).Which.Should().Match<Exception>(e =>
            e is ObjectDisposedException || e.InnerException is ObjectDisposedException);

    [Test]
    public async Task An_engine_that_owns_its_backends_disposes_them_with_itself()
    {
        using var s3 = UnreachableS3Store();
        using var h = new EngineHarness(o =>
        {
            o.OwnsBackends = true;
            o.ExportStore = s3;
        });
        await h.ImportHalfPlusTwoAsync("m");
        await h.RunAsync("mlmodel deploy name=m");

        await h.Engine.DisposeAsync();
        await h.Engine.DisposeAsync(); // a second time does nothing

        await ShouldBeDisposedAsync(() => h.RunAsync("mlmodel list"));
        // The serving backend's per-model gate went with it; so did the export store's client.
        await ShouldBeDisposedAsync(() => h.Options.Serving!.StopAsync("root_m", 1));
        await ShouldBeDisposedAsync(() => s3.StatAsync("k"));
    }

    [Test]
    public async Task An_engine_that_does_not_own_its_backends_leaves_them_to_the_host()
    {
        using var h = new EngineHarness();
        await h.ImportHalfPlusTwoAsync("m");
        await h.Engine.DisposeAsync();

        await ShouldBeDisposedAsync(() => h.RunAsync("mlmodel list"));
        // Another engine over the same backends carries on: deploy publishes through the serving
        // backend and reads the model store and the repository.
        await using var next = new MlModelEngine(h.Options);
        using var deployed = await next.ExecuteAsync("mlmodel deploy name=m", EngineHarness.Root);
        deployed.ToBuffered().Single()[0].Should().Be("on");
    }

    [Test]
    public async Task A_container_that_disposes_the_engine_disposes_the_backends_it_owns()
    {
        using var home = new TempFolder();
        using var s3 = UnreachableS3Store();
        var serving = new MlModel.Dsl.Serving.TensorFlow.TensorFlowServingBackend(new MlModel.Dsl.Serving.TensorFlow.TensorFlowServingOptions
        {
            ServingRoot = home.Combine("serving"),
            ConfigFile = home.Combine("serving", "models.config"),
        });
        var services = new ServiceCollection().AddMlModel(o =>
        {
            o.Repository = new MlModel.Dsl.Data.SqliteModelRepository(home.Combine("mlmodel.db"));
            o.ModelStore = new LocalObjectStore(home.Combine("store"));
            o.ExportStore = s3;
            o.Serving = serving;
            o.OwnsBackends = true;
        }).BuildServiceProvider();
        var engine = services.GetRequiredService<MlModelEngine>();
        using (await engine.ExecuteAsync("mlmodel list", EngineHarness.Root))
        {
        }

        services.Dispose(); // synchronously, as a host's container does at shutdown
        await ShouldBeDisposedAsync(() => engine.ExecuteAsync("mlmodel list", EngineHarness.Root));
        await ShouldBeDisposedAsync(() => s3.StatAsync("k"));
    }
}
