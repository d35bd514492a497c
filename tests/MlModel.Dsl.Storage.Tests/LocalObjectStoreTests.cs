using MlModel.Dsl.Backends;
using System.Text;
using MlModel.Dsl.Backends.Local;

namespace MlModel.Dsl.Storage.Tests;

/// <summary>The contract on <see cref="LocalObjectStore"/> over a temporary folder, and what only a local folder has.</summary>
[TestFixture]
public class LocalObjectStoreTests : ObjectStoreContract
{
    private string _work = null!;
    private string _root = null!;

    /// <summary>The store's <see cref="LocalObjectStore.Durable"/>: every test runs both ways.</summary>
    protected virtual bool Durable => true;

    protected override Task<IObjectStore> CreateStoreAsync()
    {
        _work = Directory.CreateTempSubdirectory("mlmodel-local-store-").FullName;
        _root = Path.Combine(_work, "root");
        return Task.FromResult<IObjectStore>(new LocalObjectStore(_root) { Durable = Durable });
    }

    protected override Task DestroyStoreAsync(IObjectStore store)
    {
        Directory.Delete(_work, recursive: true);
        return Task.CompletedTask;
    }

    protected override Task AssertNothingPendingAsync()
    {
        if (Directory.Exists(_root))
        {
            Directory.EnumerateFiles(_root, "*", SearchOption.AllDirectories)
                .Where(f => Path.GetFileName(f).StartsWith(".mlmodel-tmp-", StringComparison.Ordinal))
                .Should().BeEmpty("a failed or finished write leaves no temporary file");
        }

        // Nothing was written outside the root either.
        Directory.EnumerateFileSystemEntries(_work).Where(e => e != _root).Should().BeEmpty();
        return Task.CompletedTask;
    }

    [Test]
    public async Task Keys_map_to_files_under_the_root()
    {
        await Store.PutAsync("models/u_m/1/saved_model.pb", Text("pb"), 2);

        var path = ((ILocalFileStore)Store).GetLocalPath("models/u_m/1/saved_model.pb");

        path.Should().Be(Path.Combine(_root, "models", "u_m", "1", "saved_model.pb"));
        File.ReadAllText(path!).Should().Be("pb");
        Store.Description.Should().Be("local:" + _root);
    }

    [Test]
    public async Task The_download_url_is_the_files_uri()
    {
        await Store.PutAsync("a b/c.txt", Text("c"), 1);

        var url = await Store.GetDownloadUrlAsync("a b/c.txt", TimeSpan.FromSeconds(1));

        url.Scheme.Should().Be("file");
        url.LocalPath.Should().Be(Path.Combine(_root, "a b", "c.txt"));
    }

    [Test]
    public async Task A_store_over_a_missing_folder_is_empty_and_creates_it_on_write()
    {
        Directory.Exists(_root).Should().BeFalse();
        (await ListAsync("")).Should().BeEmpty();
        (await Store.StatAsync("x")).Should().BeNull();

        await Store.PutAsync("x", Text("x"), 1);

        File.Exists(Path.Combine(_root, "x")).Should().BeTrue();
    }

    [Test]
    public async Task DeletePrefix_removes_the_emptied_folders()
    {
        await Store.PutAsync("models/u_a/1/variables/v.data", Text("v"), 1);
        await Store.PutAsync("models/u_a/1/saved_model.pb", Text("p"), 1);
        await Store.PutAsync("models/u_b/1/saved_model.pb", Text("p"), 1);

        await Store.DeletePrefixAsync("models/u_a/");

        Directory.Exists(Path.Combine(_root, "models", "u_a")).Should().BeFalse();
        Directory.Exists(Path.Combine(_root, "models", "u_b", "1")).Should().BeTrue();

        await Store.DeletePrefixAsync("models/");
        Directory.Exists(Path.Combine(_root, "models")).Should().BeFalse();
        Directory.Exists(_root).Should().BeTrue("the root itself stays");
    }

    [Test]
    public async Task Delete_removes_the_emptied_folders()
    {
        await Store.PutAsync("a/b/c/d.txt", Text("d"), 1);

        await Store.DeleteAsync("a/b/c/d.txt");

        Directory.Exists(Path.Combine(_root, "a")).Should().BeFalse();
    }

