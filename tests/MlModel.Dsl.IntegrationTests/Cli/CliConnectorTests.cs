using System.Text.Json;
using MlModel.Dsl.IntegrationTests.Support;

namespace MlModel.Dsl.IntegrationTests.Cli;

/// <summary>
/// <c>mlmodel connector add|list|remove</c> as a user runs them: who owns what, <c>--format</c>,
/// and errors that name the subcommand. (The real S3 round trip is in CliS3StoreTests.)
/// </summary>
public class CliConnectorTests
{
    private TempFolder _home = null!;

    [SetUp]
    public void SetUp() => _home = new TempFolder();

    [TearDown]
    public void TearDown() => _home.Dispose();

    private async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await MlModel.Cli.Cli.RunAsync(["--home", _home.Path, "--no-progress", .. args], stdout, stderr, CancellationToken.None);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static readonly string[] MinioSettings = ["type=s3", "endpoint=http://127.0.0.1:9", "bucket=models", "access_key=AKIA-CLI-1", "secret_key=cli-secret-value"];

    /// <summary>The rows of a --format json result, each as its cells' text.</summary>
    private static (List<string> Fields, List<List<string?>> Rows) Json(string output)
    {
        using var json = JsonDocument.Parse(output);
        var fields = json.RootElement.GetProperty("fields").EnumerateArray().Select(f => f.GetProperty("name").GetString()!).ToList();
        var rows = json.RootElement.GetProperty("results").EnumerateArray()
            .Select(r => r.EnumerateArray().Select(c => c.ValueKind == JsonValueKind.Null ? null : c.ToString()).ToList())
            .ToList();
        return (fields, rows);
    }

    [Test]
    public async Task A_user_adds_lists_and_removes_their_own_connector_in_json()
    {
        var (code, output, error) = await RunAsync(["--user", "demo", "--format", "json", "connector", "add", "id=179", .. MinioSettings]);
        error.Should().BeEmpty();
        code.Should().Be(0);
        var added = Json(output);
        added.Fields.Should().Equal("result", "id", "type", "owner", "shared");
        added.Rows.Should().ContainSingle().Which.Should().Equal("saved", "179", "s3", "demo", "false");

        (code, output, error) = await RunAsync("--user", "demo", "--format", "json", "connector", "list");
        error.Should().BeEmpty();
        code.Should().Be(0);
        var list = Json(output);
        list.Fields.Should().Equal("id", "type", "owner", "shared", "source", "settings");
        list.Rows.Select(r => r[0]).Should().Equal("local", "179");
        list.Rows[1].Should().Equal("179", "s3", "demo", "false", "stored", "access_key=*** bucket=models endpoint=http://127.0.0.1:9 secret_key=***");
        output.Should().NotContain("cli-secret-value").And.NotContain("AKIA-CLI-1");

        // Another user does not see it; an administrator does, with its owner.
        Json((await RunAsync("--user", "alice", "--format", "json", "connector", "list")).Out).Rows.Select(r => r[0]).Should().Equal("local");
        var csv = (await RunAsync("--format", "csv", "connector", "list")).Out;
        csv.Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().Contain(l => l.StartsWith("179,s3,demo,false,stored,", StringComparison.Ordinal));

        (code, output, error) = await RunAsync("--user", "demo", "--format", "json", "connector", "remove", "179");
        error.Should().BeEmpty();
        code.Should().Be(0);
        Json(output).Rows.Should().ContainSingle().Which.Should().Equal("removed", "179");
        Json((await RunAsync("--format", "json", "connector", "list")).Out).Rows.Select(r => r[0]).Should().Equal("local");
    }

    [Test]
    public async Task An_administrator_adds_a_shared_connector_and_one_for_another_user()
    {
        var (code, output, error) = await RunAsync(["connector", "add", "id=team", .. MinioSettings, "shared=true"]);
        error.Should().BeEmpty();
        code.Should().Be(0);
        output.Should().Contain("saved").And.Contain("team").And.Contain("true");
        (code, _, error) = await RunAsync(["connector", "add", "id=179", .. MinioSettings, "owner=demo"]);
        error.Should().BeEmpty();
        code.Should().Be(0);

        var demo = Json((await RunAsync("--user", "demo", "--format", "json", "connector", "list")).Out).Rows;
        demo.Select(r => (r[0], r[2], r[3])).Should().Equal(("local", null, "true"), ("179", "demo", "false"), ("team", "root", "true"));
        demo.Single(r => r[0] == "team")[5].Should().Be("bucket=models endpoint=http://127.0.0.1:9", "a shared connector's keys are not demo's to see");
        Json((await RunAsync("--user", "bob", "--format", "json", "connector", "list")).Out).Rows.Select(r => r[0]).Should().Equal("local", "team");
    }

