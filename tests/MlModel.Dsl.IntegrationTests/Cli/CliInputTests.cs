using System.Text;
using System.Text.Json;
using MlModel.Cli;
using MlModel.Dsl.IntegrationTests.Support;
using MlModel.Dsl.Tests.Execution.Predict;

namespace MlModel.Dsl.IntegrationTests.Cli;

/// <summary>
/// <c>--input</c>: rows from CSV (Sep) or JSON lines, a file or standard input, fed to
/// <c>serving predict</c> and printed in every format. The command goes as a record to the CLI's
/// own runner (Cli.ExecuteAsync), on an engine whose serving backend predicts in process, so that
/// these tests are about the input and the output; the same through command text and the fake
/// TensorFlow Serving over HTTP is ServingCliTests'.
/// </summary>
public class CliInputTests
{
    private TempFolder _dir = null!;

    [SetUp]
    public void SetUp() => _dir = new TempFolder();

    [TearDown]
    public void TearDown() => _dir.Dispose();

    private string Write(string name, string text, bool bom = false)
    {
        var path = Path.Combine(_dir.Path, name);
        File.WriteAllText(path, text, new UTF8Encoding(bom));
        return path;
    }

    private static async Task<(IReadOnlyList<ResultField> Fields, List<object?[]> Rows)> ReadAsync(string path, TextReader? stdin = null)
    {
        var source = await InputRows.OpenAsync(path, stdin ?? TextReader.Null, CancellationToken.None);
        using var result = new ResultSet(source.Fields, source.TakeRows());
        return (source.Fields, result.ToList());
    }

    [Test]
    public async Task Csv_with_a_BOM_and_quoted_fields_is_read_with_its_header()
    {
        var path = Write("rows.csv", "id,features,note\r\n1,\"5.1,3.5,1.4,0.2\",plain\r\n2,\"[6.0, 2.9, 4.5, 1.5]\",\"say \"\"hi\"\", twice\"\r\n3,\"6.9,3.1,5.4,2.1\",\"two\nlines\"\r\n", bom: true);
        var (fields, rows) = await ReadAsync(path);
        fields.Select(f => (f.Name, f.Type)).Should().Equal(("id", FieldType.String), ("features", FieldType.String), ("note", FieldType.String));
        rows.Select(r => r[1]).Should().Equal("5.1,3.5,1.4,0.2", "[6.0, 2.9, 4.5, 1.5]", "6.9,3.1,5.4,2.1");
        rows.Select(r => r[2]).Should().Equal("plain", "say \"hi\", twice", "two\nlines");
    }

    [Test]
    public async Task Json_lines_are_read_by_extension_or_by_content_and_standard_input_works()
    {
        const string lines = "{\"id\": 1, \"features\": [5.1, 3.5, 1.4, 0.2], \"w\": 0.5}\n\n{\"id\": 2, \"features\": \"6,2.9,4.5,1.5\", \"extra\": true}\n";
        var (fields, rows) = await ReadAsync(Write("rows.jsonl", lines));
        fields.Select(f => (f.Name, f.Type)).Should().Equal(("id", FieldType.Long), ("features", FieldType.Json), ("w", FieldType.Double));
        rows.Should().HaveCount(2);
        rows[0].Should().Equal(1L, "[5.1, 3.5, 1.4, 0.2]", 0.5);
        rows[1].Should().Equal(2L, "6,2.9,4.5,1.5", null);

        (await ReadAsync(Write("rows.txt", "  " + lines))).Rows.Should().HaveCount(2, "a first '{' means JSON lines");
        (await ReadAsync("-", new StringReader("\uFEFF" + lines))).Rows.Should().HaveCount(2);
        var csv = await ReadAsync("-", new StringReader("\uFEFFid,features\n7,\"1,2\"\n"));
        csv.Fields.Select(f => f.Name).Should().Equal("id", "features");
        csv.Rows.Single().Should().Equal("7", "1,2");
    }

    [Test]
    public async Task Input_that_cannot_be_read_is_named_with_its_line()
    {
        var missing = () => ReadAsync(Path.Combine(_dir.Path, "none.csv"));
        (await missing.Should().ThrowAsync<UsageException>()).WithMessage($"--input {Path.Combine(_dir.Path, "none.csv")}: no such file");
        var empty = () => ReadAsync(Write("empty.csv", ""));
        (await empty.Should().ThrowAsync<UsageException>()).WithMessage("--input * empty; CSV input starts with a header row that names the columns (id,features)");
        var bad = () => ReadAsync(Write("bad.jsonl", "{\"id\": 1}\n[1, 2]\n"));
        (await bad.Should().ThrowAsync<MlModelException>()).Which.Error.Should().BeEquivalentTo(new
        {
            Code = ErrorCodes.InvalidValue,
            Message = $"serving predict: --input {Path.Combine(_dir.Path, "bad.jsonl")}: line 2 is not a JSON object; each line holds one row, such as {{\"id\": 1, \"features\": [1.5, 2]}}",
        });
    }