    [Test]
    public async Task A_key_that_goes_through_a_symlink_out_of_the_root_is_refused()
    {
        var outside = Directory.CreateDirectory(Path.Combine(_work, "outside")).FullName;
        File.WriteAllText(Path.Combine(outside, "secret.txt"), "outside");
        Directory.CreateDirectory(_root);
        Directory.CreateSymbolicLink(Path.Combine(_root, "escape"), outside);
        File.CreateSymbolicLink(Path.Combine(_root, "file-escape"), Path.Combine(outside, "secret.txt"));
        Directory.CreateSymbolicLink(Path.Combine(_root, "relative-escape"), "../outside");
        File.CreateSymbolicLink(Path.Combine(_root, "dangling-escape"), Path.Combine(outside, "new.txt"));

        foreach (var key in new[] { "escape/secret.txt", "escape/new.txt", "file-escape", "relative-escape/secret.txt", "dangling-escape" })
        {
            async Task Expect(Func<Task> act) =>
                (await act.Should().ThrowAsync<MlModelException>()).Which.Code.Should().Be(ErrorCodes.InvalidValue);

            await Expect(() => Store.OpenReadAsync(key));
            await Expect(() => Store.PutAsync(key, Text("x"), 1));
            await Expect(() => Store.WriteAsync(key, (s, ct) => s.WriteAsync(new byte[1], ct).AsTask()));
            await Expect(() => Store.StatAsync(key));
            await Expect(() => Store.DeleteAsync(key));
            await Expect(() => Store.GetDownloadUrlAsync(key, TimeSpan.FromMinutes(1)));
            await using var batch = Store.BeginWriteBatch();
            await Expect(() => batch.PutAsync(key, Text("x"), 1));
            await Expect(() => batch.PutAsync(key, Text("x"), 1)); // refused again: a refused folder is not remembered as checked
        }

        var listPrefix = () => ListAsync("escape/");
        (await listPrefix.Should().ThrowAsync<MlModelException>()).Which.Code.Should().Be(ErrorCodes.InvalidValue);
        var deletePrefix = () => Store.DeletePrefixAsync("escape/");
        (await deletePrefix.Should().ThrowAsync<MlModelException>()).Which.Code.Should().Be(ErrorCodes.InvalidValue);

        (await ListAsync("")).Should().BeEmpty("links out of the root are not listed");
        await Store.DeletePrefixAsync("");
        Directory.EnumerateFiles(outside).Select(Path.GetFileName).Should().Equal("secret.txt");
        File.ReadAllText(Path.Combine(outside, "secret.txt")).Should().Be("outside");
    }

    [Test]
    public async Task Symlinks_inside_the_root_are_followed()
    {
        await Store.PutAsync("real/file.txt", Text("inside"), null);
        Directory.CreateSymbolicLink(Path.Combine(_root, "alias"), Path.Combine(_root, "real"));
        File.CreateSymbolicLink(Path.Combine(_root, "file-alias"), "real/file.txt");

        (await ReadTextAsync("alias/file.txt")).Should().Be("inside");
        (await ReadTextAsync("file-alias")).Should().Be("inside");
        (await ListAsync("")).Select(o => o.Key).Should().Equal("file-alias", "real/file.txt");
    }

    [Test]
    public async Task Temporary_names_are_reserved_and_never_listed()
    {
        Directory.CreateDirectory(_root);
        File.WriteAllText(Path.Combine(_root, ".mlmodel-tmp-0123"), "partial");

        (await ListAsync("")).Should().BeEmpty();
        var act = () => Store.PutAsync(".mlmodel-tmp-x", Text("x"), 1);
        (await act.Should().ThrowAsync<MlModelException>()).Which.Code.Should().Be(ErrorCodes.InvalidValue);
    }

    [Test]
    public async Task A_key_cannot_be_both_an_object_and_a_folder()
    {
        await Store.PutAsync("a/b", Text("b"), 1);

        var overFolder = () => Store.PutAsync("a", Text("a"), 1);
        var underFile = () => Store.PutAsync("a/b/c", Text("c"), 1);

        (await overFolder.Should().ThrowAsync<MlModelException>()).Which.Code.Should().Be(ErrorCodes.Conflict);
        (await underFile.Should().ThrowAsync<MlModelException>()).Which.Code.Should().Be(ErrorCodes.Conflict);
        (await ListAsync("")).Select(o => o.Key).Should().Equal("a/b");
        await AssertNothingPendingAsync();
    }

    [Test]
    public async Task Reading_does_not_buffer_the_whole_file()
    {
        await Store.PutAsync("big.bin", new PatternStream(LargeSize, 21), LargeSize);

        await using var stream = await Store.OpenReadAsync("big.bin");
        var before = GC.GetAllocatedBytesForCurrentThread();
        var hash = await PatternStream.HashAsync(stream);

        hash.Should().Be(PatternStream.Sha256(LargeSize, 21));
        (GC.GetAllocatedBytesForCurrentThread() - before).Should().BeLessThan(8 * MiB);
    }

