using MlModel.Dsl.Backends;
using MlModel.Dsl.Data.Tests.Support;

namespace MlModel.Dsl.Data.Tests;

public abstract partial class RepositoryTests
{
    [Test]
    public async Task Versions_start_at_one_and_count_up_per_user_and_name()
    {
        (await Repository.AllocateVersionAsync("root", "mnist_v1")).Should().Be(1);
        (await Repository.AllocateVersionAsync("root", "mnist_v1")).Should().Be(2);
        (await Repository.AllocateVersionAsync("root", "other")).Should().Be(1);
        (await Repository.AllocateVersionAsync("demo", "mnist_v1")).Should().Be(1);
        (await Repository.AllocateVersionAsync("root", "mnist_v1")).Should().Be(3);
    }

    [Test]
    public async Task A_number_given_back_is_handed_out_again_only_while_it_is_the_last_and_rowless()
    {
        // A failed import gives its number back: versions go up by one per import (spec B.4).
        (await Repository.AllocateVersionAsync("root", "mnist_v1")).Should().Be(1);
        (await Repository.ReleaseVersionAsync("root", "mnist_v1", 1)).Should().BeTrue();
        (await Repository.AllocateVersionAsync("root", "mnist_v1")).Should().Be(1);

        // Not while a row carries it.
        await Repository.InsertAsync(Samples.Model() with { Version = 1 }, []);
        (await Repository.ReleaseVersionAsync("root", "mnist_v1", 1)).Should().BeFalse();
        (await Repository.AllocateVersionAsync("root", "mnist_v1")).Should().Be(2);

        // Not once a later number is out (two imports at once: the first one failed).
        (await Repository.AllocateVersionAsync("root", "mnist_v1")).Should().Be(3);
        (await Repository.ReleaseVersionAsync("root", "mnist_v1", 2)).Should().BeFalse();
        (await Repository.ReleaseVersionAsync("root", "other", 3)).Should().BeFalse();
        (await Repository.ReleaseVersionAsync("root", "mnist_v1", 3)).Should().BeTrue();
        (await Repository.AllocateVersionAsync("root", "mnist_v1")).Should().Be(3);
    }

    [Test]
    public async Task An_inserted_version_comes_back_with_every_field()
    {
        var model = Samples.Model();
        var inserted = await Repository.InsertAsync(model, Samples.Files);

        inserted.Id.Should().BePositive();
        inserted.Should().BeEquivalentTo(model, o => o.Excluding(m => m.Id));

        var read = await Repository.GetAsync("root", "mnist_v1", 1);
        read.Should().BeEquivalentTo(inserted);
        read!.Elapsed.Should().Be(569.0207872390747);   // exact, not approximately
        read.TrainCnt.Should().Be(55_260_000_000L);
        read.Description.Should().Be("모델 설명입니다. (손글씨 숫자 분류)");
        read.Evaluation.Should().Be(Samples.Evaluation);   // JSON kept as written, not re-serialised
        read.Signature.Should().Be(Samples.Signature);
        read.GetSignatures().Single().Inputs.Single().Shape.Should().Equal(-1, 28, 28);
        read.Created.Kind.Should().Be(DateTimeKind.Utc);
        read.Modified.Kind.Should().Be(DateTimeKind.Utc);
        read.Modified.Should().Be(Samples.Created.AddSeconds(11));
    }

    [Test]
    public async Task Optional_fields_stay_null()
    {
        var model = Samples.Bare() with { Serving = true };
        await Repository.InsertAsync(model, []);

        var read = await Repository.GetAsync("root", "bare", 1);

        read.Should().BeEquivalentTo(model, o => o.Excluding(m => m.Id));
        read!.Description.Should().BeNull();
        read.TrainCnt.Should().BeNull();
        read.Elapsed.Should().BeNull();
        read.SizeBytes.Should().BeNull();
        read.Signature.Should().BeNull();
        read.GetSignatures().Should().BeEmpty();
        read.Serving.Should().BeTrue();
    }

    [Test]
    public async Task Unset_times_are_stamped_by_the_clock_in_utc_at_microsecond_precision()
    {
        var now = new DateTimeOffset(2024, 2, 29, 23, 59, 58, TimeSpan.Zero).AddTicks(1_234_567);
        var repository = Database.CreateRepository(new ModelRepositoryOptions { TimeProvider = new ManualClock(now) });
        var model = Samples.Bare() with { Created = default, Modified = default };

        var inserted = await repository.InsertAsync(model, []);
        var read = await repository.GetAsync("root", "bare", 1);

        var expected = new DateTime(2024, 2, 29, 23, 59, 58, DateTimeKind.Utc).AddTicks(1_234_560);
        inserted.Created.Should().Be(expected);
        read!.Created.Should().Be(expected);
        read.Modified.Should().Be(expected);
        read.Created.Kind.Should().Be(DateTimeKind.Utc);
    }

    [Test]
    public async Task Local_times_are_stored_as_utc()
    {
        var local = new DateTime(2021, 6, 1, 12, 0, 0, DateTimeKind.Local);
        await Repository.InsertAsync(Samples.Bare() with { Created = local, Modified = local }, []);

        var read = await Repository.GetAsync("root", "bare", 1);

        read!.Created.Should().Be(local.ToUniversalTime());
        read.Created.Kind.Should().Be(DateTimeKind.Utc);
    }

    [Test]
    public async Task Get_without_a_version_returns_the_highest_existing_one()
    {
        for (var i = 0; i < 3; i++)
        {
            await ImportAsync(Samples.Model() with { Description = $"v{i + 1}" });
        }
        await ImportAsync(Samples.Model(name: "mnist_v2"));   // a neighbour with a higher id

        (await Repository.GetAsync("root", "mnist_v1", null))!.Version.Should().Be(3);

        await Repository.DeleteAsync("root", "mnist_v1", 3);
        var latest = await Repository.GetAsync("root", "mnist_v1", null);
        latest!.Version.Should().Be(2);
        latest.Description.Should().Be("v2");
    }

