using MlModel.Dsl.IntegrationTests.Support;

namespace MlModel.Dsl.IntegrationTests.Execution;

public class ConcurrencyAndInputTests
{
    [Test]
    public async Task Eight_imports_of_one_name_at_once_get_eight_distinct_versions()
    {
        using var h = new EngineHarness();
        var key = h.PutObject("USERS/root/m.tar", Archives.FromFolder(TestPaths.Model("saved_model_half_plus_two_cpu"), "m"));
        // Each import on its own engine, as eight processes would be: separate connections to one database file.
        var engines = Enumerable.Range(0, 8).Select(_ => new MlModelEngine(h.Options)).ToList();
        var results = await Task.WhenAll(engines.Select(async e =>
        {
            using var r = await e.ExecuteAsync($"mlmodel import name=m analysis_tool=tf kind=k algorithm=deep format=saved_model connector_id=local path={key}", EngineHarness.Root);
            return (int)r.First()[2]!;
        }));
        results.Should().BeEquivalentTo(Enumerable.Range(1, 8));
        (await h.RunAsync("mlmodel list")).Select(r => (int)r[3]!).Should().BeEquivalentTo(Enumerable.Range(1, 8));
    }

    [TestCase("a/b")]
    [TestCase("../x")]
    [TestCase("x'; DROP TABLE mlmodel_models; --")]
    [TestCase(".hidden")]
    public async Task A_bad_name_through_the_api_is_refused_and_changes_nothing(string name)
    {
        using var h = new EngineHarness();
        await h.ImportHalfPlusTwoAsync("keep");
        var act = () => h.Engine.Models.RegisterAsync(new ModelRegistration { Name = name, AnalysisTool = "spark" }, EngineHarness.Root);
        (await act.Should().ThrowAsync<MlModelException>()).Which.Error.Code.Should().Be("invalid_value");
        (await h.RunAsync("mlmodel list")).Select(r => r[2]).Should().Equal("keep");
        (await h.RunAsync("mlmodel history name=keep")).Should().HaveCount(1);
    }

    [Test]
    public async Task A_ten_kilobyte_name_is_refused_before_it_reaches_the_database()
    {
        using var h = new EngineHarness();
        var act = () => h.RunAsync("mlmodel summary name=" + new string('a', 10_000));
        (await act.Should().ThrowAsync<MlModelException>()).Which.Error.Message
            .Should().Be("mlmodel summary: value of 'name' is too long (10000 characters) (line 1, column 22); at most 128 characters");
    }

    [Test]
    public async Task Quotes_and_sql_in_free_text_are_stored_verbatim()
    {
        using var h = new EngineHarness();
        var description = "it's \"quoted\"; DROP TABLE mlmodel_models; -- " + new string('x', 10_000);
        var b64 = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(description));
        h.PutObject("USERS/root/m.tar", Archives.FromFolder(TestPaths.Model("saved_model_half_plus_two_cpu")));
        await h.RunAsync($"mlmodel import name=m analysis_tool=tf kind=k algorithm=deep format=saved_model connector_id=local path=USERS/root/m.tar description=base64({b64})");
        (await h.RunAsync("mlmodel list")).Single()[4].Should().Be(description);
    }
}
