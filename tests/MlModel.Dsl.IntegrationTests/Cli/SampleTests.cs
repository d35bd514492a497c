using MlModel.Dsl.IntegrationTests.Support;
using MlModel.Dsl.Serving.TensorFlow.Tests;

namespace MlModel.Dsl.IntegrationTests.Cli;

/// <summary>Each sample runs, as its README says, and prints what it promises.</summary>
public class SampleTests
{
    private static (int Code, string Output, string Error) RunHostEmbedding(params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "HostEmbedding.dll");
        File.Exists(dll).Should().BeTrue("the test project copies the sample next to itself");
        var info = new System.Diagnostics.ProcessStartInfo("dotnet", [dll, .. args]) { RedirectStandardOutput = true, RedirectStandardError = true };
        // The sample reads MLMODEL_SERVING_URL too: only the arguments given here decide.
        info.Environment.Remove("MLMODEL_SERVING_URL");
        using var p = System.Diagnostics.Process.Start(info)!;
        var error = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output, error.Result);
    }

    private static void ShouldShowThePipes(string output)
    {
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        lines.Should().ContainInOrder("name | version", "clothes | 1", "mnist_v1 | 1");
        output.Should().NotContain("churn", "the host's where filtered out the spark model");
        // Step 4: a DataTable of features through serving predict (half_plus_two), then the host's where.
        lines.Should().ContainInOrder("query:  features | serving predict name=mnist_v1 col=x | where probability > 3",
            "id | x | predictions | probability", "3 | [3] | [3.5] | 3.5", "4 | [4] | [4] | 4", "5 | [5] | [4.5] | 4.5");
        lines.Should().NotContain(l => l.StartsWith("2 | [2]", StringComparison.Ordinal), "the host's where keeps probability > 3");
    }

    [Test]
    public void HostEmbedding_runs_the_pipe_with_the_library_and_a_dataview()
    {
        using var home = new TempFolder();
        var (code, output, error) = RunHostEmbedding(home.Path);
        code.Should().Be(0, error);
        ShouldShowThePipes(output);
        output.Should().Contain("serving: in-process half_plus_two");
    }

    [Test]
    public async Task HostEmbedding_with_serving_url_predicts_through_TensorFlow_Serving()
    {
        using var home = new TempFolder();
        await using var server = new FakeTensorFlowServing(Path.Combine(home.Path, "serving", "models.config"));

        var (code, output, error) = RunHostEmbedding("--serving-url", server.Address.ToString(), home.Path);

        code.Should().Be(0, error);
        ShouldShowThePipes(output);
        output.Should().Contain($"serving: TensorFlow Serving at {server.Address}");
        server.StateOf("root_mnist_v1", 1).Should().Be(MlModel.Dsl.Serving.TensorFlow.ModelVersionState.Available, "the sample's deploy went to the server's config");
        server.Requests.Where(r => r.Method == "POST").Select(r => r.Target).Should().Equal("/v1/models/root_mnist_v1/versions/1:predict");
        server.Requests.Should().Contain(r => r.Method == "GET" && r.Target == "/v1/models/root_mnist_v1/versions/1/metadata");
    }
}
