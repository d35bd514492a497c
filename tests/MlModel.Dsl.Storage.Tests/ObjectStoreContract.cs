using MlModel.Dsl.Backends;
using System.Text;

namespace MlModel.Dsl.Storage.Tests;

/// <summary>
/// The behaviour every <see cref="IObjectStore"/> must have. Subclasses supply a fresh, empty store
/// per test and say how to check that a failed write left nothing pending.
/// </summary>
public abstract partial class ObjectStoreContract
{
    protected const int MiB = 1024 * 1024;

    /// <summary>Bytes of the large objects: more than two 16 MiB parts.</summary>
    protected const int LargeSize = 40 * MiB;

    protected IObjectStore Store { get; private set; } = null!;

    /// <summary>A new, empty store for one test.</summary>
    protected abstract Task<IObjectStore> CreateStoreAsync();

    /// <summary>Releases what <see cref="CreateStoreAsync"/> made.</summary>
    protected abstract Task DestroyStoreAsync(IObjectStore store);

    /// <summary>Asserts that no trace of an unfinished write is left (temporary files, pending multipart uploads).</summary>
    protected abstract Task AssertNothingPendingAsync();

    [SetUp]
    public async Task CreateStore() => Store = await CreateStoreAsync();

    [TearDown]
    public async Task DestroyStore()
    {
        if (Store is not null)
        {
            await DestroyStoreAsync(Store);
        }
    }

    protected static MemoryStream Text(string text) => new(Encoding.UTF8.GetBytes(text));

