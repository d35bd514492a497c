using MlModel.Dsl.Backends;
using MlModel.Dsl.IntegrationTests.Support;

namespace MlModel.Dsl.IntegrationTests.Execution;

/// <summary>Spec B.5 for every operation: users act on their own models, administrators on anyone's.</summary>
public class PermissionTests
{
    private EngineHarness _h = null!;

    [OneTimeSetUp]
    public async Task SetUp()
    {
        _h = new EngineHarness();
        await _h.ImportHalfPlusTwoAsync("m", EngineHarness.Bob);
    }

    [OneTimeTearDown]
    public void TearDown() => _h.Dispose();

    [TestCase("mlmodel list user=bob")]
    [TestCase("mlmodel summary user=bob name=m")]
    [TestCase("mlmodel delete user=bob name=m version=1")]
    [TestCase("mlmodel export user=bob name=m")]
    [TestCase("mlmodel deploy user=bob name=m")]
    [TestCase("mlmodel stop user=bob name=m")]
    [TestCase("mlmodel history user=bob name=m")]
    [TestCase("mlmodel status user=bob name=m")]
    public async Task A_user_may_not_act_on_another_user_s_model(string command)
    {
        var act = () => _h.RunAsync(command, EngineHarness.Alice);
        var error = (await act.Should().ThrowAsync<MlModelException>()).Which.Error;
        error.Code.Should().Be("permission_denied");
        error.Message.Should().EndWith(": user 'alice' may not act on models of user 'bob'; only administrators can");
        (await _h.RunAsync("mlmodel list", EngineHarness.Root)).Should().HaveCount(1, "nothing changed");
    }

    [TestCase("mlmodel summary user=bob name=m")]
    [TestCase("mlmodel history user=bob name=m")]
    [TestCase("mlmodel status user=bob name=m")]
    [TestCase("mlmodel list user=bob")]
    public async Task An_administrator_acts_on_anyone_s_model(string command)
    {
        (await _h.RunAsync(command, EngineHarness.Root)).Should().NotBeEmpty();
    }

    [Test]
    public async Task An_administrator_by_configuration_is_one_without_the_flag()
    {
        using var h = new EngineHarness(o => o.Administrators.Add("carol"));
        await h.ImportHalfPlusTwoAsync("m", EngineHarness.Bob);
        (await h.RunAsync("mlmodel summary user=bob name=m", new MlModelCaller("carol"))).Should().NotBeEmpty();
    }

    [Test]
    public async Task The_owner_acts_on_their_own_model_without_naming_themselves()
    {
        (await _h.RunAsync("mlmodel summary name=m", EngineHarness.Bob)).Should().NotBeEmpty();
        (await _h.RunAsync("mlmodel summary user=bob name=m", EngineHarness.Bob)).Should().NotBeEmpty();
    }

    [Test]
    public async Task Only_administrators_run_the_consistency_check()
    {
        var act = () => _h.RunAsync("mlmodel check", EngineHarness.Bob);
        (await act.Should().ThrowAsync<MlModelException>()).Which.Error.Message
            .Should().Be("mlmodel check: only administrators may run the consistency check; 'bob' is not one");
    }

    [Test]
    public async Task Only_administrators_add_local_connectors()
    {
        var act = () => _h.Engine.Connectors.SaveAsync(new ConnectorInfo("x", "local", new Dictionary<string, string> { ["root"] = "/tmp" }), EngineHarness.Bob);
        (await act.Should().ThrowAsync<MlModelException>()).Which.Error.Should().BeEquivalentTo(new
        {
            Code = "permission_denied",
            Message = "mlmodel connector add: only administrators add connectors of type 'local'; 'bob' may add their own 's3' connectors",
        });
    }

    [TestCase("../x")]
    [TestCase("a b")]
    [TestCase("")]
    public async Task A_requesting_user_with_an_invalid_name_is_refused(string user)
    {
        var act = () => _h.RunAsync("mlmodel list", new MlModelCaller(user));
        (await act.Should().ThrowAsync<MlModelException>()).Which.Error.Code.Should().Be("permission_denied");
    }
}