    [Test]
    public async Task A_write_survives_a_concurrent_delete_of_its_empty_folder()
    {
        var tasks = new List<Task>();
        for (var i = 0; i < 50; i++)
        {
            var n = i;
            tasks.Add(Task.Run(() => Store.PutAsync($"race/{n % 3}/f{n}", Text("x"), 1)));
            tasks.Add(Task.Run(() => Store.DeletePrefixAsync($"race/{n % 3}/none")));
        }

        await Task.WhenAll(tasks);

        (await ListAsync("race/")).Should().HaveCount(50);
    }

    [Test]
    public async Task A_path_through_an_object_is_a_missing_object()
    {
        await Store.PutAsync("file", Text("f"), 1);

        (await Store.StatAsync("file/below")).Should().BeNull();
        var read = () => Store.OpenReadAsync("file/below");
        (await read.Should().ThrowAsync<MlModelException>()).Which.Code.Should().Be(ErrorCodes.NotFound);
        await Store.DeleteAsync("file/below");
        (await ListAsync("file/")).Should().BeEmpty();
    }

    [Test]
    public void Constructor_refuses_an_empty_root()
    {
        var act = () => new LocalObjectStore(" ");

        act.Should().Throw<MlModelException>().Which.Code.Should().Be(ErrorCodes.InvalidValue);
    }

    [Test]
    public async Task Keys_with_text_survive_encoding()
    {
        await Store.PutAsync("ü/日本.txt", new MemoryStream(Encoding.UTF8.GetBytes("ja")), 2);

        (await ListAsync("ü/")).Single().Key.Should().Be("ü/日本.txt");
    }

    // ------------------------------------------------------------------ write batches

    [Test]
    public async Task A_batch_commit_fails_naming_the_key_when_an_object_was_removed_before_it()
    {
        await using var batch = Store.BeginWriteBatch();
        await batch.PutAsync("models/u/m/1/saved_model.pb", Text("pb"), 2);
        await batch.PutAsync("models/u/m/1/variables/v.data", Text("v"), 1);
        File.Delete(Path.Combine(_root, "models", "u", "m", "1", "variables", "v.data"));

        var commit = () => batch.CommitAsync();

        if (!Durable)
        {
            // Nothing to sync, so nothing to notice: the import's manifest is what finds it (mlmodel check).
            await commit.Should().NotThrowAsync();
            (await ListAsync("models/")).Select(o => o.Key).Should().Equal("models/u/m/1/saved_model.pb");
            return;
        }

        var error = (await commit.Should().ThrowAsync<MlModelException>()).Which;
        error.Code.Should().Be(ErrorCodes.Backend);
        error.Message.Should().Be($"could not sync object 'models/u/m/1/variables/v.data' in local:{_root}: it was removed before its write batch was committed");
    }

    [Test]
    public async Task A_batch_of_many_files_in_a_few_folders_commits_with_one_sync_and_still_notices_a_removed_object([Values] bool removeOne)
    {
        // Enough files for the commit to sync the file system rather than each file (Linux 5.8+).
        const int count = 140; // more than the 128 from which a commit syncs the file system
        var batch = Store.BeginWriteBatch();
        for (var i = 0; i < count; i++)
        {
            await batch.PutAsync($"fs/{i % 3}/f{i}.bin", new PatternStream(500 + i, (ulong)i), 500 + i);
        }

        if (removeOne)
        {
            File.Delete(Path.Combine(_root, "fs", "2", "f101.bin"));
            var commit = () => batch.CommitAsync();
            if (Durable)
            {
                (await commit.Should().ThrowAsync<MlModelException>()).Which.Message.Should().Be(
                    $"could not sync object 'fs/2/f101.bin' in local:{_root}: it was removed before its write batch was committed");
                await batch.DisposeAsync();
                return;
            }

            await commit.Should().NotThrowAsync();
            (await ListAsync("fs/")).Should().HaveCount(count - 1);
            return;
        }

        await batch.CommitAsync();
        await batch.DisposeAsync();
        var listed = await ListAsync("fs/");
        listed.Should().HaveCount(count);
        (await HashOfAsync("fs/1/f7.bin")).Should().Be(PatternStream.Sha256(507, 7));
        await AssertNothingPendingAsync();
    }

    [Test]
    public async Task A_batch_of_many_files_commits_them_all_and_leaves_no_temporary_file()
    {
        const int count = 300;
        await using (var batch = Store.BeginWriteBatch())
        {
            for (var i = 0; i < count; i++)
            {
                await batch.PutAsync($"many/{i % 7}/{i / 7}/f{i}.bin", new PatternStream(1000 + i, (ulong)i), 1000 + i);
            }

            await batch.CommitAsync();
        }

        var listed = await ListAsync("many/");
        listed.Should().HaveCount(count);
        foreach (var o in listed)
        {
            o.Size.Should().Be(1000 + int.Parse(Path.GetFileNameWithoutExtension(o.Key).AsSpan(1), System.Globalization.CultureInfo.InvariantCulture));
        }

        await AssertNothingPendingAsync();
    }

