using MlModel.Dsl.IntegrationTests.Support;

namespace MlModel.Dsl.IntegrationTests.Execution;

public class CheckTests
{
    private EngineHarness _h = null!;

    [SetUp]
    public void SetUp() => _h = new EngineHarness(o => o.OrphanGracePeriod = TimeSpan.Zero);

    [TearDown]
    public void TearDown() => _h.Dispose();

    [Test]
    public async Task A_healthy_repository_has_no_problems()
    {
        await _h.ImportHalfPlusTwoAsync("m");
        var check = await _h.RunAsync("mlmodel check");
        check.Fields.Select(f => f.Name).Should().Equal("problem", "user", "name", "version", "detail", "action");
        check.Should().BeEmpty();
    }

    [Test]
    public async Task Missing_and_corrupt_files_are_reported_and_repair_marks_the_version_error()
    {
        await _h.ImportHalfPlusTwoAsync("m", top: null);
        var dir = Path.Combine(_h.Store, "models", "root", "m", "1");
        File.Delete(Path.Combine(dir, "assets", "foo.txt"));
        await File.WriteAllTextAsync(Path.Combine(dir, "saved_model.pb"), "x");

        var report = await _h.RunAsync("mlmodel check");
        report.Select(r => (r[0], r[4])).Should().BeEquivalentTo(new[]
        {
            ((object?)"missing_file", (object?)"'assets/foo.txt' is missing"),
            ("corrupt_file", $"'saved_model.pb' has 1 bytes, the manifest says {new FileInfo(Path.Combine(TestPaths.Model("saved_model_half_plus_two_cpu"), "saved_model.pb")).Length}"),
        });
        (await _h.RunAsync("mlmodel check repair=true")).Select(r => r[5]).Should().AllBeEquivalentTo("marked ERROR");
        (await _h.RunAsync("mlmodel summary name=m")).First(r => (string)r[0]! == "state")[1].Should().Be("ERROR");
    }

    [Test]
    public async Task Files_with_no_version_are_orphans_and_repair_deletes_them()
    {
        await _h.ImportHalfPlusTwoAsync("m");
        var orphan = Path.Combine(_h.Store, "models", "root", "ghost", "3", "saved_model.pb");
        Directory.CreateDirectory(Path.GetDirectoryName(orphan)!);
        await File.WriteAllTextAsync(orphan, "left by a crashed import");

        var report = (await _h.RunAsync("mlmodel check")).Single();
        report.Should().Equal("orphan_files", "root", "ghost", 3, "1 file(s), 24 bytes under models/root/ghost/3/ with no version in the registry", "none");
        (await _h.RunAsync("mlmodel check repair=true")).Single()[5].Should().Be("deleted");
        File.Exists(orphan).Should().BeFalse();
        (await _h.RunAsync("mlmodel check")).Should().BeEmpty();
        (await _h.RunAsync("mlmodel list")).Should().HaveCount(1, "the real model is untouched");
    }

    [Test]
    public async Task Young_orphans_are_kept_because_an_import_may_be_running()
    {
        using var h = new EngineHarness(o => o.OrphanGracePeriod = TimeSpan.FromHours(1));
        // An import allocates its version before it writes a file (and a brand-new repository
        // beside files under models/ would be refused as a lost database).
        (await h.Options.Repository!.AllocateVersionAsync("root", "busy")).Should().Be(1);
        var orphan = Path.Combine(h.Store, "models", "root", "busy", "1", "saved_model.pb");
        Directory.CreateDirectory(Path.GetDirectoryName(orphan)!);
        await File.WriteAllTextAsync(orphan, "x");
        ((string)(await h.RunAsync("mlmodel check repair=true")).Single()[5]!).Should().StartWith("kept: younger than");
        File.Exists(orphan).Should().BeTrue();
    }
}