    private static IEnumerable<TestCaseData> Refusals()
    {
        TestCaseData Case(string name, string[] args, int exit, string code, string message) =>
            new TestCaseData(args, exit, code, message).SetArgDisplayNames(name);

        yield return Case("a local connector", ["--user", "bob", "connector", "add", "id=files", "type=local", "root=/etc"], 1, "permission_denied",
            "mlmodel connector add: only administrators add connectors of type 'local'; 'bob' may add their own 's3' connectors");
        yield return Case("a shared connector", ["--user", "bob", "connector", "add", "id=x", .. MinioSettings, "shared=true"], 1, "permission_denied",
            "mlmodel connector add: only administrators share connectors; 'bob' may not add one with shared=true");
        yield return Case("for another user", ["--user", "bob", "connector", "add", "id=x", .. MinioSettings, "owner=alice"], 1, "permission_denied",
            "mlmodel connector add: only administrators add connectors for another user; 'bob' may not add one for 'alice'");
        yield return Case("the host's variables", ["--user", "bob", "connector", "add", "id=x", "type=s3", "bucket=b", "access_key_env=HOME", "secret_key_env=PATH"], 1, "permission_denied",
            "mlmodel connector add: access_key_env names an environment variable of the host, which only administrators may use; give access_key and secret_key (they are stored encrypted)");
        yield return Case("an unknown type", ["connector", "add", "id=x", "type=nosuch"], 1, "connector",
            "mlmodel connector add: connector 'x' is of type 'nosuch', which no registered provider serves; known types: local, s3");
        yield return Case("shared=yes", ["connector", "add", "id=x", .. MinioSettings, "shared=yes"], 2, "invalid_value",
            "mlmodel connector add: invalid value for 'shared': 'yes'; expected true or false");
        yield return Case("a word without =", ["connector", "add", "id=x", "type=s3", "bucket"], 2, "syntax",
            "mlmodel connector add: expected key=value, not 'bucket'");
        yield return Case("no id", ["connector", "add", "type=s3", "bucket=b"], 2, "missing_parameter",
            "mlmodel connector add: id= and type= are required");
        yield return Case("a key twice", ["connector", "add", "id=x", "id=y", "type=s3"], 2, "duplicate_parameter",
            "mlmodel connector add: 'id' is given twice");
        yield return Case("remove, unknown", ["connector", "remove", "nope"], 1, "not_found",
            "mlmodel connector remove: unknown connector 'nope'; see: mlmodel connector list");
        yield return Case("remove, no id", ["connector", "remove"], 2, "missing_parameter",
            "mlmodel connector remove: give one connector id: mlmodel connector remove ID");
        yield return Case("remove, the host's", ["connector", "remove", "local"], 1, "conflict",
            "mlmodel connector remove: connector 'local' is defined by the host (MlModelOptions.Connectors), not stored; the host's configuration removes it");
        yield return Case("list, an argument", ["connector", "list", "all"], 2, "syntax",
            "mlmodel connector list: takes no arguments, not 'all'");
        yield return Case("an unknown subcommand", ["connector", "frob"], 2, "unknown_operation",
            "mlmodel connector: unknown subcommand 'frob'; allowed: add, list, remove (see: mlmodel connector --help)");
    }

    [TestCaseSource(nameof(Refusals))]
    public async Task Refusals_name_the_subcommand_in_text_and_json_and_store_nothing(string[] args, int exit, string code, string message)
    {
        var (textCode, output, error) = await RunAsync(args);
        textCode.Should().Be(exit);
        output.Should().BeEmpty();
        error.Trim().Should().Be(message);

        var (jsonCode, _, jsonError) = await RunAsync(["--format", "json", .. args]);
        jsonCode.Should().Be(exit);
        using (var json = JsonDocument.Parse(jsonError))
        {
            var e = json.RootElement.GetProperty("error");
            e.GetProperty("code").GetString().Should().Be(code);
            e.GetProperty("message").GetString().Should().Be(message);
        }

        Json((await RunAsync("--format", "json", "connector", "list")).Out).Rows.Select(r => r[0]).Should().Equal("local");
    }

    [Test]
    public async Task A_user_cannot_take_an_id_another_user_has()
    {
        (await RunAsync(["--user", "alice", "connector", "add", "id=minio", .. MinioSettings])).Code.Should().Be(0);

        var (code, _, error) = await RunAsync(["--user", "bob", "connector", "add", "id=minio", .. MinioSettings]);

        code.Should().Be(1);
        error.Trim().Should().Be("mlmodel connector add: connector id 'minio' is taken; choose another id");
        Json((await RunAsync("--format", "json", "connector", "list")).Out).Rows.Single(r => r[0] == "minio")[2].Should().Be("alice");
        // Bob's remove of alice's connector reads as that of a missing one.
        (code, _, error) = await RunAsync("--user", "bob", "connector", "remove", "minio");
        code.Should().Be(1);
        error.Trim().Should().Be("mlmodel connector remove: unknown connector 'minio'; see: mlmodel connector list");
    }

    [Test]
    public async Task Help_says_who_owns_connectors()
    {
        var (code, output, _) = await RunAsync("connector", "--help");
        code.Should().Be(0);
        output.Should().Contain("[owner=USER] [shared=true|false]").And.Contain("under USERS/<user>/ only").And.Contain("--format json|csv");
    }
}