    [Test]
    public async Task A_batch_refuses_an_object_over_a_folder_or_under_an_object()
    {
        await Store.PutAsync("a/b", Text("b"), 1);
        await using var batch = Store.BeginWriteBatch();

        var overFolder = () => batch.PutAsync("a", Text("a"), 1);
        var underFile = () => batch.PutAsync("a/b/c", Text("c"), 1);

        (await overFolder.Should().ThrowAsync<MlModelException>()).Which.Code.Should().Be(ErrorCodes.Conflict);
        (await underFile.Should().ThrowAsync<MlModelException>()).Which.Code.Should().Be(ErrorCodes.Conflict);
        await batch.CommitAsync();
        (await ListAsync("")).Select(o => o.Key).Should().Equal("a/b");
        await AssertNothingPendingAsync();
    }

    [Test]
    public async Task A_batch_replaces_a_link_inside_the_root_instead_of_writing_through_it()
    {
        await Store.PutAsync("real/file.txt", Text("inside"), null);
        File.CreateSymbolicLink(Path.Combine(_root, "file-alias"), "real/file.txt");

        await using (var batch = Store.BeginWriteBatch())
        {
            await batch.PutAsync("file-alias", Text("replaced"), 8);
            await batch.CommitAsync();
        }

        new FileInfo(Path.Combine(_root, "file-alias")).LinkTarget.Should().BeNull();
        (await ReadTextAsync("file-alias")).Should().Be("replaced");
        (await ReadTextAsync("real/file.txt")).Should().Be("inside");
    }

    [Test]
    public async Task A_batch_writes_through_a_folder_link_inside_the_root()
    {
        Directory.CreateDirectory(Path.Combine(_root, "real"));
        Directory.CreateSymbolicLink(Path.Combine(_root, "alias"), Path.Combine(_root, "real"));

        await using (var batch = Store.BeginWriteBatch())
        {
            await batch.PutAsync("alias/x.txt", Text("x"), 1);
            await batch.PutAsync("alias/y.txt", Text("y"), 1);
            await batch.CommitAsync();
        }

        File.ReadAllText(Path.Combine(_root, "real", "y.txt")).Should().Be("y");
    }

    [Test]
    public async Task A_read_stream_serves_small_reads_seeks_and_positions()
    {
        var bytes = PatternStream.Bytes(3 * MiB + 123, 35);
        await Store.PutAsync("r.bin", new MemoryStream(bytes), bytes.Length);

        await using var stream = await Store.OpenReadAsync("r.bin");
        stream.Length.Should().Be(bytes.Length);
        stream.ReadByte().Should().Be(bytes[0]);
        var small = new byte[100];
        stream.ReadExactly(small);
        small.Should().Equal(bytes[1..101]);
        stream.Position.Should().Be(101);

        stream.Seek(10, SeekOrigin.Current);
        stream.ReadByte().Should().Be(bytes[111]);
        stream.Position = 2 * MiB;
        var large = new byte[MiB + 50];
        stream.ReadExactly(large);
        large.Should().Equal(bytes[(2 * MiB)..(3 * MiB + 50)]);
        var rest = new MemoryStream();
        await stream.CopyToAsync(rest);
        rest.ToArray().Should().Equal(bytes[(3 * MiB + 50)..]);
        stream.ReadByte().Should().Be(-1);
    }

    [Test]
    public async Task Opening_many_files_for_reading_allocates_little()
    {
        for (var i = 0; i < 50; i++)
        {
            await Store.PutAsync($"alloc/f{i}", new MemoryStream(new byte[200_000]), 200_000);
        }

        var buffer = new byte[81920];
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 50; i++)
        {
            await using var stream = await Store.OpenReadAsync($"alloc/f{i}");
            while (await stream.ReadAsync(buffer) > 0)
            {
            }
        }

        // A pooled buffer, not one per file (a 1 MiB buffer per file would be 50 MiB).
        (GC.GetAllocatedBytesForCurrentThread() - before).Should().BeLessThan(2 * MiB);
    }
}

/// <summary>The same contract on a store that leaves the writeback to the kernel (<c>--no-sync</c>).</summary>
public sealed class LocalObjectStoreWithoutSyncTests : LocalObjectStoreTests
{
    protected override bool Durable => false;

    [Test]
    public void The_store_says_it_does_not_sync() =>
        ((LocalObjectStore)Store).Durable.Should().BeFalse();
}
