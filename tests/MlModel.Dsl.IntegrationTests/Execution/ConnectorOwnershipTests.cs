using MlModel.Dsl.Backends;
using MlModel.Dsl.IntegrationTests.Support;
using MlModel.Dsl.Storage.S3;

namespace MlModel.Dsl.IntegrationTests.Execution;

/// <summary>
/// Spec B.5 for connectors: a connector belongs to a user or is shared; a user sees and uses
/// their own and the shared ones, imports any key through their own and only keys under
/// <c>USERS/&lt;user&gt;/</c> through a shared one; administrators see and use all. On the
/// embedded harness (SQLite, local folders); imports go through <c>local</c> connectors that an
/// administrator adds for a user (what a user's own S3 connector does is in S3Tests and the CLI tests).
/// </summary>
public class ConnectorOwnershipTests
{
    private static readonly MlModelCaller Demo = new("demo");

    private EngineHarness _h = null!;

    [SetUp]
    public void SetUp() => _h = new EngineHarness(o => o.ObjectStoreProviders.Add(new S3ObjectStoreProvider()));

    [TearDown]
    public void TearDown() => _h.Dispose();

    /// <summary>The IRIS tutorial's key, outside any USERS/ folder.</summary>
    private const string TutorialKey = "seoryjj/cnn_wine_quality_0422.tar";

    private static string Import(string connector, string path, string name = "cnn_wine_quality") =>
        $"mlmodel import name={name} analysis_tool=tf kind=classification algorithm=deep format=saved_model connector_id = {connector} path={path}";

