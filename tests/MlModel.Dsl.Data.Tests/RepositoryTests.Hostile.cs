using MlModel.Dsl.Backends;
using MlModel.Dsl.Data.Tests.Support;

namespace MlModel.Dsl.Data.Tests;

public abstract partial class RepositoryTests
{
    // Each would do damage if it were ever pasted into SQL instead of bound as a parameter.
    public static IEnumerable<TestCaseData> HostileStrings()
    {
        yield return new TestCaseData("o'brien").SetArgDisplayNames("quote");
        yield return new TestCaseData("''").SetArgDisplayNames("two quotes");
        yield return new TestCaseData("x'; DROP TABLE mlmodel_models; --").SetArgDisplayNames("drop table");
        yield return new TestCaseData("x' OR '1'='1").SetArgDisplayNames("tautology");
        yield return new TestCaseData("Robert\"); DELETE FROM mlmodel_version_counters; /*").SetArgDisplayNames("double quote and comment");
        yield return new TestCaseData("@User @Name :name $1 ? %s {0}").SetArgDisplayNames("placeholders");
        yield return new TestCaseData("$$; DROP TABLE mlmodel_audit; $$").SetArgDisplayNames("dollar quoting");
        yield return new TestCaseData("back\\slash \\' \\\\").SetArgDisplayNames("backslashes");
        yield return new TestCaseData("%_*[a-z]").SetArgDisplayNames("wildcards");
        yield return new TestCaseData("line\nbreak\r\n\ttab").SetArgDisplayNames("control characters");
        yield return new TestCaseData("모델 😀 𝄞 e\u0301").SetArgDisplayNames("unicode beyond the BMP");
        yield return new TestCaseData(string.Concat(Enumerable.Repeat("'; DROP TABLE x; -- 모델 ", 500))).SetArgDisplayNames("10 KB");
    }

    [TestCaseSource(nameof(HostileStrings))]
    public async Task Hostile_strings_are_stored_verbatim_and_nothing_else_changes(string hostile)
    {
        var bystander = await ImportAsync(Samples.Model(), Samples.Files);
        await Repository.AppendAuditAsync(Samples.Audit("import", 1, T0));
        await Repository.SaveConnectorAsync(new ConnectorInfo("bystander", "local", new Dictionary<string, string> { ["root"] = "/r" }));
        var before = await Database.CountRowsAsync();

        var model = new ModelVersion
        {
            User = hostile,
            Name = hostile,
            Description = hostile,
            AnalysisTool = hostile,
            Kind = hostile,
            Algorithm = hostile,
            Feature = hostile,
            Label = hostile,
            Filename = hostile,
            Format = hostile,
            Parameter = hostile,
            Evaluation = hostile,
            CrossValidation = hostile,
            GridInfo = hostile,
            Dictionary = hostile,
            ServingName = hostile,
            ServingLabel = hostile,
            State = hostile,
            DataModelName = hostile,
            Query = hostile,
            StorageKey = hostile,
            Created = T0,
            Modified = T0,
        };
        var stored = await ImportAsync(model, [new(hostile, 1, hostile)]);
        await Repository.AppendAuditAsync(new AuditEntry
        {
            Time = T0, Actor = hostile, Operation = hostile, User = hostile, Name = hostile,
            Version = 1, Parameters = hostile, Outcome = hostile, Message = hostile,
        });
        await Repository.SaveConnectorAsync(new ConnectorInfo(hostile, hostile, new Dictionary<string, string> { [hostile] = hostile }));

        (await Repository.GetAsync(hostile, hostile, null)).Should().BeEquivalentTo(model with { Id = stored.Id, Version = 1 });
        Repository.List(new ModelFilter(User: hostile, Name: hostile, AnalysisTool: hostile)).Should().ContainSingle().Which.Id.Should().Be(stored.Id);
        (await Repository.GetFilesAsync(stored.Id)).Should().Equal(new ModelFile(hostile, 1, hostile));
        var entry = (await Repository.GetHistoryAsync(hostile, hostile, 1)).Should().ContainSingle().Subject;
        entry.Parameters.Should().Be(hostile);
        entry.Message.Should().Be(hostile);
        var connector = await Repository.GetConnectorAsync(hostile);
        connector!.Type.Should().Be(hostile);
        connector.Settings.Should().Equal(new Dictionary<string, string> { [hostile] = hostile });

        // Exactly one more row in each table, and the bystanders untouched.
        var after = await Database.CountRowsAsync();
        after.Should().Equal(before.ToDictionary(kv => kv.Key, kv => kv.Value + 1));
        (await Repository.GetAsync("root", "mnist_v1", 1)).Should().BeEquivalentTo(bystander);
        (await Repository.GetFilesAsync(bystander.Id)).Should().Equal(Samples.Files);
        (await Repository.GetHistoryAsync("root", "mnist_v1", null)).Should().ContainSingle();
        (await Repository.GetConnectorAsync("bystander")).Should().NotBeNull();

        (await Repository.DeleteAsync(hostile, hostile, 1)).Should().BeTrue();
        (await Repository.DeleteConnectorAsync(hostile)).Should().BeTrue();
        (await Database.CountRowsAsync())["mlmodel_models"].Should().Be(before["mlmodel_models"]);
    }
}