    protected async Task<byte[]> ReadAllAsync(string key)
    {
        await using var stream = await Store.OpenReadAsync(key);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    protected async Task<string> ReadTextAsync(string key) => Encoding.UTF8.GetString(await ReadAllAsync(key));

    protected async Task<List<ObjectInfo>> ListAsync(string prefix)
    {
        var found = new List<ObjectInfo>();
        await foreach (var info in Store.ListAsync(prefix))
        {
            found.Add(info);
        }

        return found;
    }

    protected async Task<string> HashOfAsync(string key)
    {
        await using var stream = await Store.OpenReadAsync(key);
        return await PatternStream.HashAsync(stream);
    }

    /// <summary>Fetches a download URL's bytes: file:// from disk, http(s) with HttpClient.</summary>
    protected static async Task<byte[]> FetchAsync(Uri url)
    {
        if (url.IsFile)
        {
            return await File.ReadAllBytesAsync(url.LocalPath);
        }

        using var http = new HttpClient();
        return await http.GetByteArrayAsync(url);
    }

    // ------------------------------------------------------------------ put, get, stat

    [Test]
    public async Task Put_then_read_returns_the_bytes()
    {
        await Store.PutAsync("models/a/1/saved_model.pb", Text("hello"), 5);

        (await ReadTextAsync("models/a/1/saved_model.pb")).Should().Be("hello");
    }

    [Test]
    public async Task Put_of_unknown_length_then_read_returns_the_bytes()
    {
        await Store.PutAsync("a.txt", new PatternStream(100_000, 7), null);

        (await HashOfAsync("a.txt")).Should().Be(PatternStream.Sha256(100_000, 7));
    }

    [Test]
    public async Task Put_of_an_empty_object_works([Values] bool lengthKnown)
    {
        await Store.PutAsync("empty", new MemoryStream(), lengthKnown ? 0 : null);

        (await ReadAllAsync("empty")).Should().BeEmpty();
        (await Store.StatAsync("empty"))!.Size.Should().Be(0);
    }

    [Test]
    public async Task Put_replaces_an_existing_object()
    {
        await Store.PutAsync("k", Text("first version"), null);
        await Store.PutAsync("k", Text("second"), null);

        (await ReadTextAsync("k")).Should().Be("second");
        (await ListAsync("")).Should().ContainSingle();
    }

    [Test]
    public async Task Put_with_a_wrong_declared_length_fails_and_leaves_nothing([Values(4, 6)] int declared)
    {
        var act = () => Store.PutAsync("k", Text("hello"), declared);

        (await act.Should().ThrowAsync<MlModelException>()).Which.Code.Should().Be(ErrorCodes.InvalidValue);
        (await Store.StatAsync("k")).Should().BeNull();
        await AssertNothingPendingAsync();
    }

    [TestCase(0, FileShare.Read, true)]
    [TestCase(0, FileShare.None, true)]
    [TestCase(0, FileShare.Read, false)]
    [TestCase(1000, FileShare.Read, true)]
    public async Task Put_from_a_file_stream_stores_what_is_left_of_it(int skip, FileShare share, bool lengthKnown)
    {
        var file = Path.Combine(Path.GetTempPath(), $"mlmodel-put-source-{Guid.NewGuid():N}");
        var size = 3 * MiB + 17;
        await File.WriteAllBytesAsync(file, PatternStream.Bytes(size, 22));
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(file, UnixFileMode.UserRead);
        }

        try
        {
            await using (var source = new FileStream(file, FileMode.Open, FileAccess.Read, share))
            {
                source.Position = skip;
                await Store.PutAsync("from-file.bin", source, lengthKnown ? size - skip : null);
                source.Position.Should().Be(size, "the content is read to its end");
            }

            var stored = await ReadAllAsync("from-file.bin");
            stored.Should().Equal(PatternStream.Bytes(size, 22).Skip(skip));
            if (Store is ILocalFileStore local && local.GetLocalPath("from-file.bin") is { } path && !OperatingSystem.IsWindows())
            {
                File.GetUnixFileMode(path).Should().HaveFlag(UnixFileMode.UserWrite, "the object gets the mode of a new file, not the source's");
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public async Task Put_from_a_file_stream_with_a_wrong_declared_length_fails()
    {
        var file = Path.Combine(Path.GetTempPath(), $"mlmodel-put-source-{Guid.NewGuid():N}");
        await File.WriteAllBytesAsync(file, new byte[1000]);
        try
        {
            await using var source = File.OpenRead(file);
            var act = () => Store.PutAsync("from-file.bin", source, 999);

            (await act.Should().ThrowAsync<MlModelException>()).Which.Code.Should().Be(ErrorCodes.InvalidValue);
            (await Store.StatAsync("from-file.bin")).Should().BeNull();
            await AssertNothingPendingAsync();
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public async Task Stat_returns_size_and_time()
    {
        var before = DateTime.UtcNow.AddMinutes(-5);
        await Store.PutAsync("dir/file.bin", new MemoryStream(new byte[1234]), 1234);

        var info = await Store.StatAsync("dir/file.bin");

        info.Should().NotBeNull();
        info!.Key.Should().Be("dir/file.bin");
        info.Size.Should().Be(1234);
        info.LastModified.Kind.Should().Be(DateTimeKind.Utc);
        info.LastModified.Should().BeAfter(before).And.BeBefore(DateTime.UtcNow.AddMinutes(5));
    }

    [Test]
    public async Task Stat_of_a_missing_object_is_null()
    {
        await Store.PutAsync("dir/file", Text("x"), 1);

        (await Store.StatAsync("nothing")).Should().BeNull();
        (await Store.StatAsync("dir")).Should().BeNull("a prefix of other keys is not an object");
    }

    [Test]
    public async Task Reading_a_missing_object_is_not_found_naming_the_key()
    {
        var act = () => Store.OpenReadAsync("models/missing.bin");

        var error = (await act.Should().ThrowAsync<MlModelException>()).Which;
        error.Code.Should().Be(ErrorCodes.NotFound);
        error.Message.Should().Contain("models/missing.bin");
    }

    // ------------------------------------------------------------------ list and delete

    [Test]
    public async Task List_is_recursive_with_slash_separated_keys_in_order()
    {
        foreach (var key in new[] { "b/2/z.txt", "a.txt", "b/1.txt", "b/2/y.txt", "c/d/e/f.txt" })
        {
            await Store.PutAsync(key, Text(key), null);
        }

        var all = await ListAsync("");

        all.Select(o => o.Key).Should().Equal("a.txt", "b/1.txt", "b/2/y.txt", "b/2/z.txt", "c/d/e/f.txt");
        all.Single(o => o.Key == "c/d/e/f.txt").Size.Should().Be("c/d/e/f.txt".Length);
    }

    [Test]
    public async Task List_returns_only_keys_starting_with_the_prefix()
    {
        foreach (var key in new[] { "m/a/1/x", "m/a/2/x", "m/ab/1/x", "m/b/1/x", "ma" })
        {
            await Store.PutAsync(key, Text("."), 1);
        }

        (await ListAsync("m/a/")).Select(o => o.Key).Should().Equal("m/a/1/x", "m/a/2/x");
        (await ListAsync("m/a")).Select(o => o.Key).Should().Equal("m/a/1/x", "m/a/2/x", "m/ab/1/x");
        (await ListAsync("m")).Select(o => o.Key).Should().HaveCount(5);
        (await ListAsync("m/a/1/x")).Select(o => o.Key).Should().Equal("m/a/1/x");
        (await ListAsync("zzz/")).Should().BeEmpty();
    }

    [Test]
    public async Task Delete_removes_an_object_and_deleting_a_missing_one_is_no_error()
    {
        await Store.PutAsync("d/k1", Text("1"), 1);
        await Store.PutAsync("d/k2", Text("2"), 1);

        await Store.DeleteAsync("d/k1");
        await Store.DeleteAsync("d/k1");
        await Store.DeleteAsync("never/there");

        (await Store.StatAsync("d/k1")).Should().BeNull();
        (await ListAsync("")).Select(o => o.Key).Should().Equal("d/k2");
    }

    [Test]
    public async Task DeletePrefix_removes_everything_under_the_prefix_and_nothing_else()
    {
        foreach (var key in new[] { "models/u_a/1/saved_model.pb", "models/u_a/1/variables/v.data", "models/u_a/2/x", "models/u_ab/1/x", "other" })
        {
            await Store.PutAsync(key, Text(key), null);
        }

        await Store.DeletePrefixAsync("models/u_a/");

        (await ListAsync("")).Select(o => o.Key).Should().Equal("models/u_ab/1/x", "other");
        await Store.DeletePrefixAsync("nothing/here/");
        await Store.DeletePrefixAsync("");
        (await ListAsync("")).Should().BeEmpty();
    }

    // ------------------------------------------------------------------ large objects

    [Test]
    public async Task A_40_MiB_put_of_unknown_length_arrives_whole()
    {
        await Store.PutAsync("big/unknown.bin", new PatternStream(LargeSize, 11), null);

        (await Store.StatAsync("big/unknown.bin"))!.Size.Should().Be(LargeSize);
        (await HashOfAsync("big/unknown.bin")).Should().Be(PatternStream.Sha256(LargeSize, 11));
    }

    [Test]
    public async Task A_40_MiB_put_of_known_length_arrives_whole()
    {
        await Store.PutAsync("big/known.bin", new PatternStream(LargeSize, 12), LargeSize);

        (await HashOfAsync("big/known.bin")).Should().Be(PatternStream.Sha256(LargeSize, 12));
    }

    [Test]
    public async Task A_40_MiB_WriteAsync_arrives_whole()
    {
        await Store.WriteAsync("big/written.bin", async (stream, ct) =>
        {
            // Odd-sized writes, so that parts do not line up with them.
            var source = new PatternStream(LargeSize, 13);
            var buffer = new byte[100_003];
            int read;
            while ((read = await source.ReadAsync(buffer, ct)) > 0)
            {
                await stream.WriteAsync(buffer.AsMemory(0, read), ct);
            }
        });

        (await Store.StatAsync("big/written.bin"))!.Size.Should().Be(LargeSize);
        (await HashOfAsync("big/written.bin")).Should().Be(PatternStream.Sha256(LargeSize, 13));
        await AssertNothingPendingAsync();
    }

    [Test]
    public async Task WriteAsync_takes_synchronous_writes()
    {
        const int size = 17 * MiB + 5;
        await Store.WriteAsync("sync.bin", (stream, _) =>
        {
            // A synchronous writer, as tar writers are: small blocks, and it disposes the stream.
            using (stream)
            {
                var source = new PatternStream(size, 14);
                var block = new byte[512];
                int read;
                while ((read = source.Read(block, 0, block.Length)) > 0)
                {
                    stream.Write(block, 0, read);
                }
            }

            return Task.CompletedTask;
        });

        (await HashOfAsync("sync.bin")).Should().Be(PatternStream.Sha256(size, 14));
    }

    [Test]
    public async Task WriteAsync_of_a_small_object_works()
    {
        await Store.WriteAsync("small.txt", async (stream, ct) => await stream.WriteAsync(Encoding.UTF8.GetBytes("small"), ct));

        (await ReadTextAsync("small.txt")).Should().Be("small");
    }

    // ------------------------------------------------------------------ whole or nothing

    [Test]
    public async Task A_failed_WriteAsync_leaves_no_object_and_nothing_pending()
    {
        await Store.PutAsync("kept", Text("kept"), null);

        var act = () => Store.WriteAsync("big/failed.bin", async (stream, ct) =>
        {
            var source = new PatternStream(LargeSize, 15);
            var buffer = new byte[MiB];
            for (var written = 0; written < 20 * MiB; written += MiB)
            {
                await source.ReadExactlyAsync(buffer, ct);
                await stream.WriteAsync(buffer, ct);
            }

            throw new InvalidOperationException("the producer failed midway");
        });

        // The callback's own exception travels as it is.
        (await act.Should().ThrowExactlyAsync<InvalidOperationException>()).Which.Message.Should().Be("the producer failed midway");
        (await Store.StatAsync("big/failed.bin")).Should().BeNull();
        (await ListAsync("")).Select(o => o.Key).Should().Equal("kept");
        await AssertNothingPendingAsync();
    }

    [Test]
    public async Task A_failed_WriteAsync_does_not_replace_the_existing_object()
    {
        await Store.PutAsync("k", Text("old"), null);

        var act = () => Store.WriteAsync("k", async (stream, ct) =>
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes("new, partial"), ct);
            throw new InvalidOperationException("boom");
        });

        await act.Should().ThrowExactlyAsync<InvalidOperationException>();
        (await ReadTextAsync("k")).Should().Be("old");
        await AssertNothingPendingAsync();
    }

    [Test]
    public async Task A_cancelled_WriteAsync_leaves_no_object_and_nothing_pending()
    {
        using var cancel = new CancellationTokenSource();
        var act = () => Store.WriteAsync("big/cancelled.bin", async (stream, ct) =>
        {
            var source = new PatternStream(LargeSize, 16);
            var buffer = new byte[MiB];
            for (var written = 0; written < LargeSize; written += MiB)
            {
                if (written == 20 * MiB)
                {
                    await cancel.CancelAsync();
                }

                await source.ReadExactlyAsync(buffer, ct);
                await stream.WriteAsync(buffer, ct);
            }
        }, cancel.Token);

        await act.Should().ThrowAsync<OperationCanceledException>();
        (await Store.StatAsync("big/cancelled.bin")).Should().BeNull();
        await AssertNothingPendingAsync();
    }

    [Test]
    public async Task A_put_whose_source_fails_midway_leaves_no_object_and_nothing_pending()
    {
        var act = () => Store.PutAsync("big/broken.bin", new PatternStream(LargeSize, 17, failAfter: 35 * MiB), null);

        // The source's own exception travels as it is.
        (await act.Should().ThrowExactlyAsync<IOException>()).Which.Message.Should().Be("the source failed on purpose");
        (await Store.StatAsync("big/broken.bin")).Should().BeNull();
        await AssertNothingPendingAsync();
    }

    [Test]
    public async Task A_small_put_whose_source_fails_leaves_nothing([Values] bool lengthKnown)
    {
        var act = () => Store.PutAsync("small/broken.bin", new PatternStream(1000, 17, failAfter: 500), lengthKnown ? 1000 : null);

        await act.Should().ThrowExactlyAsync<IOException>();
        (await Store.StatAsync("small/broken.bin")).Should().BeNull();
        await AssertNothingPendingAsync();
    }

    [Test]
    public async Task An_object_being_written_is_not_visible_until_it_is_complete()
    {
        var midway = new TaskCompletionSource();
        var resume = new TaskCompletionSource();
        var writing = Store.WriteAsync("visible/later.bin", async (stream, ct) =>
        {
            var buffer = PatternStream.Bytes(20 * MiB, 18);
            await stream.WriteAsync(buffer, ct);
            midway.SetResult();
            await resume.Task.WaitAsync(ct);
            await stream.WriteAsync(buffer, ct);
        });

        await midway.Task.WaitAsync(TimeSpan.FromMinutes(1));
        (await Store.StatAsync("visible/later.bin")).Should().BeNull();
        (await ListAsync("")).Should().BeEmpty();
        resume.SetResult();
        await writing;

        (await Store.StatAsync("visible/later.bin"))!.Size.Should().Be(40 * MiB);
    }

    // ------------------------------------------------------------------ keys

    public static readonly object[] BadKeys =
    [
        "", "/etc/passwd", "../outside", "a/../../b", "..", "a/..", ".", "./a", "a/./b",
        "a//b", "a/", "a\\b", "..\\x", "a\0b",
    ];

    [TestCaseSource(nameof(BadKeys))]
    public async Task Keys_that_could_escape_are_refused_everywhere(string key)
    {
        async Task Expect(Func<Task> act)
        {
            (await act.Should().ThrowAsync<MlModelException>()).Which.Code.Should().Be(ErrorCodes.InvalidValue);
        }

        await Expect(() => Store.PutAsync(key, Text("x"), 1));
        await Expect(() => Store.WriteAsync(key, (s, ct) => s.WriteAsync(new byte[1], ct).AsTask()));
        await Expect(() => Store.OpenReadAsync(key));
        await Expect(() => Store.StatAsync(key));
        await Expect(() => Store.DeleteAsync(key));
        await Expect(() => Store.GetDownloadUrlAsync(key, TimeSpan.FromMinutes(5)));
        if (Store is ILocalFileStore local)
        {
            await Expect(() => Task.FromResult(local.GetLocalPath(key)));
        }
        (await ListAsync("")).Should().BeEmpty();
    }

    [TestCase("../")]
    [TestCase("/abs/")]
    [TestCase("a//")]
    [TestCase("a\\b/")]
    public async Task Prefixes_that_could_escape_are_refused(string prefix)
    {
        var list = () => ListAsync(prefix);
        var delete = () => Store.DeletePrefixAsync(prefix);

        (await list.Should().ThrowAsync<MlModelException>()).Which.Code.Should().Be(ErrorCodes.InvalidValue);
        (await delete.Should().ThrowAsync<MlModelException>()).Which.Code.Should().Be(ErrorCodes.InvalidValue);
    }

    [Test]
    public async Task Keys_with_unusual_but_safe_characters_round_trip()
    {
        string[] keys = ["sp ace/ü-ñ.txt", "a+b=c/%20x.bin", "..dots../x..y", "h#sh/q?uery"];
        foreach (var key in keys)
        {
            await Store.PutAsync(key, Text(key), null);
        }

        foreach (var key in keys)
        {
            (await ReadTextAsync(key)).Should().Be(key);
        }

        (await ListAsync("")).Select(o => o.Key).Should().BeEquivalentTo(keys);
    }

    // ------------------------------------------------------------------ URLs

    [Test]
    public async Task A_download_url_serves_the_bytes()
    {
        var bytes = PatternStream.Bytes(300_000, 19);
        await Store.PutAsync("url/model.tar", new MemoryStream(bytes), bytes.Length);

        var url = await Store.GetDownloadUrlAsync("url/model.tar", TimeSpan.FromMinutes(10));

        (await FetchAsync(url)).Should().Equal(bytes);
    }

    [Test]
    public async Task A_download_url_for_a_key_with_special_characters_serves_the_bytes()
    {
        await Store.PutAsync("url/h#sh %x?.txt", Text("special"), null);

        var url = await Store.GetDownloadUrlAsync("url/h#sh %x?.txt", TimeSpan.FromMinutes(10));

        Encoding.UTF8.GetString(await FetchAsync(url)).Should().Be("special");
    }

    [Test]
    public async Task A_download_url_for_a_missing_key_is_not_found()
    {
        var act = () => Store.GetDownloadUrlAsync("url/missing", TimeSpan.FromMinutes(10));

        (await act.Should().ThrowAsync<MlModelException>()).Which.Code.Should().Be(ErrorCodes.NotFound);
    }

    [Test]
    public void The_description_names_the_store()
    {
        Store.Description.Should().NotBeNullOrWhiteSpace();
        Store.ToString().Should().Be(Store.Description);
    }
}