    /// <summary>A folder of its own with the half_plus_two SavedModel at <paramref name="keys"/>, as a local connector's root.</summary>
    private string Folder(string name, params string[] keys)
    {
        var root = Path.Combine(_h.Home, name);
        Directory.CreateDirectory(root);
        foreach (var key in keys)
        {
            var path = Path.Combine(root, key);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, Archives.FromFolder(TestPaths.Model("saved_model_half_plus_two_cpu"), "half_plus_two"));
        }
        return root;
    }

    private static ConnectorInfo Local(string id, string root, string? owner = null, bool shared = false) =>
        new(id, "local", new Dictionary<string, string> { ["root"] = root }) { Owner = owner, Shared = shared };

    private static ConnectorInfo S3(string id, string bucket = "models") => new(id, "s3", new Dictionary<string, string>
    {
        ["endpoint"] = "http://127.0.0.1:9",
        ["bucket"] = bucket,
        ["access_key"] = "AKIA-OWNED-1",
        ["secret_key"] = "owned-secret-value",
    });

    private async Task<List<object?[]>> ListAsync(MlModelCaller caller)
    {
        using var list = (await _h.Engine.Connectors.ListAsync(caller)).ToBuffered();
        return [.. list];
    }

    private async Task<List<string>> IdsAsync(MlModelCaller caller) => [.. (await ListAsync(caller)).Select(r => (string)r[0]!)];

    private static async Task<MlModelError> FailsAsync(Func<Task> act) =>
        (await FluentActions.Awaiting(act).Should().ThrowAsync<MlModelException>()).Which.Error;

    [Test]
    public async Task The_owner_imports_any_key_of_their_own_connector()
    {
        await _h.Engine.Connectors.SaveAsync(Local("179", Folder("demo-bucket", TutorialKey), owner: "demo"), EngineHarness.Root);

        var result = await _h.RunAsync(Import("179", TutorialKey), Demo);

        result.Single().Should().Equal("ok", "cnn_wine_quality", 1);
        (await _h.RunAsync("mlmodel list", Demo)).Single()[1].Should().Be("demo", "the model is the importing user's");
        _h.StoredFiles().Should().Contain("models/demo/cnn_wine_quality/1/half_plus_two/saved_model.pb");
    }

    [Test]
    public async Task A_connector_of_another_user_is_unknown_like_a_missing_one_and_cannot_be_used_or_removed()
    {
        await _h.Engine.Connectors.SaveAsync(Local("179", Folder("demo-bucket", TutorialKey, "USERS/bob/m.tar"), owner: "demo"), EngineHarness.Root);

        var used = await FailsAsync(() => _h.RunAsync(Import("179", "USERS/bob/m.tar"), EngineHarness.Bob));
        var missing = await FailsAsync(() => _h.RunAsync(Import("180", "USERS/bob/m.tar"), EngineHarness.Bob));

        used.Code.Should().Be(ErrorCodes.Connector);
        used.Message.Should().Be("mlmodel import: unknown connector '179'; known connectors: local");
        missing.Should().BeEquivalentTo(MlModelError.Create(used.Code, used.Command, used.Operation, used.Detail.Replace("'179'", "'180'", StringComparison.Ordinal)),
            "another user's connector and no connector read the same");
        (await IdsAsync(EngineHarness.Bob)).Should().Equal("local");
        (await _h.Engine.Connectors.DeleteAsync("179", EngineHarness.Bob)).Should().BeFalse("as for a missing one");
        (await _h.Engine.Connectors.DeleteAsync("180", EngineHarness.Bob)).Should().BeFalse();
        (await IdsAsync(Demo)).Should().Equal(["local", "179"], "demo's connector is still there");
        (await _h.RunAsync("mlmodel list", EngineHarness.Root)).Should().BeEmpty("nothing was imported");
    }

    [Test]
    public async Task Through_a_shared_connector_a_user_imports_only_under_their_own_folder()
    {
        var root = Folder("team-bucket", TutorialKey, "USERS/bob/m.tar");
        await _h.Engine.Connectors.SaveAsync(Local("team", root, shared: true), EngineHarness.Root);

        var error = await FailsAsync(() => _h.RunAsync(Import("team", TutorialKey), EngineHarness.Bob));

        error.Code.Should().Be(ErrorCodes.PermissionDenied);
        error.Message.Should().Be($"mlmodel import: user 'bob' may import through the shared connector 'team' only from keys under USERS/bob/, not '{TutorialKey}'");
        (await _h.RunAsync("mlmodel list", EngineHarness.Root)).Should().BeEmpty();
        (await _h.RunAsync(Import("team", "USERS/bob/m.tar", "m"), EngineHarness.Bob)).Single()[0].Should().Be("ok");
        (await _h.RunAsync(Import("team", TutorialKey), EngineHarness.Root)).Single()[0].Should().Be("ok", "administrators import any key");
    }

    [Test]
    public async Task The_owner_of_a_shared_connector_imports_any_key_and_everyone_else_under_their_folder()
    {
        var root = Folder("demo-bucket", TutorialKey);
        await _h.Engine.Connectors.SaveAsync(Local("179", root, owner: "demo", shared: true), EngineHarness.Root);

        (await _h.RunAsync(Import("179", TutorialKey), Demo)).Single()[0].Should().Be("ok");
        (await FailsAsync(() => _h.RunAsync(Import("179", TutorialKey), EngineHarness.Bob))).Message
            .Should().Be($"mlmodel import: user 'bob' may import through the shared connector '179' only from keys under USERS/bob/, not '{TutorialKey}'");
        (await ListAsync(EngineHarness.Bob)).Single(r => (string)r[0]! == "179").Should().Equal("179", "local", "demo", "true", "stored", "root=" + root);
    }

    [Test]
    public async Task Host_defined_and_pre_owner_connectors_are_shared()
    {
        // What migration 5 leaves of a connector stored before owners: no owner, shared.
        await _h.Options.Repository!.SaveConnectorAsync(Local("old", Folder("old-bucket", TutorialKey)) with { Shared = true });

        (await ListAsync(EngineHarness.Bob)).Select(r => ((string)r[0]!, r[2], (string)r[3]!, (string)r[4]!))
            .Should().Equal(("local", null, "true", "host"), ("old", null, "true", "stored"));
        (await FailsAsync(() => _h.RunAsync(Import("old", TutorialKey), EngineHarness.Bob))).Code.Should().Be(ErrorCodes.PermissionDenied);
        (await FailsAsync(() => _h.RunAsync(Import("local", "USERS/root/m.tar"), EngineHarness.Bob))).Message
            .Should().Be("mlmodel import: user 'bob' may import through the shared connector 'local' only from keys under USERS/bob/, not 'USERS/root/m.tar'");
    }

    [Test]
    public async Task A_host_defined_connector_is_shared_whatever_it_says_and_its_owner_imports_any_key()
    {
        var root = Folder("host-bucket", TutorialKey);
        using var h = new EngineHarness(o => o.Connectors.Add(Local("179", root, owner: "demo", shared: false)));

        (await h.RunAsync(Import("179", TutorialKey), Demo)).Single()[0].Should().Be("ok");
        (await FailsAsync(() => h.RunAsync(Import("179", TutorialKey), EngineHarness.Bob))).Message
            .Should().Be($"mlmodel import: user 'bob' may import through the shared connector '179' only from keys under USERS/bob/, not '{TutorialKey}'");
        using var list = (await h.Engine.Connectors.ListAsync(EngineHarness.Bob)).ToBuffered();
        list.Single(r => (string)r[0]! == "179").Should().Equal("179", "local", "demo", "true", "host", "root=" + root);
    }

    [Test]
    public async Task An_invalid_owner_is_refused()
    {
        var error = await FailsAsync(() => _h.Engine.Connectors.SaveAsync(Local("x", Folder("x")) with { Owner = "../bob" }, EngineHarness.Root));

        error.Code.Should().Be(ErrorCodes.InvalidValue);
        error.Message.Should().StartWith("mlmodel connector add: invalid owner '../bob'; a name is 1 to 128 letters");
        (await IdsAsync(EngineHarness.Root)).Should().Equal("local");
    }

    [Test]
    public async Task An_administrator_adds_a_connector_for_another_user()
    {
        await _h.Engine.Connectors.SaveAsync(S3("179") with { Owner = "demo" }, EngineHarness.Root);

        (await ListAsync(EngineHarness.Root)).Single(r => (string)r[0]! == "179").Should().Equal(
            "179", "s3", "demo", "false", "stored", "access_key=*** bucket=models endpoint=http://127.0.0.1:9 secret_key=***");
        (await ListAsync(Demo)).Single(r => (string)r[0]! == "179").Should().Equal(
            "179", "s3", "demo", "false", "stored", "access_key=*** bucket=models endpoint=http://127.0.0.1:9 secret_key=***");
        (await IdsAsync(EngineHarness.Bob)).Should().NotContain("179");
        (await _h.Options.Repository!.GetConnectorAsync("179"))!.Owner.Should().Be("demo");
    }

    [Test]
    public async Task A_user_adds_replaces_lists_and_removes_their_own_s3_connector()
    {
        await _h.Engine.Connectors.SaveAsync(S3("mine"), EngineHarness.Bob);
        await _h.Engine.Connectors.SaveAsync(S3("mine", bucket: "other"), EngineHarness.Bob);

        var own = (await ListAsync(EngineHarness.Bob)).Single(r => (string)r[0]! == "mine");
        own.Should().Equal("mine", "s3", "bob", "false", "stored", "access_key=*** bucket=other endpoint=http://127.0.0.1:9 secret_key=***");
        string.Join(" ", (await ListAsync(EngineHarness.Bob)).SelectMany(r => r).Select(v => v?.ToString()))
            .Should().NotContain("owned-secret-value").And.NotContain("AKIA-OWNED-1");
        (await IdsAsync(EngineHarness.Alice)).Should().NotContain("mine");
        (await ListAsync(EngineHarness.Root)).Single(r => (string)r[0]! == "mine")[2].Should().Be("bob");

        (await _h.Engine.Connectors.DeleteAsync("mine", EngineHarness.Bob)).Should().BeTrue();
        (await IdsAsync(EngineHarness.Root)).Should().Equal("local");
    }

    private static IEnumerable<TestCaseData> UserRefusals()
    {
        TestCaseData Case(string name, ConnectorInfo connector, string message) =>
            new TestCaseData(connector, "mlmodel connector add: " + message).SetArgDisplayNames(name);

        yield return Case("local", Local("files", "/etc"),
            "only administrators add connectors of type 'local'; 'bob' may add their own 's3' connectors");
        yield return Case("for another user", S3("theirs") with { Owner = "alice" },
            "only administrators add connectors for another user; 'bob' may not add one for 'alice'");
        yield return Case("shared", S3("team") with { Shared = true },
            "only administrators share connectors; 'bob' may not add one with shared=true");
        yield return Case("host variables", new ConnectorInfo("env", "s3", new Dictionary<string, string>
            {
                ["bucket"] = "models", ["access_key_env"] = "MLMODEL_SECRET_KEY", ["secret_key_env"] = "AWS_SECRET_ACCESS_KEY",
            }),
            "access_key_env names an environment variable of the host, which only administrators may use; give access_key and secret_key (they are stored encrypted)");
        yield return Case("host credentials", new ConnectorInfo("bare", "s3", new Dictionary<string, string> { ["bucket"] = "company-private" }),
            "give access_key and secret_key: without them the connector would sign in with the host's own credentials, which only administrators may use");
        yield return Case("half the keys", new ConnectorInfo("half", "s3", new Dictionary<string, string> { ["bucket"] = "b", ["access_key"] = "AK", ["secret_key"] = "" }),
            "give access_key and secret_key: without them the connector would sign in with the host's own credentials, which only administrators may use");
    }

    [TestCaseSource(nameof(UserRefusals))]
    public async Task What_a_user_who_is_not_an_administrator_may_not_add_is_refused_and_nothing_is_stored(ConnectorInfo connector, string message)
    {
        var error = await FailsAsync(() => _h.Engine.Connectors.SaveAsync(connector, EngineHarness.Bob));

        error.Code.Should().Be(ErrorCodes.PermissionDenied);
        error.Message.Should().Be(message);
        (await IdsAsync(EngineHarness.Root)).Should().Equal("local");
        File.Exists(Path.Combine(_h.Home, "secret.key")).Should().BeFalse("no secret was stored");
    }

    [Test]
    public async Task An_administrator_adds_local_and_shared_connectors_and_uses_host_variables()
    {
        await _h.Engine.Connectors.SaveAsync(Local("files", Folder("files")) with { Shared = true }, EngineHarness.Root);
        Environment.SetEnvironmentVariable("MLMODEL_TEST_OWNERS_KEY", "AK");
        try
        {
            await _h.Engine.Connectors.SaveAsync(new ConnectorInfo("env", "s3", new Dictionary<string, string>
            {
                ["bucket"] = "b", ["access_key_env"] = "MLMODEL_TEST_OWNERS_KEY", ["secret_key_env"] = "MLMODEL_TEST_OWNERS_KEY",
            }), EngineHarness.Root);
        }
        finally
        {
            Environment.SetEnvironmentVariable("MLMODEL_TEST_OWNERS_KEY", null);
        }

        (await ListAsync(EngineHarness.Root)).Select(r => ((string)r[0]!, r[2], (string)r[3]!))
            .Should().Equal(("local", null, "true"), ("env", "root", "false"), ("files", "root", "true"));
    }

    [Test]
    public async Task A_user_cannot_take_another_user_s_id_or_a_host_defined_one()
    {
        await _h.Engine.Connectors.SaveAsync(S3("minio", bucket: "alices"), EngineHarness.Alice);

        var taken = await FailsAsync(() => _h.Engine.Connectors.SaveAsync(S3("minio", bucket: "bobs"), EngineHarness.Bob));
        var host = await FailsAsync(() => _h.Engine.Connectors.SaveAsync(S3("local"), EngineHarness.Bob));

        taken.Code.Should().Be(ErrorCodes.Conflict);
        taken.Message.Should().Be("mlmodel connector add: connector id 'minio' is taken; choose another id");
        host.Code.Should().Be(ErrorCodes.Conflict);
        host.Message.Should().Be("mlmodel connector add: connector id 'local' is taken by a connector the host defines; choose another id");
        (await ListAsync(EngineHarness.Alice)).Single(r => (string)r[0]! == "minio")[5].Should().Be(
            "access_key=*** bucket=alices endpoint=http://127.0.0.1:9 secret_key=***", "alice's connector is as it was");
    }

    [Test]
    public async Task A_shared_connector_is_removed_by_its_owner_or_an_administrator_and_a_host_defined_one_by_neither()
    {
        await _h.Engine.Connectors.SaveAsync(Local("team", Folder("team")) with { Shared = true }, EngineHarness.Root);

        var shared = await FailsAsync(() => _h.Engine.Connectors.DeleteAsync("team", EngineHarness.Bob));
        var host = await FailsAsync(() => _h.Engine.Connectors.DeleteAsync("local", EngineHarness.Root));

        shared.Code.Should().Be(ErrorCodes.PermissionDenied);
        shared.Message.Should().Be("mlmodel connector remove: connector 'team' is shared, and not 'bob''s; only its owner or an administrator may remove it");
        host.Code.Should().Be(ErrorCodes.Conflict);
        host.Message.Should().Be("mlmodel connector remove: connector 'local' is defined by the host (MlModelOptions.Connectors), not stored; the host's configuration removes it");
        (await IdsAsync(EngineHarness.Bob)).Should().Equal("local", "team");
        (await _h.Engine.Connectors.DeleteAsync("team", EngineHarness.Root)).Should().BeTrue();
    }

    [Test]
    public async Task A_user_with_no_connector_of_their_own_is_told_which_they_may_use()
    {
        using var bare = new EngineHarness(o => o.Connectors.Clear());
        await bare.Engine.Connectors.SaveAsync(Local("demos", Folder("demos"), owner: "demo"), EngineHarness.Root);

        (await FailsAsync(() => bare.RunAsync(Import("nope", "USERS/bob/m.tar"), EngineHarness.Bob))).Message
            .Should().Be("mlmodel import: unknown connector 'nope'; user 'bob' has no connectors, and none is shared");
        (await FailsAsync(() => bare.RunAsync(Import("nope", "USERS/root/m.tar"), EngineHarness.Root))).Message
            .Should().Be("mlmodel import: unknown connector 'nope'; known connectors: demos");
    }
}
