using MlModel.Dsl.IntegrationTests.Support;

namespace MlModel.Dsl.IntegrationTests.Cli;

/// <summary>Each sample runs, as its README says, and prints what it promises.</summary>
public class SampleTests
{
    [Test]
    public void HostEmbedding_runs_the_pipe_with_the_library_and_a_dataview()
    {
        using var home = new TempFolder();
        var dll = Path.Combine(AppContext.BaseDirectory, "HostEmbedding.dll");
        File.Exists(dll).Should().BeTrue("the test project copies the sample next to itself");
        var info = new System.Diagnostics.ProcessStartInfo("dotnet", [dll, home.Path]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = System.Diagnostics.Process.Start(info)!;
        var output = p.StandardOutput.ReadToEnd();
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        p.ExitCode.Should().Be(0, error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        lines.Should().ContainInOrder("name | version", "clothes | 1", "mnist_v1 | 1");
        output.Should().NotContain("churn", "the host's where filtered out the spark model");
        // Step 4: a DataTable of features through serving predict (in-process half_plus_two), then the host's where.
        lines.Should().ContainInOrder("id | x | predictions | probability", "3 | [3] | [3.5] | 3.5", "4 | [4] | [4] | 4", "5 | [5] | [4.5] | 4.5");
        lines.Should().NotContain(l => l.StartsWith("2 | [2]", StringComparison.Ordinal), "the host's where keeps probability > 3");
    }
}
