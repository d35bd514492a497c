using System.Diagnostics;
using System.Text.Json;
using MlModel.Cli;
using MlModel.Dsl.IntegrationTests.Support;

namespace MlModel.Dsl.IntegrationTests.Cli;

/// <summary>
/// What the CLI reads besides shell words: host query text (<c>-c '* | mlmodel list'</c>), several
/// commands on standard input or in -c, and what it refuses, with exit codes and messages pinned.
/// </summary>
public class ScriptTests
{
    private const string Import =
        "import name=m analysis_tool=tf kind=regression algorithm=deep format=saved_model connector_id=local path=USERS/root/m.tar";

    private TempFolder _home = null!;

    [SetUp]
    public async Task SetUp()
    {
        _home = new TempFolder();
        var folder = Path.Combine(_home.Path, "objects", "USERS", "root");
        Directory.CreateDirectory(folder);
        await File.WriteAllBytesAsync(Path.Combine(folder, "m.tar"), Archives.FromFolder(TestPaths.Model("saved_model_half_plus_two_cpu"), "m"));
    }

    [TearDown]
    public void TearDown() => _home.Dispose();

    private async Task<(int Code, string Out, string Err)> RunAsync(string? stdin, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await MlModel.Cli.Cli.RunAsync(["--home", _home.Path, "--no-progress", .. args],
            stdin is null ? null : new StringReader(stdin), stdout, stderr, CancellationToken.None);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private async Task<int> VersionsAsync()
    {
        var (code, output, error) = await RunAsync(null, "--format", "csv", "-c", "list name=m");
        code.Should().Be(0, error);
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length - 1;
    }

    // ---- host query text

    [Test]
    public async Task A_query_runs_its_mlmodel_stage_and_a_leading_star_is_no_stage()
    {
        var (code, output, error) = await RunAsync(null, "-c", "* | mlmodel list");
        error.Should().BeEmpty();
        code.Should().Be(0);
        output.Should().Contain("(0 rows)");
    }

    [Test]
    public async Task The_tutorial_s_import_and_deploy_run_as_typed_over_several_lines()
    {
        var (code, output, error) = await RunAsync(null, "-c",
            "* | mlmodel import name= m analysis_tool=tf kind=classification\n    algorithm=deep format= saved_model\n    connector_id = local path=USERS/root/m.tar");
        error.Should().BeEmpty();
        code.Should().Be(0);
        output.Should().MatchRegex(@"ok\s+\|\s+m\s+\|\s+1");

        (code, output, error) = await RunAsync(null, "-c", "* | mlmodel deploy name=m  label='CNN wineQ model'");
        error.Should().BeEmpty();
        code.Should().Be(0);
        output.Should().MatchRegex(@"on\s+\|\s+1\s+\|\s+root_m");
        (await File.ReadAllTextAsync(Path.Combine(_home.Path, "serving", "models.config"))).Should().Contain("key: 'CNN wineQ model'");
        (code, output, _) = await RunAsync(null, "--format", "csv", "-c", "status name=m");
        code.Should().Be(0);
        output.Should().Contain("1,on,CNN wineQ model,listed,CNN wineQ model,-,,yes");
    }

    [Test]
    public async Task Stages_after_the_mlmodel_stage_are_a_usage_error_and_nothing_runs()
    {
        var (code, output, error) = await RunAsync(null, "-c", $"* | mlmodel {Import} | where result = 'ok'");

        code.Should().Be(2);
        output.Should().BeEmpty();
        error.Trim().Should().Be("mlmodel: the CLI runs only the mlmodel stage of a query: '| where result = 'ok'' after it (line 1, column 135) "
            + "is the host's to run; run the whole query in the host, or leave the stages after mlmodel out. Nothing was run");
        Directory.Exists(Path.Combine(_home.Path, "store")).Should().BeFalse("nothing ran, and the home was not even opened");
    }

    [Test]
    public async Task A_source_other_than_star_is_a_usage_error_at_its_position()
    {
        var (code, _, error) = await RunAsync(null, "-c", "list\n\n  search index=models | mlmodel list");
        code.Should().Be(2);
        error.Should().Contain("mlmodel: the CLI runs only the mlmodel stage of a query: 'search index=models' before it (line 3, column 3) is the host's to run; "
            + "start the query with '* | mlmodel', or give the mlmodel command alone. Nothing was run")
            .And.Contain("mlmodel: stopped at the command on line 3 (the one before it ran)");
    }

    [TestCase("* | mlmodel list nmae=a", 1, 18)]
    [TestCase("list nmae=a", 1, 6)]
    [TestCase("  mlmodel list nmae=a", 1, 16)]
    [TestCase("*\n| mlmodel list\n    nmae=a", 3, 5)]
    public async Task Positions_in_errors_count_what_was_typed(string command, int line, int column)
    {
        var (code, _, error) = await RunAsync(null, "--format", "json", "-c", command);
        code.Should().Be(1);
        using var doc = JsonDocument.Parse(error);
        var e = doc.RootElement.GetProperty("error");
        e.GetProperty("code").GetString().Should().Be("unknown_parameter");
        (e.GetProperty("line").GetInt32(), e.GetProperty("column").GetInt32()).Should().Be((line, column));
        e.GetProperty("message").GetString().Should().Contain($"(line {line}, column {column})");
    }

    // ---- several commands: standard input and -c

    [Test]
    public async Task Piped_input_runs_every_command_separated_by_lines_semicolons_or_blank_lines()
    {
        var (code, output, error) = await RunAsync($"mlmodel list\nmlmodel list name=a\n{Import};list name=m;\n\n  summary name=m\n    version=1\n\nhistory m\n", "--format", "csv");

        error.Should().BeEmpty();
        code.Should().Be(0);
        var tables = output.Split("id,user,name,version", StringSplitOptions.None).Length - 1;
        tables.Should().Be(3, "three list commands ran");
        output.Should().Contain("ok,m,1").And.Contain("format,saved_model").And.Contain("import");
    }

    [Test]
    public async Task Piped_input_stops_at_the_first_error_with_its_line_and_runs_nothing_after_it()
    {
        var (code, output, error) = await RunAsync($"list\n{Import}\nlist name=m version=1\n{Import}\n");

        code.Should().Be(1);
        output.Should().Contain("ok");
        error.Should().Be(
            "mlmodel list: unknown parameter 'version' (line 3, column 13); allowed: user, name, analysis_tool, serving\n"
            + "mlmodel: stopped at the command on line 3 (the 2 before it ran; the one after it did not)\n");
        (await VersionsAsync()).Should().Be(1, "the import after the error did not run");
    }

    [Test]
    public async Task With_format_json_a_failed_command_of_several_carries_its_line()
    {
        var (code, _, error) = await RunAsync("list\n\nsummary name=nope\n", "--format", "json");
        code.Should().Be(1);
        using var doc = JsonDocument.Parse(error.Split('\n')[0]);
        var e = doc.RootElement.GetProperty("error");
        e.GetProperty("code").GetString().Should().Be("not_found");
        e.GetProperty("command_line").GetInt32().Should().Be(3);
    }

    [Test]
    public async Task A_command_line_of_several_commands_is_a_script_too()
    {
        var (code, output, error) = await RunAsync(null, "--parse", "-c", "list; deploy name=m label='stable version';\nstop m");
        error.Should().BeEmpty();
        code.Should().Be(0);
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().Equal(
            """{"command":"mlmodel","params":{"operation":"list"}}""",
            """{"command":"mlmodel","params":{"operation":"deploy","name":"m","label":"stable version"}}""",
            """{"command":"mlmodel","params":{"operation":"stop","name":"m"}}""");
    }

    [Test]
    public async Task A_semicolon_or_pipe_inside_quotes_is_text()
    {
        var (code, output, error) = await RunAsync("deploy name=m label='a;b | c'; list\n", "--parse");
        error.Should().BeEmpty();
        code.Should().Be(0);
        output.Should().StartWith("""{"command":"mlmodel","params":{"operation":"deploy","name":"m","label":"a;b | c"}}""");
    }

    [Test]
    public async Task A_dsl_object_over_several_lines_is_one_command()
    {
        var (code, output, error) = await RunAsync("{\"command\": \"mlmodel\",\n \"params\":\n {\"operation\": \"deploy\", \"name\": \"m\", \"label\": \"a;b \\\" }\"}}\nlist\n", "--parse");
        error.Should().BeEmpty();
        code.Should().Be(0);
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().Equal(
            """{"command":"mlmodel","params":{"operation":"deploy","name":"m","label":"a;b \" }"}}""",
            """{"command":"mlmodel","params":{"operation":"list"}}""");
    }

    [Test]
    public async Task Help_and_exit_work_in_piped_input()
    {
        var (code, output, error) = await RunAsync("deploy --help\nhelp list\nexit\nlist nmae=a\n");
        error.Should().BeEmpty("exit stops before the bad command");
        code.Should().Be(0);
        output.Should().StartWith("mlmodel deploy (user=)? name= (version=)? (label=)?").And.Contain("mlmodel list (user=)?");
    }

    [TestCase("", "mlmodel: standard input is empty: there is no command to run")]
    [TestCase("  \n\n ;\n", "mlmodel: standard input holds no command, only white space and ';'")]
    public async Task Standard_input_without_a_command_says_so(string stdin, string message)
    {
        var (code, output, error) = await RunAsync(stdin);
        code.Should().Be(2);
        output.Should().BeEmpty();
        error.Should().Be(message + "\nRun 'mlmodel --help' for usage.\n");
    }

    [Test]
    public async Task An_empty_command_after_c_says_so() =>
        (await RunAsync(null, "-c", "")).Err.Should().StartWith("mlmodel: -c is empty: there is no command to run");

    [Test]
    public async Task Words_after_c_are_a_usage_error()
    {
        var (code, _, error) = await RunAsync(null, "-c", "mlmodel list", "name=a");
        code.Should().Be(2);
        error.Should().Be("mlmodel: unexpected 'name=a' after -c: the command goes in one argument, in quotes (-c 'mlmodel list name=a')\n"
            + "Run 'mlmodel --help' for usage.\n");
    }

    // ---- values and output

    [Test]
    public async Task Json_output_writes_quotes_and_korean_as_they_are()
    {
        (await RunAsync(null, "-c", Import + " description=base64(" + Convert.ToBase64String("it's 모델 <b>"u8) + ")")).Code.Should().Be(0);

        var (code, output, _) = await RunAsync(null, "--format", "json", "-c", "list");
        code.Should().Be(0);
        output.Should().Contain("\"it's 모델 <b>\"").And.NotContain("\\u0027").And.NotContain("\\uBAA8");

        var (errorCode, _, error) = await RunAsync(null, "--format", "json", "-c", "summary name=모델 version=영");
        errorCode.Should().Be(1);
        error.Should().Contain("invalid value for 'version': '영'").And.NotContain("\\u0027").And.NotContain("\\uC601");
        JsonDocument.Parse(error).RootElement.GetProperty("error").GetProperty("message").GetString()
            .Should().StartWith("mlmodel summary: invalid value for 'version': '영' (line 1, column 25)");
    }

    [TestCase("list serving=yes", "mlmodel list: invalid value for 'serving': 'yes' (line 1, column 14); expected on or off")]
    [TestCase("list serving=true", "mlmodel list: invalid value for 'serving': 'true' (line 1, column 14); expected on or off")]
    [TestCase("check repair=yes", "mlmodel check: invalid value for 'repair': 'yes' (line 1, column 14); expected true or false")]
    public async Task A_switch_takes_its_own_two_words_only(string command, string message)
    {
        var (code, _, error) = await RunAsync(null, "-c", command);
        code.Should().Be(1);
        error.Trim().Should().Be(message);
    }

    [Test]
    public async Task A_label_with_a_control_character_is_refused_naming_the_parameter()
    {
        var (code, _, error) = await RunAsync(null, "-c", "deploy name=m label=base64(" + Convert.ToBase64String("a\tb"u8) + ")");
        code.Should().Be(1);
        error.Trim().Should().Be("mlmodel deploy: invalid value for 'label': 'a\\u0009b' (from base64) (line 1, column 21); "
            + "it holds U+0009, a control character; a label is 1 to 128 characters of text without control characters");
    }

    // ---- a real pipe into the built tool

    [Test]
    public async Task A_real_pipe_runs_each_line()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "mlmodel.dll");
        var info = new ProcessStartInfo("bash", ["-c", "printf 'mlmodel list\\nmlmodel list name=a\\nlist nmae=b\\n' | dotnet \"$0\" --home \"$1\" --format csv", dll, _home.Path])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();