    [Test]
    public async Task Get_of_something_absent_is_null()
    {
        await ImportAsync(Samples.Model());

        (await Repository.GetAsync("root", "mnist_v1", 2)).Should().BeNull();
        (await Repository.GetAsync("root", "nope", null)).Should().BeNull();
        (await Repository.GetAsync("demo", "mnist_v1", null)).Should().BeNull();
    }

    [Test]
    public async Task Versions_of_a_model_come_in_ascending_order()
    {
        for (var i = 0; i < 12; i++)
        {
            await ImportAsync(Samples.Model());
        }
        await ImportAsync(Samples.Model(user: "demo"));

        var versions = await Repository.GetVersionsAsync("root", "mnist_v1");

        versions.Select(v => v.Version).Should().Equal(Enumerable.Range(1, 12));
        (await Repository.GetVersionsAsync("root", "nope")).Should().BeEmpty();
    }

    [Test]
    public async Task Update_replaces_the_updatable_fields_and_stamps_modified()
    {
        var clock = new ManualClock(new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero));
        var repository = Database.CreateRepository(new ModelRepositoryOptions { TimeProvider = clock });
        var original = await repository.InsertAsync(Samples.Model(), Samples.Files);

        var changed = original with
        {
            Id = 0,
            Serving = true,
            ServingLabel = null,
            State = ModelStates.Running,
            Elapsed = 0.1 + 0.2,
            Description = "새 설명",
            Signature = null,
            Created = new DateTime(1999, 1, 1, 0, 0, 0, DateTimeKind.Utc),   // not updatable: ignored
        };
        var updated = await repository.UpdateAsync(changed);

        updated.Should().BeEquivalentTo(changed with
        {
            Id = original.Id,
            Created = original.Created,
            Modified = new DateTime(2030, 1, 2, 3, 4, 5, DateTimeKind.Utc),
        });
        (await repository.GetAsync("root", "mnist_v1", 1)).Should().BeEquivalentTo(updated);
        (await repository.GetFilesAsync(original.Id)).Should().Equal(Samples.Files);
    }

    [Test]
    public async Task Updating_a_version_that_does_not_exist_is_not_found()
    {
        var act = () => Repository.UpdateAsync(Samples.Model(version: 7));

        (await act.Should().ThrowAsync<MlModelException>()).Which.Code.Should().Be(ErrorCodes.NotFound);
    }

    [Test]
    public async Task Delete_removes_one_version_and_its_number_is_never_handed_out_again()
    {
        await ImportAsync(Samples.Model());
        await ImportAsync(Samples.Model());

        (await Repository.DeleteAsync("root", "mnist_v1", 2)).Should().BeTrue();
        (await Repository.DeleteAsync("root", "mnist_v1", 2)).Should().BeFalse();
        (await Repository.GetAsync("root", "mnist_v1", 2)).Should().BeNull();
        (await Repository.GetAsync("root", "mnist_v1", 1)).Should().NotBeNull();

        (await Repository.AllocateVersionAsync("root", "mnist_v1")).Should().Be(3);

        // Even with every version gone, numbering goes on.
        await Repository.DeleteAsync("root", "mnist_v1", 1);
        (await Repository.GetVersionsAsync("root", "mnist_v1")).Should().BeEmpty();
        (await Repository.AllocateVersionAsync("root", "mnist_v1")).Should().Be(4);
    }

    [Test]
    public async Task Inserting_a_version_twice_is_a_conflict()
    {
        await Repository.InsertAsync(Samples.Model(), []);

        var act = () => Repository.InsertAsync(Samples.Model() with { Description = "again" }, []);

        var error = (await act.Should().ThrowAsync<MlModelException>()).Which;
        error.Code.Should().Be(ErrorCodes.Conflict);
        error.Message.Should().Contain("version 1 of root/mnist_v1 already exists");
        (await Repository.GetAsync("root", "mnist_v1", 1))!.Description.Should().Be(Samples.Model().Description);
    }

    [Test]
    public async Task A_failed_insert_leaves_nothing_behind()
    {
        await Repository.InsertAsync(Samples.Model(), []);
        var before = await Database.CountRowsAsync();

        var act = () => Repository.InsertAsync(Samples.Model(), Samples.Files);

        await act.Should().ThrowAsync<MlModelException>();
        (await Database.CountRowsAsync()).Should().Equal(before);
    }

    [Test]
    public async Task Arguments_are_checked_before_the_database_is_touched()
    {
        await FluentActions.Awaiting(() => Repository.InsertAsync(Samples.Model(version: 0), []))
            .Should().ThrowAsync<ArgumentOutOfRangeException>();
        await FluentActions.Awaiting(() => Repository.InsertAsync(Samples.Model(), [new("a", 1, "x"), new("a", 2, "y")]))
            .Should().ThrowAsync<ArgumentException>().WithMessage("*'a'*twice*");
        FluentActions.Invoking(() => Repository.List(null!)).Should().Throw<ArgumentNullException>();
    }

    [Test]
    public async Task A_cancelled_call_throws_OperationCanceledException()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await FluentActions.Awaiting(() => Repository.GetAsync("root", "mnist_v1", null, cancelled.Token))
            .Should().ThrowAsync<OperationCanceledException>();
        await FluentActions.Awaiting(() => Repository.AllocateVersionAsync("root", "mnist_v1", cancelled.Token))
            .Should().ThrowAsync<OperationCanceledException>();
    }
}
