using System.Net;
using FluentAssertions;
using MlModel.Dsl.Serving.TensorFlow.Config;
using MlModel.Dsl.Serving.TensorFlow.Publishing;
using MlModel.Dsl.Serving.TensorFlow.Rest;
using NUnit.Framework;

namespace MlModel.Dsl.Serving.TensorFlow.Tests;

public class RestClientTests
{
    private static readonly HttpClient Http = new();

    [Test]
    public void Parses_the_doc_example_status()
    {
        // tensorflow_serving/g3doc/api_rest.md, "Make REST API calls to ModelServer".
        const string body = "{\n \"model_version_status\": [\n  {\n   \"version\": \"123\",\n   \"state\": \"AVAILABLE\",\n   \"status\": {\n    \"error_code\": \"OK\",\n    \"error_message\": \"\"\n   }\n  }\n ]\n}";
        TensorFlowServingRestClient.ParseStatus(body).Should().Equal(new ServedVersionStatus(123, ModelVersionState.Available, "OK", string.Empty));
    }

    [Test]
    public void Parses_numeric_forms_and_errors()
    {
        TensorFlowServingRestClient.ParseStatus("""{"model_version_status":[{"version":2,"state":50,"status":{"error_code":5,"error_message":"gone"}}]}""")
            .Single().Should().Be(new ServedVersionStatus(2, ModelVersionState.End, "5", "gone"));
        TensorFlowServingRestClient.ParseStatus("{}").Should().BeEmpty();

        // api_rest.md: { "error": "Servable not found for request: Latest(half)" }
        TensorFlowServingRestClient.ParseError("{ \"error\": \"Servable not found for request: Latest(half)\" }").Should().Be("Servable not found for request: Latest(half)");
        // absl::CEscape output is not always JSON (\' is not a JSON escape).
        TensorFlowServingRestClient.ParseError("{ \"error\": \"can\\'t load \\\"x\\\"\" }").Should().Be("can't load \"x\"");
    }

    [Test]
    public async Task Unknown_model_and_version_are_404_with_the_servers_message()
    {
        using var dir = new TempDir();
        await using var server = new FakeTensorFlowServing(dir.Combine("models.config"));
        var client = new TensorFlowServingRestClient(Http, server.Address);

        var model = await client.GetModelStatusAsync("nope");
        model.StatusCode.Should().Be(HttpStatusCode.NotFound);
        model.Error.Should().Be("Could not find any versions of model nope");

        var version = await client.GetModelStatusAsync("nope", 3);
        version.StatusCode.Should().Be(HttpStatusCode.NotFound);
        version.Error.Should().Be("Could not find version 3 of model nope");
    }

    [Test]
    public async Task Waits_through_start_and_loading_to_available()
    {
        using var dir = new TempDir();
        var (config, server) = await StartWithVersionAsync(dir, Fixtures.HalfPlusTwo);
        await using var _ = server;
        var client = new TensorFlowServingRestClient(Http, server.Address);

        var status = await client.WaitForAvailableAsync("m", 1, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(10));

        status.Should().Be(new ServedVersionStatus(1, ModelVersionState.Available, "OK", string.Empty));
        var all = await client.GetModelStatusAsync("m");
        all.Versions.Should().ContainSingle().Which.State.Should().Be(ModelVersionState.Available);
        config.Should().NotBeNull();
    }

    [Test]
    public async Task A_version_without_saved_model_pb_fails_with_the_servers_message()
    {
        using var dir = new TempDir();
        var (_, server) = await StartWithVersionAsync(dir, Fixtures.BadHalfPlusTwo);
        await using var __ = server;
        var client = new TensorFlowServingRestClient(Http, server.Address);

        var act = () => client.WaitForAvailableAsync("m", 1, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(10));

        var error = (await act.Should().ThrowAsync<TensorFlowServingException>()).Which;
        error.Kind.Should().Be(TensorFlowServingErrorKind.LoadFailed);
        error.ServerMessage.Should().StartWith("Could not find SavedModel .pb or .pbtxt");
        error.Message.Should().Contain("NOT_FOUND").And.Contain(error.ServerMessage);
    }

    [Test]
    public async Task A_version_that_stays_loading_times_out_with_the_last_state()
    {
        using var dir = new TempDir();
        var (_, server) = await StartWithVersionAsync(dir, Fixtures.HalfPlusTwo, s => s.NeverAvailable.Add("m"));
        await using var __ = server;
        var client = new TensorFlowServingRestClient(Http, server.Address);

        var act = () => client.WaitForAvailableAsync("m", 1, TimeSpan.FromMilliseconds(600), TimeSpan.FromMilliseconds(20));

        var error = (await act.Should().ThrowAsync<TensorFlowServingException>()).Which;
        error.Kind.Should().Be(TensorFlowServingErrorKind.Timeout);
        error.Message.Should().Contain("last state: LOADING");
    }

    [Test]
    public async Task A_version_the_server_never_hears_of_times_out_as_not_found()
    {
        using var dir = new TempDir();
        await using var server = new FakeTensorFlowServing(dir.Combine("models.config"));
        var client = new TensorFlowServingRestClient(Http, server.Address);

        var act = () => client.WaitForAvailableAsync("ghost", 1, TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(20));

        (await act.Should().ThrowAsync<TensorFlowServingException>()).Which.Message
            .Should().Contain("not found (Could not find version 1 of model ghost)");
    }

    [Test]
    public async Task A_label_resolves_through_the_metadata_api()
    {
        using var dir = new TempDir();
        var (config, server) = await StartWithVersionAsync(dir, Fixtures.HalfPlusTwo);
        await using var _ = server;
        var client = new TensorFlowServingRestClient(Http, server.Address);
        await client.WaitForAvailableAsync("m", 1, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(10));

        var unknown = await client.GetLabelVersionAsync("m", "stable");
        unknown.Version.Should().BeNull();
        unknown.StatusCode.Should().Be(HttpStatusCode.BadRequest);
        unknown.Error.Should().Be("Unrecognized servable version label: stable");

        await config.UpdateAsync(doc => doc.Find("m")!.SetLabel("stable", 1));
        (await client.WaitForLabelAsync("m", "stable", 1, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(10))).Should().BeTrue();
        (await client.GetLabelVersionAsync("m", "stable")).Version.Should().Be(1);

        server.LabelRoutes = false;
        (await client.WaitForLabelAsync("m", "stable", 1, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(10))).Should().BeFalse("an old server cannot tell");
    }

    [Test]
    public async Task An_unreachable_server_is_reported_at_the_timeout()
    {
        var client = new TensorFlowServingRestClient(Http, new Uri("http://127.0.0.1:1/"));
        var act = () => client.WaitForAvailableAsync("m", 1, TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(50));
        (await act.Should().ThrowAsync<TensorFlowServingException>()).Which.Message.Should().Contain("not reachable");
    }

    private static async Task<(ModelConfigFile Config, FakeTensorFlowServing Server)> StartWithVersionAsync(TempDir dir, string source, Action<FakeTensorFlowServing>? configure = null)
    {
        var config = new ModelConfigFile(dir.Combine("models.config"), TimeSpan.FromSeconds(5));
        var publisher = new VersionPublisher(dir.Combine("serving"));
        await publisher.PublishAsync("m", 1, ServingFile.FromDirectory(source));
        var server = new FakeTensorFlowServing(config.Path);
        configure?.Invoke(server);
        await config.UpdateAsync(doc => doc.AddModel("m", publisher.GetModelBasePath("m"), "tensorflow").AddSpecificVersion(1));
        return (config, server);
    }
}
