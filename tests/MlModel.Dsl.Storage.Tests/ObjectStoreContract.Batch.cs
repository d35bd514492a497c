namespace MlModel.Dsl.Storage.Tests;

/// <summary>The write batch (<see cref="IObjectStore.BeginWriteBatch"/>): the same contract on every store.</summary>
public abstract partial class ObjectStoreContract
{
    [Test]
    public async Task A_committed_batch_leaves_every_object_readable_and_listed()
    {
        string[] keys = ["models/u/m/1/saved_model.pb", "models/u/m/1/variables/variables.index", "models/u/m/1/variables/variables.data-00000-of-00001", "models/u/m/1/assets/a/b/c.txt"];
        await using (var batch = Store.BeginWriteBatch())
        {
            for (var i = 0; i < keys.Length; i++)
            {
                await batch.PutAsync(keys[i], new PatternStream(10_000 * (i + 1), (ulong)(30 + i)), 10_000 * (i + 1));
            }

            await batch.CommitAsync();
        }

        for (var i = 0; i < keys.Length; i++)
        {
            (await HashOfAsync(keys[i])).Should().Be(PatternStream.Sha256(10_000 * (i + 1), (ulong)(30 + i)));
        }

        (await ListAsync("models/u/m/1/")).Select(o => o.Key).Should().BeEquivalentTo(keys);
        await AssertNothingPendingAsync();
    }

    [Test]
    public async Task A_batch_takes_large_empty_and_unknown_length_objects()
    {
        await using (var batch = Store.BeginWriteBatch())
        {
            await batch.PutAsync("b/large.bin", new PatternStream(LargeSize, 31), LargeSize);
            await batch.PutAsync("b/empty", new MemoryStream(), 0);
            await batch.PutAsync("b/unknown.bin", new PatternStream(300_001, 32), null);
            await batch.CommitAsync();
        }

        (await HashOfAsync("b/large.bin")).Should().Be(PatternStream.Sha256(LargeSize, 31));
        (await ReadAllAsync("b/empty")).Should().BeEmpty();
        (await HashOfAsync("b/unknown.bin")).Should().Be(PatternStream.Sha256(300_001, 32));
    }

    [Test]
    public async Task An_object_of_a_batch_is_readable_before_the_commit()
    {
        await using var batch = Store.BeginWriteBatch();
        await batch.PutAsync("early/x.txt", Text("early"), 5);

        (await ReadTextAsync("early/x.txt")).Should().Be("early");
        await batch.CommitAsync();
    }

    [Test]
    public async Task A_failed_put_in_a_batch_leaves_no_object_and_the_batch_goes_on([Values] bool lengthKnown)
    {
        await using (var batch = Store.BeginWriteBatch())
        {
            await batch.PutAsync("f/first", Text("first"), 5);
            var broken = () => batch.PutAsync("f/broken.bin", new PatternStream(3 * MiB, 33, failAfter: 2 * MiB), lengthKnown ? 3 * MiB : null);
            var wrongLength = () => batch.PutAsync("f/wrong", Text("hello"), 4);

            (await broken.Should().ThrowExactlyAsync<IOException>()).Which.Message.Should().Be("the source failed on purpose");
            (await wrongLength.Should().ThrowAsync<MlModelException>()).Which.Code.Should().Be(ErrorCodes.InvalidValue);
            await batch.PutAsync("f/last", Text("last"), 4);
            await batch.CommitAsync();
        }

        (await ListAsync("f/")).Select(o => o.Key).Should().Equal("f/first", "f/last");
        await AssertNothingPendingAsync();
    }

    [Test]
    public async Task A_batch_replaces_an_existing_object_whole_or_not_at_all()
    {
        await Store.PutAsync("r/kept", Text("old kept"), 8);
        await Store.PutAsync("r/replaced", Text("old"), 3);
        await using (var batch = Store.BeginWriteBatch())
        {
            var broken = () => batch.PutAsync("r/kept", new PatternStream(3 * MiB, 35, failAfter: 2 * MiB), 3 * MiB);
            (await broken.Should().ThrowExactlyAsync<IOException>()).Which.Message.Should().Be("the source failed on purpose");
            await batch.PutAsync("r/replaced", Text("a new, longer text"), 18);
            await batch.CommitAsync();
        }

        (await ReadTextAsync("r/kept")).Should().Be("old kept");
        (await ReadTextAsync("r/replaced")).Should().Be("a new, longer text");
        (await ListAsync("r/")).Select(o => o.Key).Should().Equal("r/kept", "r/replaced");
        await AssertNothingPendingAsync();
    }

    [Test]
    public async Task An_abandoned_batch_leaves_its_objects_for_the_caller_to_delete()
    {
        await using (var batch = Store.BeginWriteBatch())
        {
            await batch.PutAsync("abandoned/1/a", Text("a"), 1);
            await batch.PutAsync("abandoned/1/b/c", Text("c"), 1);
        }

        (await ListAsync("abandoned/")).Should().HaveCount(2);
        await Store.DeletePrefixAsync("abandoned/1/");
        (await ListAsync("")).Should().BeEmpty();
        await AssertNothingPendingAsync();
    }

    [Test]
    public async Task A_batch_is_finished_by_its_commit_or_its_disposal()
    {
        var committed = Store.BeginWriteBatch();
        await committed.PutAsync("done/a", Text("a"), 1);
        await committed.CommitAsync();
        var putAfterCommit = () => committed.PutAsync("done/b", Text("b"), 1);
        var commitAgain = () => committed.CommitAsync();
        await putAfterCommit.Should().ThrowAsync<InvalidOperationException>();
        await commitAgain.Should().ThrowAsync<InvalidOperationException>();
        await committed.DisposeAsync();

        var disposed = Store.BeginWriteBatch();
        await disposed.DisposeAsync();
        var putAfterDispose = () => disposed.PutAsync("done/c", Text("c"), 1);
        await putAfterDispose.Should().ThrowAsync<InvalidOperationException>();

        (await ListAsync("done/")).Select(o => o.Key).Should().Equal("done/a");
    }

    [TestCaseSource(nameof(BadKeys))]
    public async Task A_batch_refuses_keys_that_could_escape(string key)
    {
        await using var batch = Store.BeginWriteBatch();
        var act = () => batch.PutAsync(key, Text("x"), 1);

        (await act.Should().ThrowAsync<MlModelException>()).Which.Code.Should().Be(ErrorCodes.InvalidValue);
        await batch.CommitAsync();
        (await ListAsync("")).Should().BeEmpty();
    }

    [Test]
    public async Task A_cancelled_batch_put_leaves_no_object_and_nothing_pending()
    {
        using var cancel = new CancellationTokenSource();
        await using var batch = Store.BeginWriteBatch();
        var source = new CancellingStream(new PatternStream(LargeSize, 34), 20 * MiB, cancel);

        var act = () => batch.PutAsync("cancelled/x.bin", source, LargeSize, cancel.Token);

        await act.Should().ThrowAsync<OperationCanceledException>();
        (await Store.StatAsync("cancelled/x.bin")).Should().BeNull();
        await AssertNothingPendingAsync();
    }
}