        process.ExitCode.Should().Be(1);
        (await output).Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries).Should().Equal(
            Enumerable.Repeat("id,user,name,version,description,analysis_tool,kind,algorithm,feature,label,serving,serving_name,state,data_model_name,query,create,modified", 2));
        (await error).Should().Be("mlmodel list: unknown parameter 'nmae' (line 3, column 6); did you mean 'name'? allowed: user, name, analysis_tool, serving\n"
            + "mlmodel: stopped at the command on line 3 (the 2 before it ran)\n");
    }

    // ---- the splitter itself

    [TestCase("import name=x", true)]
    [TestCase("summary", true)]
    [TestCase("list name=", true)]
    [TestCase("deploy name=m label=base64(YWJj", true)]
    [TestCase("{\"command\": \"mlmodel\",", true)]
    [TestCase("* | mlmodel import name=x", true)]
    [TestCase("list name='abc", false)]
    [TestCase("deploy name=m label='", false)]
    [TestCase("list nmae=a", false)]
    [TestCase("lsit", false)]
    [TestCase("* | mlmodel list | where x", false)]
    public void The_prompt_waits_only_for_what_more_text_can_mend(string typed, bool waits)
    {
        var text = typed + "\n";
        var statement = Script.Split(text).Single();
        var valid = MlModel.Cli.Cli.TryInterpret(text, statement, out var error, out _);
        valid.Should().BeFalse();
        (error is not null && Script.IsIncomplete(text, statement, error)).Should().Be(waits, error?.Message);
    }

    [Test]
    public void The_splitter_ends_commands_where_the_help_says()
    {
        const string text = "list\nmlmodel import name=x\n  kind=c;summary m\n\n\ndeploy name=m label='a;b'\nstatus\n   m\n* | mlmodel list\n| where x\n{\"a\":\n {\"b\": \"}\"}}\nexit";
        Script.Split(text).Select(s => text[s.Start..s.End]).Should().Equal(
            "list",
            "mlmodel import name=x\n  kind=c",
            "summary m",
            "deploy name=m label='a;b'",
            "status\n   m",
            "* | mlmodel list\n| where x",
            "{\"a\":\n {\"b\": \"}\"}}",
            "exit");
        Script.Split(text).Select(s => (s.Line, s.Column)).Should().Equal((1, 1), (2, 1), (3, 10), (6, 1), (7, 1), (9, 1), (11, 1), (13, 1));
    }
}
