using System.Text;
using FluentAssertions;
using MlModel.Dsl.Serving.TensorFlow.Publishing;
using NUnit.Framework;

namespace MlModel.Dsl.Serving.TensorFlow.Tests;

public class VersionPublisherTests
{
    [Test]
    public async Task Publishes_local_files_on_the_same_file_system_as_hard_links()
    {
        using var dir = new TempDir();
        // A copy of the fixture inside the temp dir, so source and serving root share a file system.
        var source = dir.Combine("store", "half_plus_two");
        CopyTree(Fixtures.HalfPlusTwo, source);
        var publisher = new VersionPublisher(dir.Combine("serving"));

        var result = await publisher.PublishAsync("root_half", 1, ServingFile.FromDirectory(source));

        result.VersionPath.Should().Be(dir.Combine("serving", "root_half", "1"));
        result.HardLinked.Should().Be(4);
        result.Copied.Should().Be(0);
        foreach (var relative in new[] { "saved_model.pb", "variables/variables.index", "variables/variables.data-00000-of-00001", "assets/foo.txt" })
        {
            var published = Path.Combine(result.VersionPath, relative);
            var original = Path.Combine(source, relative);
            var (inode, links) = Unix.Stat(published);
            inode.Should().Be(Unix.Stat(original).Inode, $"{relative} is the same inode");
            links.Should().Be(2);
        }

        Directory.GetFileSystemEntries(dir.Combine("serving", "root_half")).Select(Path.GetFileName).Should().Equal("1");
    }

    [Test]
    public async Task Copies_when_asked_or_when_there_is_no_local_file()
    {
        using var dir = new TempDir();
        var source = dir.Combine("store");
        CopyTree(Fixtures.HalfPlusTwo, source);
        var publisher = new VersionPublisher(dir.Combine("serving"), PublishMode.CopyOnly);

        var result = await publisher.PublishAsync("m", 7, ServingFile.FromDirectory(source));
        result.Copied.Should().Be(4);
        AssertSameTree(source, result.VersionPath);
        Unix.Stat(Path.Combine(result.VersionPath, "saved_model.pb")).Inode.Should().NotBe(Unix.Stat(Path.Combine(source, "saved_model.pb")).Inode);

        // Streams only (e.g. an object store): copied in Auto mode too.
        var streamed = ServingFile.FromDirectory(source).Select(f => f with { LocalPath = null }).ToList();
        var auto = new VersionPublisher(dir.Combine("serving"));
        (await auto.PublishAsync("m", 8, streamed)).Copied.Should().Be(4);
        AssertSameTree(source, dir.Combine("serving", "m", "8"));
        auto.GetPublishedVersions("m").Should().Equal(7, 8);
    }

    [TestCase("../evil")]
    [TestCase("a/../../evil")]
    [TestCase("/etc/passwd")]
    [TestCase("a//b")]
    [TestCase("./a")]
    [TestCase("a\\b")]
    [TestCase("")]
    public async Task Rejects_paths_that_escape_the_version_folder(string relative)
    {
        using var dir = new TempDir();
        var publisher = new VersionPublisher(dir.Combine("serving"));
        var files = new[] { Bytes(relative, "x") };

        var act = () => publisher.PublishAsync("m", 1, files);

        (await act.Should().ThrowAsync<TensorFlowServingException>()).Which.Kind.Should().Be(TensorFlowServingErrorKind.InvalidArgument);
        Directory.Exists(dir.Combine("serving", "m")).Should().BeFalse();
        File.Exists(dir.Combine("evil")).Should().BeFalse();
    }

    [Test]
    public async Task A_failed_publish_leaves_nothing()
    {
        using var dir = new TempDir();
        var publisher = new VersionPublisher(dir.Combine("serving"));
        var files = new[] { Bytes("saved_model.pb", "abc"), Bytes("variables/short", "abc") with { Length = 10 } };

        var act = () => publisher.PublishAsync("m", 1, files);

        (await act.Should().ThrowAsync<TensorFlowServingException>()).Which.Message.Should().Contain("variables/short");
        Directory.GetFileSystemEntries(dir.Combine("serving", "m")).Should().BeEmpty();
    }

    [Test]
    public async Task Leftovers_of_a_crashed_publish_are_cleaned_on_the_next_publish_but_live_ones_are_not()
    {
        using var dir = new TempDir();
        var publisher = new VersionPublisher(dir.Combine("serving"));
        var basePath = dir.Combine("serving", "m");
        // Dead publish: temp folder with an unlocked lock file; another without any lock file; an interrupted unpublish.
        Directory.CreateDirectory(Path.Combine(basePath, ".publish-3-dead", "variables"));
        await File.WriteAllTextAsync(Path.Combine(basePath, ".publish-3-dead.lock"), string.Empty);
        Directory.CreateDirectory(Path.Combine(basePath, ".publish-4-nolock"));
        Directory.CreateDirectory(Path.Combine(basePath, ".unpublish-5-x"));
        // Live publish by someone else: its lock is held.
        Directory.CreateDirectory(Path.Combine(basePath, ".publish-6-live"));
        await using var live = new FileStream(Path.Combine(basePath, ".publish-6-live.lock"), FileMode.Create, FileAccess.ReadWrite, FileShare.None);

        await publisher.PublishAsync("m", 1, [Bytes("saved_model.pb", "pb")]);

        Directory.GetFileSystemEntries(basePath).Select(Path.GetFileName).Should().BeEquivalentTo("1", ".publish-6-live", ".publish-6-live.lock");
    }

    [Test]
    public async Task Unpublish_removes_the_folder()
    {
        using var dir = new TempDir();
        var publisher = new VersionPublisher(dir.Combine("serving"));
        await publisher.PublishAsync("m", 1, [Bytes("a/b/c.txt", "c")]);
        publisher.IsPublished("m", 1).Should().BeTrue();

        publisher.Unpublish("m", 1).Should().BeTrue();
        publisher.Unpublish("m", 1).Should().BeFalse();
        Directory.GetFileSystemEntries(dir.Combine("serving", "m")).Should().BeEmpty();
    }

    [Test]
    public async Task Publishing_over_an_existing_version_is_refused()
    {
        using var dir = new TempDir();
        var publisher = new VersionPublisher(dir.Combine("serving"));
        await publisher.PublishAsync("m", 1, [Bytes("x", "1")]);
        var act = () => publisher.PublishAsync("m", 1, [Bytes("x", "2")]);
        await act.Should().ThrowAsync<TensorFlowServingException>();
        (await File.ReadAllTextAsync(dir.Combine("serving", "m", "1", "x"))).Should().Be("1");
    }

    internal static ServingFile Bytes(string relative, string content)
    {
        var bytes = Encoding.UTF8.GetBytes(content);
        return new ServingFile(relative, bytes.Length, null, _ => Task.FromResult<Stream>(new MemoryStream(bytes)));
    }

    internal static void CopyTree(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    internal static void AssertSameTree(string expected, string actual)
    {
        var files = Directory.EnumerateFiles(expected, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(expected, f)).Order().ToList();
        Directory.EnumerateFiles(actual, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(actual, f)).Order().Should().Equal(files);
        foreach (var file in files)
        {
            File.ReadAllBytes(Path.Combine(actual, file)).Should().Equal(File.ReadAllBytes(Path.Combine(expected, file)), file);
        }
    }
}
