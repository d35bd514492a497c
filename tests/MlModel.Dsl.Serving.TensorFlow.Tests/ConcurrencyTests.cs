using System.Diagnostics;
using System.Globalization;
using FluentAssertions;
using MlModel.Dsl.Serving.TensorFlow.Config;
using NUnit.Framework;

namespace MlModel.Dsl.Serving.TensorFlow.Tests;

public class ConcurrencyTests
{
    private const int Workers = 8;

    /// <summary>
    /// One worker's share (own <see cref="TensorFlowServing"/> instance, so its own lock handles):
    /// model p{i}: deploy 1, 2, 3 (label stable on 3), stop 2; model "shared": deploy {i+1} and {i+11}, stop {i+11}.
    /// </summary>
    internal static async Task WorkerAsync(string root, string config, int index, string source)
    {
        using var tfs = new TensorFlowServing(new TensorFlowServingOptions
        {
            ServingRoot = root,
            ConfigFile = config,
            LockTimeout = TimeSpan.FromSeconds(60),
        });
        var files = ServingFile.FromDirectory(source);
        var own = "p" + index.ToString(CultureInfo.InvariantCulture);
        await tfs.DeployAsync(own, 1, null, files);
        await tfs.DeployAsync("shared", index + 1, null, files);
        await tfs.DeployAsync(own, 2, null, files);
        await tfs.DeployAsync("shared", index + 11, null, files);
        await tfs.DeployAsync(own, 3, "stable", files);
        await tfs.StopAsync("shared", index + 11);
        await tfs.StopAsync(own, 2);
    }

    [Test]
    public async Task Eight_tasks_with_their_own_handles_deploy_and_stop_at_once()
    {
        using var dir = new TempDir();
        var source = PrepareSource(dir);

        await Task.WhenAll(Enumerable.Range(0, Workers).Select(i =>
            Task.Run(() => WorkerAsync(dir.Combine("serving"), dir.Combine("models.config"), i, source))));

        await AssertFinalStateAsync(dir);
    }

    [Test]
    public async Task Eight_processes_deploy_and_stop_at_once()
    {
        using var dir = new TempDir();
        var source = PrepareSource(dir);
        var assembly = typeof(ConcurrencyTests).Assembly.Location;
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";

        var processes = Enumerable.Range(0, Workers).Select(i =>
        {
            var psi = new ProcessStartInfo(dotnet, [assembly, "lock-worker", dir.Combine("serving"), dir.Combine("models.config"), i.ToString(CultureInfo.InvariantCulture), source])
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
            };
            return Process.Start(psi)!;
        }).ToList();

        foreach (var process in processes)
        {
            using (process)
            {
                var stderr = process.StandardError.ReadToEndAsync();
                var stdout = process.StandardOutput.ReadToEndAsync();
                await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
                process.ExitCode.Should().Be(0, await stderr + await stdout);
            }
        }

        await AssertFinalStateAsync(dir);
    }

    private static string PrepareSource(TempDir dir)
    {
        var source = dir.Combine("store");
        VersionPublisherTests.CopyTree(Fixtures.HalfPlusTwo, source);
        return source;
    }

    private static async Task AssertFinalStateAsync(TempDir dir)
    {
        var doc = ModelServerConfigDocument.Parse(await File.ReadAllTextAsync(dir.Combine("models.config")));
        doc.Models.Select(m => m.Name).Should().BeEquivalentTo(Enumerable.Range(0, Workers).Select(i => "p" + i).Append("shared"));
        doc.Models.Should().OnlyHaveUniqueItems(m => m.Name);
        for (var i = 0; i < Workers; i++)
        {
            var entry = doc.Find("p" + i)!;
            entry.SpecificVersions.Should().Equal(1, 3);
            entry.Labels.Should().Equal(new Dictionary<string, long> { ["stable"] = 3 });
            Directory.GetDirectories(dir.Combine("serving", "p" + i)).Select(Path.GetFileName).Order().Should().Equal("1", "3");
        }

        doc.Find("shared")!.SpecificVersions.Should().Equal(Enumerable.Range(1, Workers).Select(v => (long)v));
        Directory.GetFileSystemEntries(dir.Combine("serving", "shared")).Select(Path.GetFileName)
            .Should().BeEquivalentTo(Enumerable.Range(1, Workers).Select(v => v.ToString(CultureInfo.InvariantCulture)), "no temp folder or lock file is left");
    }
}
