using FluentAssertions;
using MlModel.Dsl.Serving.TensorFlow.Config;
using NUnit.Framework;

namespace MlModel.Dsl.Serving.TensorFlow.Tests;

public class ModelConfigFileTests
{
    [Test]
    public async Task A_missing_file_is_an_empty_config_and_an_update_creates_it()
    {
        using var dir = new TempDir();
        var file = new ModelConfigFile(dir.Combine("sub", "models.config"), TimeSpan.FromSeconds(5));
        (await file.ReadAsync()).Models.Should().BeEmpty();

        await file.UpdateAsync(doc => doc.AddModel("m", "/srv/m", "tensorflow"));

        (await File.ReadAllTextAsync(file.Path)).Should().Be("model_config_list {\n  config {\n    name: 'm'\n    base_path: '/srv/m'\n    model_platform: 'tensorflow'\n  }\n}\n");
        Directory.GetFiles(dir.Combine("sub")).Select(Path.GetFileName).Should().BeEquivalentTo("models.config", "models.config.lock");
    }

    [Test]
    public async Task An_update_that_changes_nothing_does_not_rewrite_the_file()
    {
        using var dir = new TempDir();
        var path = dir.Combine("models.config");
        const string original = "# hand-written, comments and \"double quotes\"\nmodel_config_list { config { name: \"m\" base_path: \"/srv/m\" model_platform: \"tensorflow\" } }\n";
        await File.WriteAllTextAsync(path, original);
        var file = new ModelConfigFile(path, TimeSpan.FromSeconds(5));

        await file.UpdateAsync(doc => doc.Find("m")!.RemoveSpecificVersion(7));

        (await File.ReadAllTextAsync(path)).Should().Be(original);
    }

    [Test]
    public async Task A_change_that_throws_writes_nothing()
    {
        using var dir = new TempDir();
        var path = dir.Combine("models.config");
        var file = new ModelConfigFile(path, TimeSpan.FromSeconds(5));
        await file.UpdateAsync(doc => doc.AddModel("m", "/srv/m", "tensorflow"));
        var before = await File.ReadAllTextAsync(path);

        var act = () => file.UpdateAsync<bool>(doc =>
        {
            doc.AddModel("n", "/srv/n", "tensorflow");
            throw new InvalidOperationException("boom");
        });

        await act.Should().ThrowAsync<InvalidOperationException>();
        (await File.ReadAllTextAsync(path)).Should().Be(before);
        Directory.GetFiles(dir.Path).Should().HaveCount(2, "no temp file is left behind");
    }

    [Test]
    public async Task The_lock_is_exclusive_across_handles_and_times_out()
    {
        using var dir = new TempDir();
        var path = dir.Combine("models.config");
        var file = new ModelConfigFile(path, TimeSpan.FromMilliseconds(300));

        // Another holder (another process would look the same: flock on its own open file description).
        await using (new FileStream(path + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            var act = () => file.UpdateAsync(doc => doc.AddModel("m", "/srv/m", "tensorflow"));
            (await act.Should().ThrowAsync<TensorFlowServingException>()).Which.Kind.Should().Be(TensorFlowServingErrorKind.LockTimeout);
        }

        File.Exists(path).Should().BeFalse();
        await file.UpdateAsync(doc => doc.AddModel("m", "/srv/m", "tensorflow"));
        File.Exists(path).Should().BeTrue();
    }

    [Test]
    public async Task Waits_for_the_lock_to_be_released()
    {
        using var dir = new TempDir();
        var path = dir.Combine("models.config");
        var file = new ModelConfigFile(path, TimeSpan.FromSeconds(10));
        var holder = new FileStream(path + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        var update = file.UpdateAsync(doc => doc.AddModel("m", "/srv/m", "tensorflow"));
        await Task.Delay(200);
        update.IsCompleted.Should().BeFalse();
        await holder.DisposeAsync();
        await update;
        (await file.ReadAsync()).Find("m").Should().NotBeNull();
    }

    [Test]
    public async Task Readers_never_see_a_half_written_config()
    {
        using var dir = new TempDir();
        var path = dir.Combine("models.config");
        var file = new ModelConfigFile(path, TimeSpan.FromSeconds(10));
        await file.UpdateAsync(doc => doc.AddModel("big", "/srv/big", "tensorflow"));

        using var cts = new CancellationTokenSource();
        var reads = 0;
        var reader = Task.Run(async () =>
        {
            while (!cts.IsCancellationRequested)
            {
                var text = await File.ReadAllTextAsync(path);
                // Parses, and is always one of the states written (n versions 1..n, with n >= 0).
                var entry = ModelServerConfigDocument.Parse(text).Find("big")!;
                entry.SpecificVersions.Should().Equal(Enumerable.Range(1, entry.SpecificVersions.Count).Select(i => (long)i));
                reads++;
            }
        });

        for (var v = 1; v <= 200; v++)
        {
            var version = v;
            await file.UpdateAsync(doc => doc.Find("big")!.AddSpecificVersion(version));
        }

        await cts.CancelAsync();
        await reader;
        reads.Should().BePositive();
        (await file.ReadAsync()).Find("big")!.SpecificVersions.Should().HaveCount(200);
    }
}
