using System.Runtime.Versioning;
using System.Text.Json;
using MlModel.Cli;
using MlModel.Dsl.IntegrationTests.Support;

namespace MlModel.Dsl.IntegrationTests.Cli;

/// <summary>The mlmodel tool as a user runs it: arguments in, text and exit code out.</summary>
public class CliTests
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

    [Test]
    public async Task Parse_prints_the_canonical_dsl_object()
    {
        var (code, output, _) = await RunAsync("--parse", "-c", "mlmodel import name=tf_clothes analysis_tool=tf kind=classification algorithm=deep format=saved_model connector_id=minio path=USERS/root/clothes/model.tar description=base64(7J2066+47KeAIOu2hOulmA==)");
        code.Should().Be(0);
        output.Trim().Should().Be("""{"command":"mlmodel","params":{"operation":"import","name":"tf_clothes","analysis_tool":"tf","kind":"classification","algorithm":"deep","format":"saved_model","connector_id":"minio","path":"USERS/root/clothes/model.tar","description":"이미지 분류"}}""");
    }

    [Test]
    public async Task Shell_words_are_one_command_whose_values_are_quoted_again()
    {
        // The shell took the quotes off 'CNN wineQ model'; MlModelLexicon.FromArguments puts them back.
        var (code, output, error) = await RunAsync("--parse", "deploy", "name=mnist", "label=CNN wineQ model");
        code.Should().Be(0, error);
        output.Trim().Should().Be("""{"command":"mlmodel","params":{"operation":"deploy","name":"mnist","label":"CNN wineQ model"}}""");
    }

    [Test]
    public async Task A_command_error_exits_1_with_the_message_on_stderr()
    {
        var (code, output, error) = await RunAsync("--parse", "-c", "mlmodel delete name=a");
        code.Should().Be(1);
        output.Should().BeEmpty();
        error.Trim().Should().Be("mlmodel delete: missing required parameter 'version' (line 1, column 9)");
    }

    [Test]
    public async Task With_format_json_the_error_is_a_json_object()
    {
        var (code, _, error) = await RunAsync("--format", "json", "--parse", "-c", "mlmodel summary nmae=x");
        code.Should().Be(1);
        using var doc = JsonDocument.Parse(error);
        var e = doc.RootElement.GetProperty("error");
        e.GetProperty("code").GetString().Should().Be("unknown_parameter");
        e.GetProperty("line").GetInt32().Should().Be(1);
        e.GetProperty("column").GetInt32().Should().Be(17);
        e.GetProperty("message").GetString().Should().StartWith("mlmodel summary: unknown parameter 'nmae'");
        e.GetProperty("command").GetString().Should().Be("mlmodel");
        e.GetProperty("operation").GetString().Should().Be("summary");
    }

    [Test]
    public async Task A_json_error_of_a_command_that_ran_carries_its_command_and_operation()
    {
        var (code, _, error) = await RunAsync("--format", "json", "-c", "mlmodel summary name=nothing");
        code.Should().Be(1);
        using var doc = JsonDocument.Parse(error);
        var e = doc.RootElement.GetProperty("error");
        e.GetProperty("code").GetString().Should().Be("not_found");
        e.GetProperty("command").GetString().Should().Be("mlmodel");
        e.GetProperty("operation").GetString().Should().Be("summary");
        e.GetProperty("message").GetString().Should().Be("mlmodel summary: no model 'nothing' of user 'root'");

        (code, _, error) = await RunAsync("--format", "json", "connector", "remove", "nothing");
        code.Should().Be(1);
        using var removed = JsonDocument.Parse(error);
        e = removed.RootElement.GetProperty("error");
        e.GetProperty("command").GetString().Should().Be("mlmodel");
        e.GetProperty("operation").GetString().Should().Be("connector remove");
        e.GetProperty("message").GetString().Should().Be("mlmodel connector remove: unknown connector 'nothing'; see: mlmodel connector list");
    }

    [Test]
    public async Task A_usage_error_exits_2()
    {
        var (code, _, error) = await RunAsync("--format", "xml", "-c", "mlmodel list");
        code.Should().Be(2);
        error.Should().Contain("--format takes table, json or csv, not 'xml'");
    }

    [Test]
    public async Task A_mistyped_home_whose_folder_does_not_exist_is_a_usage_error_and_creates_nothing()
    {
        var missing = _home.Combine("no-such-dir", "home");
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await MlModel.Cli.Cli.RunAsync(["--home", missing, "-c", "mlmodel list"], stdout, stderr, CancellationToken.None);
        code.Should().Be(2);
        stderr.ToString().Should().Contain($"the home {missing} does not exist, nor does the folder {Path.GetDirectoryName(missing)} it would be made in; check --home or MLMODEL_HOME");
        Directory.Exists(_home.Combine("no-such-dir")).Should().BeFalse();

        // A new home inside a folder that exists is made, as on a fresh machine.
        code = await MlModel.Cli.Cli.RunAsync(["--home", _home.Combine("new-home"), "-c", "mlmodel list"], stdout, stderr, CancellationToken.None);
        code.Should().Be(0);
        Directory.Exists(_home.Combine("new-home")).Should().BeTrue();
    }

    [TestCase("--serving-timeout", "0", "--serving-timeout takes a whole number of seconds, not '0'")]
    [TestCase("--serving-timeout", "1.5", "--serving-timeout takes a whole number of seconds, not '1.5'")]
    [TestCase("--server-serving-root", "models", "--server-serving-root takes an absolute path as TensorFlow Serving sees it (e.g. /models), not 'models'")]
    public async Task Serving_options_are_checked(string option, string value, string message)
    {
        var (code, _, error) = await RunAsync(option, value, "-c", "mlmodel list");
        code.Should().Be(2);
        error.Should().Contain(message);
    }

    [Test]
    public async Task With_server_serving_root_the_config_names_the_folder_as_the_server_sees_it()
    {
        var folder = Path.Combine(_home.Path, "objects", "USERS", "root");
        Directory.CreateDirectory(folder);
        await File.WriteAllBytesAsync(Path.Combine(folder, "m.tar"), Archives.FromFolder(TestPaths.Model("saved_model_half_plus_two_cpu"), "m"));
        (await RunAsync("import", "name=m", "analysis_tool=tf", "kind=regression", "algorithm=deep",
            "format=saved_model", "connector_id=local", "path=USERS/root/m.tar")).Code.Should().Be(0);

        var (code, output, error) = await RunAsync("--server-serving-root", "/models", "--format", "csv", "deploy", "m");

        error.Should().BeEmpty();
        code.Should().Be(0);
        output.Should().Contain("on,1,root_m");
        var config = await File.ReadAllTextAsync(Path.Combine(_home.Path, "serving", "models.config"));
        config.Should().Contain("base_path: '/models/root_m'");
        File.Exists(Path.Combine(_home.Path, "serving", "root_m", "1", "saved_model.pb")).Should().BeTrue();
    }

    [Test]
    public async Task On_a_fresh_home_list_prints_the_seventeen_column_table()
    {
        var (code, output, error) = await RunAsync("-c", "mlmodel list");
        error.Should().BeEmpty();
        code.Should().Be(0);
        var lines = output.Split('\n');
        lines[0].Split('|').Select(c => c.Trim()).Should().Equal(
            "id", "user", "name", "version", "description", "analysis_tool", "kind", "algorithm", "feature", "label",
            "serving", "serving_name", "state", "data_model_name", "query", "create", "modified");
        output.Should().Contain("(0 rows)");
    }

    [Test]
    public async Task Shell_words_work_like_command_text_and_values_with_spaces_are_requoted()
    {
        var folder = Path.Combine(_home.Path, "objects", "USERS", "root");
        Directory.CreateDirectory(folder);
        await File.WriteAllBytesAsync(Path.Combine(folder, "m.tar"), Archives.FromFolder(TestPaths.Model("saved_model_half_plus_two_cpu"), "m"));
        var (code, output, error) = await RunAsync("import", "name=m", "analysis_tool=tf", "kind=regression", "algorithm=deep",
            "format=saved_model", "connector_id=local", "path=USERS/root/m.tar", "description=half plus two, it's y = x/2 + 2");
        error.Should().BeEmpty();
        code.Should().Be(0);
        output.Should().Contain("ok");

        (code, output, _) = await RunAsync("--format", "csv", "summary", "m");
        code.Should().Be(0);
        output.Should().Contain("format,saved_model");
        (code, output, _) = await RunAsync("--format", "json", "list");
        output.Should().Contain("\"half plus two, it's y = x/2 + 2\"");
    }

    [Test]
    public async Task With_no_sync_import_export_and_check_work_the_same([Values("--no-sync", "MLMODEL_NO_SYNC")] string how)
    {
        var folder = Path.Combine(_home.Path, "objects", "USERS", "root");
        Directory.CreateDirectory(folder);
        await File.WriteAllBytesAsync(Path.Combine(folder, "m.tar"), Archives.FromFolder(TestPaths.Model("saved_model_half_plus_two_cpu"), "m"));
        var before = Environment.GetEnvironmentVariable("MLMODEL_NO_SYNC");
        try
        {
            string[] flag = how == "--no-sync" ? ["--no-sync"] : [];
            Environment.SetEnvironmentVariable("MLMODEL_NO_SYNC", how == "--no-sync" ? null : "1");
            var (code, output, error) = await RunAsync([.. flag, "import", "name=m", "analysis_tool=tf", "kind=regression", "algorithm=deep",
                "format=saved_model", "connector_id=local", "path=USERS/root/m.tar"]);
            error.Should().BeEmpty();
            code.Should().Be(0);
            output.Should().Contain("ok");

            (code, output, error) = await RunAsync([.. flag, "--format", "csv", "export", "m"]);
            error.Should().BeEmpty();
            code.Should().Be(0);
            var url = new Uri(output.Split('\n')[1].Split(',')[1]);
            var names = new List<string>();
            await using (var tar = new System.Formats.Tar.TarReader(File.OpenRead(url.LocalPath)))
            {
                while (await tar.GetNextEntryAsync() is { } entry)
                {
                    names.Add(entry.Name);
                }
            }
            names.Should().Contain(["MANIFEST.sha256", "saved_model.pb", "variables/variables.index"]);

            (code, output, error) = await RunAsync([.. flag, "--format", "csv", "check"]);
            error.Should().BeEmpty();
            code.Should().Be(0);
            output.Should().NotContain("missing").And.NotContain("corrupt");
        }
        finally
        {
            Environment.SetEnvironmentVariable("MLMODEL_NO_SYNC", before);
        }
    }

    [Test]
    public void The_help_says_how_commands_end_as_the_prompt_and_the_splitter_do()
    {
        // PromptTests and ScriptTests hold the CLI to these words.
        HelpText.Usage.Should().Contain("it ends at a ';' (outside quotes),\n  at an empty line, at a line that starts another command")
            .And.Contain("At the prompt, Enter also runs a command once it is complete")
            .And.Contain("Ctrl-C clears the line (and what is pending), Ctrl-U clears\n  the line, Ctrl-D on an empty line exits")
            .And.Contain("the CLI runs nothing and\n  says so (exit code 2)");
        Repl.Banner.Should().Contain("Ctrl-C clears, Ctrl-D exits");
    }

    [Test]
    public void The_help_explains_no_sync() =>
        HelpText.Usage.Should().Contain("--no-sync").And.Contain("$MLMODEL_NO_SYNC=1");

    [Test]
    public async Task Help_for_an_operation_comes_from_the_parameter_tables()
    {
        var (code, output, _) = await RunAsync("deploy", "--help");
        code.Should().Be(0);
        output.Should().StartWith("mlmodel deploy (user=)? name= (version=)? (label=)?");
        output.Should().Contain("label    optional  version label: any text up to 128 characters, such as stable or 'CNN wineQ model'");
    }

    [Test]
    [UnsupportedOSPlatform("windows")]
    public async Task Connectors_are_added_listed_without_secrets_and_removed()
    {
        var (code, _, error) = await RunAsync("connector", "add", "id=minio", "type=s3", "endpoint=http://127.0.0.1:9", "bucket=models", "access_key=AKIAVISIBLENOT", "secret_key=very-secret", "shared=true");
        error.Should().BeEmpty();
        code.Should().Be(0);
        var (_, list, _) = await RunAsync("connector", "list");
        list.Should().Contain("minio").And.Contain("secret_key=***").And.NotContain("very-secret");

        // At rest: the database and its WAL hold neither key; the key that seals them is the owner's.
        var files = Directory.GetFiles(_home.Path, "mlmodel.db*");
        files.Should().Contain(Path.Combine(_home.Path, "mlmodel.db"));
        foreach (var file in files)
        {
            System.Text.Encoding.Latin1.GetString(await File.ReadAllBytesAsync(file)).Should().NotContain("very-secret").And.NotContain("AKIAVISIBLENOT", file);
        }
        File.GetUnixFileMode(Path.Combine(_home.Path, "secret.key")).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);

        // A user who is not an administrator sees the shared connector, not how it signs in.
        var (userCode, userList, _) = await RunAsync("--user", "alice", "connector", "list");
        userCode.Should().Be(0);
        userList.Should().Contain("minio").And.Contain("bucket=models").And.NotContain("access_key").And.NotContain("secret_key").And.NotContain("***");

        (await RunAsync("connector", "remove", "minio")).Code.Should().Be(0);
        (await RunAsync("connector", "list")).Out.Should().NotContain("minio");
    }

    [Test]
    [UnsupportedOSPlatform("windows")]
    public async Task The_home_is_created_for_its_owner_and_the_database_0600()
    {
        var home = Path.Combine(_home.Path, "fresh");

        (await RunAsync("--home", home, "-c", "mlmodel list")).Code.Should().Be(0);

        File.GetUnixFileMode(home).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.GetUnixFileMode(Path.Combine(home, "mlmodel.db")).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.Exists(Path.Combine(home, "secret.key")).Should().BeFalse("no secret has been stored");
    }

    [Test]
    public async Task A_connector_endpoint_with_user_info_is_refused_without_the_password()
    {
        var (code, _, error) = await RunAsync("connector", "add", "id=minio", "type=s3", "endpoint=http://minio:pa55w0rd@127.0.0.1:9", "bucket=models");

        code.Should().Be(1);
        error.Trim().Should().Be("mlmodel connector add: endpoint must not carry user info (user:password@); give keys as access_key_env/secret_key_env");
        (await RunAsync("connector", "list")).Out.Should().NotContain("minio");
    }

    [Test]
    public async Task MLMODEL_SECRET_KEY_stands_in_for_the_key_file()
    {
        var before = Environment.GetEnvironmentVariable("MLMODEL_SECRET_KEY");
        var home = Path.Combine(_home.Path, "fresh");
        try
        {
            Environment.SetEnvironmentVariable("MLMODEL_SECRET_KEY", "bm90IGEga2V5");
            var (code, _, error) = await RunAsync("--home", home, "connector", "list");
            code.Should().Be(2);
            error.Should().StartWith("mlmodel: MLMODEL_SECRET_KEY must be the base64 of 32 random bytes (e.g. the output of: openssl rand -base64 32).")
                .And.NotContain("bm90IGEga2V5");
            Directory.Exists(home).Should().BeFalse("a usage error changes nothing");

            Environment.SetEnvironmentVariable("MLMODEL_SECRET_KEY", Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)));
            (await RunAsync("--home", home, "connector", "add", "id=minio", "type=s3", "endpoint=http://127.0.0.1:9", "bucket=models",
                "access_key=AK", "secret_key=very-secret")).Code.Should().Be(0);
            (await RunAsync("--home", home, "connector", "list")).Out.Should().Contain("secret_key=***");
            File.Exists(Path.Combine(home, "secret.key")).Should().BeFalse("the key came from the variable");

            // Without the variable the home's key file is the key, and there is none.
            Environment.SetEnvironmentVariable("MLMODEL_SECRET_KEY", null);
            (code, _, error) = await RunAsync("--home", home, "connector", "list");
            code.Should().Be(1);
            error.Trim().Should().StartWith("mlmodel connector list: SQLite model repository at ")
                .And.EndWith($": list connectors: the key file '{Path.Combine(home, "secret.key")}' does not exist; the stored secrets were encrypted with it " +
                    "(restore it from a backup, or add the connectors that hold secrets again)");
        }
        finally
        {
            Environment.SetEnvironmentVariable("MLMODEL_SECRET_KEY", before);
        }
    }

    [Test]
    public void Tab_completes_operations_keys_and_closed_values()
    {
        LineEditor.Complete("dep").Completion.Should().Be("loy ");
        LineEditor.Complete("mlmodel summary na").Completion.Should().Be("me=");
        LineEditor.Complete("import name=x format=sa").Completion.Should().Be("ved_model ");
        LineEditor.Complete("s").Options.Should().BeEquivalentTo(["summary ", "stop ", "status ", "serving "]);
        LineEditor.Complete("serving p").Completion.Should().Be("redict ");
        LineEditor.Complete("serving predict name=m sh").Completion.Should().Be("ape=");
        LineEditor.Complete("serving predict name=m dtype=float6").Completion.Should().Be("4 ");
        LineEditor.Complete("mlmodel s").Options.Should().BeEquivalentTo(["summary ", "stop ", "status "], "after mlmodel come its operations");
    }

    [Test]
    public async Task Help_for_a_serving_operation_comes_from_the_same_table()
    {
        var (code, output, _) = await RunAsync("serving", "predict", "--help");
        code.Should().Be(0);
        output.Should().StartWith("... | serving predict (user=)? name= (col=)?");
        output.Should().Contain("col         optional  the column that holds each row's input: a JSON array or comma-separated numbers; default feature");
        output.Should().Contain("A tuple is (item, item, ...)").And.Contain("[(28,28,1)]");
        (await RunAsync("--help")).Out.Should().Contain("  serving predict ").And.Contain("  deploy          ");
    }
}