    private static async Task<(string Out, EngineHarness Harness)> PredictAsync(string format, string input, TextReader? stdin = null)
    {
        var h = new EngineHarness(o => o.Serving = new PredictingBackend(o.Serving!, new InProcessPredictor()));
        var demo = new MlModelCaller("demo");
        await h.ImportHalfPlusTwoAsync("iris", demo);
        await h.RunAsync("mlmodel deploy name=iris", demo);
        var options = new CliOptions { User = "demo", Format = format, Input = input, Stdin = stdin };
        var stdout = new StringWriter();
        // .. | serving predict user=demo name=model_name col=features shape=[(4,1)] tag=(setosa,versicolor,virginica)
        var command = new ServingPredictCommand("iris", User: "demo", Column: "features", Shape: [[4, 1]], Tag: ["setosa", "versicolor", "virginica"]);
        await MlModel.Cli.Cli.ExecuteAsync(h.Engine, options, command, stdout, CancellationToken.None);
        return (stdout.ToString(), h);
    }

    [Test]
    public async Task Predict_over_csv_rows_prints_in_every_format()
    {
        var path = Write("flowers.csv", "id,features\n1,\"5.1,3.5,1.4,0.2\"\n2,\"6.0,2.9,4.5,1.5\"\n3,\"[6.9,3.1,5.4,2.1]\"\n");
        var p = InProcessPredictor.IrisOf(6.0, 2.9, 4.5, 1.5);

        var (json, h1) = await PredictAsync("json", path);
        using (h1)
        using (var doc = JsonDocument.Parse(json))
        {
            doc.RootElement.GetProperty("fields").EnumerateArray().Select(f => f.GetProperty("name").GetString() + ":" + f.GetProperty("type").GetString())
                .Should().Equal("id:string", "features:string", "predictions:json", "probability:double", "interpreted:string");
            var rows = doc.RootElement.GetProperty("results").EnumerateArray().ToList();
            rows.Select(r => r[4].GetString()).Should().Equal("setosa", "versicolor", "virginica");
            rows[1][2].EnumerateArray().Select(v => v.GetDouble()).Should().Equal(p, "predictions are a JSON array, not a string");
            rows[1][3].GetDouble().Should().Be(p.Max());
        }

        var (csv, h2) = await PredictAsync("csv", path);
        using (h2)
        {
            var lines = csv.Split("\r\n");
            lines[0].Should().Be("id,features,predictions,probability,interpreted");
            lines[2].Should().Be($"2,\"6.0,2.9,4.5,1.5\",\"[{string.Join(",", p.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture)))}]\",{p.Max().ToString("R", System.Globalization.CultureInfo.InvariantCulture)},versicolor");
        }

        var (table, h3) = await PredictAsync("table", path);
        using (h3)
        {
            table.Split('\n')[0].Should().MatchRegex(@"^id \| features +\| predictions +\| probability +\| interpreted$");
            table.Should().Contain("| virginica").And.Contain("(3 rows)");
        }
    }

    [Test]
    public async Task Predict_reads_json_lines_from_standard_input()
    {
        var (csv, h) = await PredictAsync("csv", "-", new StringReader("{\"id\": 1, \"features\": [[5.1], [3.5], [1.4], [0.2]]}\n"));
        using (h)
        {
            csv.Split("\r\n")[1].Should().StartWith("1,\"[[5.1], [3.5], [1.4], [0.2]]\",", "a JSON line's array is passed on as its text").And.EndWith(",setosa");
        }
    }

    [Test]
    public async Task Predict_without_input_and_standard_input_read_twice_are_usage_errors()
    {
        using var h = new EngineHarness(o => o.Serving = new PredictingBackend(o.Serving!, new InProcessPredictor()));
        var command = new ServingPredictCommand("m");
        var act = () => MlModel.Cli.Cli.ExecuteAsync(h.Engine, new CliOptions(), command, new StringWriter(), CancellationToken.None);
        (await act.Should().ThrowAsync<UsageException>()).WithMessage(
            "serving predict reads the rows of the stage before it: give them with --input rows.csv, --input rows.jsonl or --input - (standard input). Nothing was run");
        var options = new CliOptions { Input = "-", StdinRead = true };
        act = () => MlModel.Cli.Cli.ExecuteAsync(h.Engine, options, command, new StringWriter(), CancellationToken.None);
        (await act.Should().ThrowAsync<UsageException>()).WithMessage("--input - was read by the serving predict before this one: standard input can be read once. Nothing was run");
    }

    [Test]
    public async Task Input_for_commands_that_read_no_rows_is_a_usage_error_and_runs_nothing()
    {
        using var home = new TempFolder();
        var path = Write("rows.csv", "id,features\n1,2\n");
        var stderr = new StringWriter();
        var code = await MlModel.Cli.Cli.RunAsync(["--home", home.Path, "--input", path, "-c", "mlmodel list"], new StringWriter(), stderr, CancellationToken.None);
        code.Should().Be(2);
        stderr.ToString().Should().StartWith("mlmodel: --input gives rows to serving predict, and no command here reads them; leave --input out. Nothing was run");
        Directory.EnumerateFileSystemEntries(home.Path).Should().BeEmpty("nothing was run");

        stderr = new StringWriter();
        code = await MlModel.Cli.Cli.RunAsync(["--home", home.Path, "--input", "-"], new StringReader("mlmodel list"), new StringWriter(), stderr, CancellationToken.None);
        code.Should().Be(2);
        stderr.ToString().Should().StartWith("mlmodel: --input - reads the rows from standard input, so the command cannot come from there too: give it with -c '...' or as words");
    }

    [Test]
    public void The_help_describes_input_and_the_serving_command()
    {
        HelpText.Usage.Should().Contain("--input FILE|-").And.Contain("serving predict (user=)? name= (col=)?").And.Contain("serving status (user=)? name=");
    }
}
