using MlModel.Dsl.Backends;
using MlModel.Dsl.Data.Tests.Support;

namespace MlModel.Dsl.Data.Tests;

public abstract partial class RepositoryTests
{
    private static readonly DateTime T0 = new(2024, 5, 1, 9, 0, 0, DateTimeKind.Utc);

    [Test]
    public async Task History_is_newest_first_and_keeps_every_field()
    {
        // Appended out of time order: history sorts by time, not by insertion.
        await Repository.AppendAuditAsync(Samples.Audit("deploy", 1, T0.AddMinutes(2)));
        await Repository.AppendAuditAsync(Samples.Audit("import", 1, T0));
        await Repository.AppendAuditAsync(Samples.Audit("import", 2, T0.AddMinutes(1)) with
        {
            Outcome = "error",
            Message = "아카이브에 saved_model.pb가 없습니다",
        });
        await Repository.AppendAuditAsync(Samples.Audit("import", 1, T0.AddMinutes(5), name: "other"));
        await Repository.AppendAuditAsync(Samples.Audit("import", 1, T0.AddMinutes(6), user: "demo"));

        var history = await Repository.GetHistoryAsync("root", "mnist_v1", null);

        history.Select(e => (e.Operation, e.Version)).Should().Equal(("deploy", 1), ("import", 2), ("import", 1));
        history.Should().OnlyContain(e => e.Id > 0 && e.Time.Kind == DateTimeKind.Utc);
        history[1].Should().BeEquivalentTo(Samples.Audit("import", 2, T0.AddMinutes(1)) with
        {
            Outcome = "error",
            Message = "아카이브에 saved_model.pb가 없습니다",
        }, o => o.Excluding(e => e.Id));
    }

    [Test]
    public async Task History_of_one_version_leaves_out_the_others()
    {
        await Repository.AppendAuditAsync(Samples.Audit("import", 1, T0));
        await Repository.AppendAuditAsync(Samples.Audit("import", 2, T0.AddMinutes(1)));
        await Repository.AppendAuditAsync(Samples.Audit("deploy", 1, T0.AddMinutes(2)));
        await Repository.AppendAuditAsync(Samples.Audit("list", null, T0.AddMinutes(3)));

        var history = await Repository.GetHistoryAsync("root", "mnist_v1", 1);

        history.Select(e => e.Operation).Should().Equal("deploy", "import");
        (await Repository.GetHistoryAsync("root", "mnist_v1", null)).Should().HaveCount(4)
            .And.Contain(e => e.Version == null);
    }

    [Test]
    public async Task Entries_written_at_the_same_instant_come_back_last_written_first()
    {
        var clock = new ManualClock(new DateTimeOffset(T0));
        var repository = Database.CreateRepository(new ModelRepositoryOptions { TimeProvider = clock });

        await repository.AppendAuditAsync(Samples.Audit("import", 1, default));
        await repository.AppendAuditAsync(Samples.Audit("deploy", 1, default));
        await repository.AppendAuditAsync(Samples.Audit("stop", 1, default));

        var history = await repository.GetHistoryAsync("root", "mnist_v1", null);
        history.Select(e => e.Operation).Should().Equal("stop", "deploy", "import");
        history.Should().OnlyContain(e => e.Time == T0, "an unset time is stamped by the clock");
    }
}
