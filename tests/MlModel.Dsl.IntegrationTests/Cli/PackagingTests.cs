using System.IO.Compression;
using MlModel.Dsl.IntegrationTests.Support;

namespace MlModel.Dsl.IntegrationTests.Cli;

/// <summary>The libraries pack as NuGet packages and the CLI installs as a .NET tool named mlmodel.</summary>
public class PackagingTests
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    [Test]
    public void The_cli_packs_as_a_dotnet_tool_that_installs_and_runs()
    {
        using var folder = new TempFolder();
        var packages = folder.Combine("packages");
        // Built here, not --no-build: the tool's packages are published per runtime (ReadyToRun),
        // which the test run's plain build does not do.
        Run("dotnet", ["pack", Path.Combine(TestPaths.RepoRoot, "samples", "MlModel.Cli"), "-c", Configuration, "-o", packages]).Should().Be(0);
        var nupkgs = Directory.GetFiles(packages, "MlModel.Cli.*.nupkg").Select(Path.GetFileName).ToList();
        var version = nupkgs.Single(p => p!.StartsWith("MlModel.Cli.any.", StringComparison.Ordinal))!["MlModel.Cli.any.".Length..^".nupkg".Length];
        nupkgs.Should().BeEquivalentTo(
            new[] { "", ".any", ".linux-x64", ".linux-arm64", ".osx-x64", ".osx-arm64" }.Select(rid => $"MlModel.Cli{rid}.{version}.nupkg"),
            "a pointer package and one per runtime, with `any` for the others");
        IsReadyToRun(Path.Combine(packages, $"MlModel.Cli.linux-x64.{version}.nupkg")).Should().BeTrue("a runtime's package is compiled ahead of time");
        IsReadyToRun(Path.Combine(packages, $"MlModel.Cli.any.{version}.nupkg")).Should().BeFalse("`any` cannot be");

        var tools = folder.Combine("tools");
        Run("dotnet", ["tool", "install", "--tool-path", tools, "--add-source", packages, "MlModel.Cli", "--version", version]).Should().Be(0);
        var (code, output) = Capture(Path.Combine(tools, "mlmodel"), ["--parse", "-c", "mlmodel stop mnist_v1"]);
        code.Should().Be(0);
        output.Trim().Should().Be("""{"command":"mlmodel","params":{"operation":"stop","name":"mnist_v1"}}""");
    }

    /// <summary>Whether the package's mlmodel.dll carries precompiled code (a ReadyToRun header), besides its README.</summary>
    private static bool IsReadyToRun(string nupkg)
    {
        using var zip = ZipFile.OpenRead(nupkg);
        zip.Entries.Select(e => e.FullName).Should().Contain("README.md");
        var dll = zip.Entries.Single(e => e.FullName.EndsWith("/mlmodel.dll", StringComparison.Ordinal));
        using var copy = new MemoryStream();
        using (var entry = dll.Open())
        {
            entry.CopyTo(copy);
        }
        copy.Position = 0;
        using var pe = new System.Reflection.PortableExecutable.PEReader(copy);
        return pe.PEHeaders.CorHeader!.ManagedNativeHeaderDirectory.Size > 0;
    }

    [TestCase("MlModel.Dsl")]
    [TestCase("MlModel.Dsl.Data")]
    [TestCase("MlModel.Dsl.Storage.S3")]
    [TestCase("MlModel.Dsl.Serving.TensorFlow")]
    public void Each_library_packs_with_its_readme_licence_and_description(string project)
    {
        using var folder = new TempFolder();
        Run("dotnet", ["pack", Path.Combine(TestPaths.RepoRoot, "src", project), "-c", Configuration, "--no-build", "-o", folder.Path]).Should().Be(0);
        var nupkg = Directory.GetFiles(folder.Path, project + ".*.nupkg").Single(p => !p.EndsWith(".snupkg", StringComparison.Ordinal));
        using var zip = ZipFile.OpenRead(nupkg);
        zip.Entries.Select(e => e.FullName).Should().Contain("README.md").And.Contain($"lib/net10.0/{project}.dll").And.Contain($"lib/net10.0/{project}.xml");
        using var nuspec = new StreamReader(zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open());
        var text = nuspec.ReadToEnd();
        text.Should().Contain("<license type=\"expression\">MIT</license>").And.Contain("<description>").And.Contain("<readme>README.md</readme>");
    }

    private static int Run(string file, string[] args) => Capture(file, args).Code;

    private static (int Code, string Output) Capture(string file, string[] args)
    {
        var info = new System.Diagnostics.ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = TestPaths.RepoRoot };
        using var p = System.Diagnostics.Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            TestContext.Out.WriteLine(stdout.Result + stderr.Result);
        }
        return (p.ExitCode, stdout.Result);
    }
}
