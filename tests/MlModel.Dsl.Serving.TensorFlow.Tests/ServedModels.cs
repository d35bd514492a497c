using MlModel.Dsl.Serving.TensorFlow.Config;
using MlModel.Dsl.Serving.TensorFlow.Publishing;
using MlModel.Dsl.Serving.TensorFlow.Rest;

namespace MlModel.Dsl.Serving.TensorFlow.Tests;

/// <summary>One version the fake serves: its model name, version, what it computes, and whether it ever loads.</summary>
internal sealed record ServedVersion(string Name, long Version, FakeModel? Model = null, bool Loads = true);

/// <summary>
/// A fake TensorFlow Serving with versions published (real folders holding half_plus_two's
/// SavedModel, which is what the fake needs to load one) and listed in its config, waited for
/// until AVAILABLE, and a <see cref="TensorFlowServingBackend"/> on it.
/// </summary>
internal sealed class ServedModels : IAsyncDisposable
{
    private static readonly HttpClient Http = new();

    private ServedModels(TempDir dir, FakeTensorFlowServing server, ModelConfigFile config, TensorFlowServingBackend backend)
    {
        Dir = dir;
        Server = server;
        Config = config;
        Backend = backend;
    }

    public TempDir Dir { get; }

    public FakeTensorFlowServing Server { get; }

    public ModelConfigFile Config { get; }

    public TensorFlowServingBackend Backend { get; }

    public TensorFlowServingRestClient Rest => new(Http, Server.Address);

    public static async Task<ServedModels> StartAsync(params ServedVersion[] versions)
    {
        var dir = new TempDir();
        var config = new ModelConfigFile(dir.Combine("models.config"), TimeSpan.FromSeconds(5));
        var publisher = new VersionPublisher(dir.Combine("serving"));
        var server = new FakeTensorFlowServing(config.Path);
        foreach (var v in versions)
        {
            await publisher.PublishAsync(v.Name, v.Version, ServingFile.FromDirectory(Fixtures.HalfPlusTwo));
            if (v.Model is { } model)
            {
                server.Models[$"{v.Name}/{v.Version}"] = model;
            }

            if (!v.Loads)
            {
                server.NeverAvailable.Add($"{v.Name}/{v.Version}");
            }
        }

        await config.UpdateAsync(doc =>
        {
            foreach (var v in versions)
            {
                (doc.Find(v.Name) ?? doc.AddModel(v.Name, publisher.GetModelBasePath(v.Name), "tensorflow")).AddSpecificVersion(v.Version);
            }

            return true;
        });

        var rest = new TensorFlowServingRestClient(Http, server.Address);
        foreach (var v in versions)
        {
            if (v.Loads)
            {
                await rest.WaitForAvailableAsync(v.Name, v.Version, TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(10));
            }
            else
            {
                await WaitUntilAsync(() => server.StateOf(v.Name, v.Version) == ModelVersionState.Loading);
            }
        }

        var backend = new TensorFlowServingBackend(new TensorFlowServingOptions
        {
            ServingRoot = dir.Combine("serving"),
            ConfigFile = config.Path,
            RestAddress = server.Address,
        });
        server.Requests.Clear();
        return new ServedModels(dir, server, config, backend);
    }

    /// <summary>Puts <paramref name="label"/> on an AVAILABLE version and waits for the server to apply it.</summary>
    public async Task LabelAsync(string name, string label, long version)
    {
        await Config.UpdateAsync(doc => doc.Find(name)!.SetLabel(label, version));
        (await Rest.WaitForLabelAsync(name, label, version, TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(10))).Should().BeTrue();
        Server.Requests.Clear();
    }

    public static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 2000 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        condition().Should().BeTrue("the fake server gets there within 20 s");
    }

    public async ValueTask DisposeAsync()
    {
        Backend.Dispose();
        await Server.DisposeAsync();
        Dir.Dispose();
    }
}
