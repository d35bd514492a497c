using System.Globalization;
using System.Text;
using System.Text.Json;
using MlModel.Dsl.IntegrationTests.Support;
using MlModel.Dsl.Serving.TensorFlow.Tests;
using nietras.SeparatedValues;

namespace MlModel.Dsl.IntegrationTests.Cli;

/// <summary>
/// IRIS's serving tutorials through the mlmodel tool, as typed in its manual: import, deploy with
/// a label, <c>serving status</c>, and <c>serving predict</c> over the rows of a CSV file
/// (<c>--input</c>), against the fake TensorFlow Serving on 127.0.0.1 (<c>--serving-url</c>),
/// which polls the config file the CLI writes in its home.
/// </summary>
public class ServingCliTests
{
    private const string WinePredict = ".. | serving predict user=demo name= model_cnn_wine_quality_0422 col=features shape=[(12,)] tag=(0,1,2)";
    private const string IrisPredict = ".. | serving predict user=demo name=model_name col=features shape=[(4,1)] tag=(virsicolor,setosa,virginica)";

    private TempFolder _home = null!;
    private FakeTensorFlowServing _server = null!;

    [SetUp]
    public void SetUp()
    {
        _home = new TempFolder();
        _server = new FakeTensorFlowServing(Path.Combine(_home.Path, "serving", "models.config"));
        Tutorial.Serve(_server);
    }

    [TearDown]
    public async Task TearDown()
    {
        await _server.DisposeAsync();
        _home.Dispose();
    }

    private string Url => _server.Address.ToString();

    /// <summary>The CLI as user demo, on this home, with the server's address unless <paramref name="servingUrl"/> is false.</summary>
    private async Task<(int Code, string Out, string Err)> RunAsync(string[] args, bool servingUrl = true, TextReader? stdin = null)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        string[] common = ["--home", _home.Path, "--no-progress", "--user", "demo"];
        var code = await MlModel.Cli.Cli.RunAsync([.. common, .. servingUrl ? ["--serving-url", Url] : Array.Empty<string>(), .. args], stdin, stdout, stderr, CancellationToken.None);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private async Task<string> OkAsync(params string[] args)
    {
        var (code, output, error) = await RunAsync(args);
        code.Should().Be(0, error);
        error.Should().BeEmpty();
        return output;
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_home.Path, name);
        File.WriteAllText(path, text, new UTF8Encoding(true));
        return path;
    }

    private void PutObject(string key, byte[] content)
    {
        var path = Path.Combine(_home.Path, "objects", key);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, content);
    }

    private async Task ImportAndDeployWineAsync()
    {
        PutObject("USERS/demo/seoryjj/cnn_wine_quality_0422.tar", Tutorial.WineQualityArchive());
        (await OkAsync("--format", "csv", "-c", """
            * | mlmodel import name= model_cnn_wine_quality_0422
                analysis_tool=tf kind=classification algorithm=deep format= saved_model connector_id = local path=USERS/demo/seoryjj/cnn_wine_quality_0422.tar
            """)).Should().Be("result,name,version\r\nok,model_cnn_wine_quality_0422,1\r\n");
        (await OkAsync("--format", "csv", "-c", "* | mlmodel deploy name=model_cnn_wine_quality_0422  label='CNN wineQ model'"))
            .Should().Be("result,latest_version,serving_name\r\non,1,demo_model_cnn_wine_quality_0422\r\n");
    }

    /// <summary>The wine rows as a CSV: the features quoted, as comma-separated numbers and as JSON arrays.</summary>
    private string WineCsv()
    {
        var csv = new StringBuilder("id,features\r\n");
        for (var i = 0; i < Tutorial.WineRows.Length; i++)
        {
            var features = i % 2 == 0 ? Tutorial.Csv(Tutorial.WineRows[i]) : Tutorial.Json(Tutorial.WineRows[i]);
            csv.Append(CultureInfo.InvariantCulture, $"{i + 1},\"{features}\"\r\n");
        }
        return Write("wine.csv", csv.ToString());
    }

    private static void ShouldBeClassified(IReadOnlyList<double> features, double[] predictions, double probability, string interpreted, string[] tags)
    {
        var expected = Tutorial.Softmax(features, tags.Length);
        predictions.Should().HaveCount(tags.Length);
        for (var i = 0; i < predictions.Length; i++)
        {
            predictions[i].Should().BeApproximately(expected[i], 1e-6, "the softmax of {0}, computed here", Tutorial.Json(features));
        }
        probability.Should().Be(predictions.Max());
        interpreted.Should().Be(Tutorial.Interpreted(features, tags));
    }

    [Test]
    public async Task The_wine_quality_tutorial_deploys_with_its_label_and_serving_status_shows_it_available()
    {
        await ImportAndDeployWineAsync();

        (await OkAsync("--format", "csv", "-c", "* | serving status user=demo name= model_cnn_wine_quality_0422"))
            .Should().Be("version,state,label\r\n1,AVAILABLE,CNN wineQ model\r\n");
        var table = await OkAsync("-c", "* | serving status user=demo name= model_cnn_wine_quality_0422");
        table.Split('\n')[0].Should().MatchRegex(@"^version \| state +\| label");
        table.Should().MatchRegex(@"\n +1 \| AVAILABLE \| CNN wineQ model\n\(1 row\)");
        // Also as shell words, the way `mlmodel summary name=...` is typed.
        (await OkAsync("--format", "csv", "serving", "status", "name=model_cnn_wine_quality_0422"))
            .Should().Be("version,state,label\r\n1,AVAILABLE,CNN wineQ model\r\n");
        _server.LabelsOf("demo_" + Tutorial.WineQuality).Should().ContainKey(Tutorial.Label);
    }

    [Test]
    public async Task The_wine_quality_tutorial_predicts_the_rows_of_a_csv_in_csv()
    {
        await ImportAndDeployWineAsync();
        var input = WineCsv();

        var output = await OkAsync("--format", "csv", "--input", input, "-c", WinePredict);

        using var reader = Sep.Reader(o => o with { Unescape = true }).FromText(output);
        reader.Header.ColNames.Should().Equal("id", "features", "predictions", "probability", "interpreted");
        var i = 0;
        foreach (var row in reader)
        {
            var x = Tutorial.WineRows[i];
            row["id"].ToString().Should().Be((i + 1).ToString(CultureInfo.InvariantCulture));
            row["features"].ToString().Should().Be(i % 2 == 0 ? Tutorial.Csv(x) : Tutorial.Json(x), "the input's columns as they were");
            ShouldBeClassified(x, JsonSerializer.Deserialize<double[]>(row["predictions"].ToString())!,
                double.Parse(row["probability"].ToString(), CultureInfo.InvariantCulture), row["interpreted"].ToString(), Tutorial.WineTags);
            i++;
        }
        i.Should().Be(Tutorial.WineRows.Length);
        _server.Requests.Where(r => r.Method == "POST").Select(r => r.Target).Should().Equal("/v1/models/demo_model_cnn_wine_quality_0422/versions/1:predict");
    }

    [Test]
    public async Task The_wine_quality_tutorial_predicts_the_rows_of_a_csv_in_json_and_as_a_table()
    {
        await ImportAndDeployWineAsync();
        var input = WineCsv();

        var json = await OkAsync("--format", "json", "--input", input, "-c", WinePredict);
        using (var doc = JsonDocument.Parse(json))
        {
            doc.RootElement.GetProperty("fields").EnumerateArray().Select(f => f.GetProperty("name").GetString() + ":" + f.GetProperty("type").GetString())
                .Should().Equal("id:string", "features:string", "predictions:json", "probability:double", "interpreted:string");
            var rows = doc.RootElement.GetProperty("results").EnumerateArray().ToList();
            rows.Should().HaveCount(Tutorial.WineRows.Length);
            for (var i = 0; i < rows.Count; i++)
            {
                rows[i][0].GetString().Should().Be((i + 1).ToString(CultureInfo.InvariantCulture));
                rows[i][2].ValueKind.Should().Be(JsonValueKind.Array, "predictions are JSON, not a string holding it");
                ShouldBeClassified(Tutorial.WineRows[i], rows[i][2].EnumerateArray().Select(v => v.GetDouble()).ToArray(), rows[i][3].GetDouble(), rows[i][4].GetString()!, Tutorial.WineTags);
            }
        }

        var table = await OkAsync("--input", input, "-c", WinePredict);
        var lines = table.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines[0].Should().MatchRegex(@"^id \| features +\| predictions +\| probability +\| interpreted$");
        var cells = lines.Skip(2).Take(Tutorial.WineRows.Length).Select(l => l.Split('|').Select(c => c.Trim()).ToArray()).ToList();
        cells.Select(c => c[0]).Should().Equal("1", "2", "3", "4", "5", "6");
        cells.Select(c => c[4]).Should().Equal(Tutorial.WineRows.Select(x => Tutorial.Interpreted(x, Tutorial.WineTags)));
        cells.Select(c => double.Parse(c[3], CultureInfo.InvariantCulture)).Should().Equal(
            Tutorial.WineRows.Select(x => Tutorial.Softmax(x).Max()), (a, e) => Math.Abs(a - e) < 1e-6);
        table.Should().Contain($"({Tutorial.WineRows.Length} rows)");
    }

    [Test]
    public async Task The_iris_tutorial_predicts_json_arrays_from_a_csv_and_json_lines_from_standard_input()
    {
        PutObject("USERS/demo/iris.tar", Tutorial.IrisArchive());
        await OkAsync("-c", "* | mlmodel import name=model_name analysis_tool=tf kind=classification algorithm=deep format=saved_model connector_id=local path=USERS/demo/iris.tar");
        await OkAsync("-c", "* | mlmodel deploy name=model_name");
        var csv = new StringBuilder("features,id\n");
        for (var i = 0; i < Tutorial.IrisRows.Length; i++)
        {
            // Flat or nested as the shape (4,1): both are four numbers.
            var x = Tutorial.IrisRows[i];
            var features = i % 2 == 0 ? Tutorial.Json(x) : "[" + string.Join(",", x.Select(v => "[" + v.ToString(CultureInfo.InvariantCulture) + "]")) + "]";
            csv.Append(CultureInfo.InvariantCulture, $"\"{features}\",{i + 1}\n");
        }
        var input = Write("iris.csv", csv.ToString());

        var output = await OkAsync("--format", "csv", "--input", input, "-c", IrisPredict);
        using (var reader = Sep.Reader(o => o with { Unescape = true }).FromText(output))
        {
            reader.Header.ColNames.Should().Equal("features", "id", "predictions", "probability", "interpreted");
            var i = 0;
            foreach (var row in reader)
            {
                row["id"].ToString().Should().Be((i + 1).ToString(CultureInfo.InvariantCulture));
                ShouldBeClassified(Tutorial.IrisRows[i], JsonSerializer.Deserialize<double[]>(row["predictions"].ToString())!,
                    double.Parse(row["probability"].ToString(), CultureInfo.InvariantCulture), row["interpreted"].ToString(), Tutorial.IrisTags);
                i++;
            }
            i.Should().Be(Tutorial.IrisRows.Length);
        }

        var lines = string.Join("\n", Tutorial.IrisRows.Select((x, i) => $"{{\"id\": {i + 1}, \"features\": {Tutorial.Json(x)}}}"));
        var (code, json, error) = await RunAsync(["--format", "json", "--input", "-", "-c", IrisPredict], stdin: new StringReader(lines));
        code.Should().Be(0, error);
        using var doc = JsonDocument.Parse(json);
        doc.RootElement.GetProperty("results").EnumerateArray().Select(r => r[4].GetString())
            .Should().Equal(Tutorial.IrisRows.Select(x => Tutorial.Interpreted(x, Tutorial.IrisTags)));
        // The server got each row in the shape (4,1).
        using var body = JsonDocument.Parse(_server.Requests.Last(r => r.Method == "POST").Body);
        body.RootElement.GetProperty("instances")[0].EnumerateArray().Select(v => v.EnumerateArray().Single().GetDouble()).Should().Equal(Tutorial.IrisRows[0]);
    }

    [Test]
    public async Task Without_serving_url_status_says_the_state_is_unknown_and_predict_says_what_it_needs()
    {
        await ImportAndDeployWineAsync();

        var (code, output, error) = await RunAsync(["--format", "csv", "-c", "* | serving status user=demo name= model_cnn_wine_quality_0422"], servingUrl: false);
        code.Should().Be(0, error);
        output.Should().Be("version,state,label\r\n1,unknown (no REST address),CNN wineQ model\r\n", "the config says it is served; whether it is AVAILABLE only the server knows");

        (code, _, error) = await RunAsync(["--input", WineCsv(), "-c", WinePredict], servingUrl: false);
        code.Should().Be(1);
        error.Trim().Should().Be("serving predict: no TensorFlow Serving REST address is configured (--serving-url, TensorFlowServingOptions.RestAddress); "
            + "the model's signature and predictions come from TensorFlow Serving's REST API");
    }

    [Test]
    public async Task A_row_that_cannot_be_sent_and_the_server_s_refusal_reach_stderr_with_their_rows()
    {
        await ImportAndDeployWineAsync();
        var bad = Write("bad.csv", $"id,features\n1,\"{Tutorial.Csv(Tutorial.WineRows[0])}\"\n2,\"{Tutorial.Csv(Tutorial.WineRows[1])}\"\n3,\"{Tutorial.Csv(Tutorial.WineRows[2].Take(11))}\"\n");

        var (code, _, error) = await RunAsync(["--format", "json", "--input", bad, "-c", WinePredict]);
        code.Should().Be(1);
        using (var doc = JsonDocument.Parse(error))
        {
            var e = doc.RootElement.GetProperty("error");
            e.GetProperty("code").GetString().Should().Be("invalid_value");
            e.GetProperty("command").GetString().Should().Be("serving", "an error met while the rows stream is still serving predict's");
            e.GetProperty("operation").GetString().Should().Be("predict");
            e.GetProperty("message").GetString().Should().Be("serving predict: row 3: column 'features' holds 11 value(s), but shape [(12,)] takes 12");
        }
        _server.Requests.Should().NotContain(r => r.Method == "POST");

        // So is a line of --input that is not a row.
        var lines = Write("bad.jsonl", $"{{\"id\": 1, \"features\": {Tutorial.Json(Tutorial.WineRows[0])}}}\n[1, 2]\n");
        (code, _, error) = await RunAsync(["--format", "json", "--input", lines, "-c", WinePredict]);
        code.Should().Be(1);
        using (var doc = JsonDocument.Parse(error))
        {
            var e = doc.RootElement.GetProperty("error");
            (e.GetProperty("command").GetString(), e.GetProperty("operation").GetString()).Should().Be(("serving", "predict"));
            e.GetProperty("message").GetString().Should().Be(
                $"serving predict: --input {lines}: line 2 is not a JSON object; each line holds one row, such as {{\"id\": 1, \"features\": [1.5, 2]}}");
        }

        // shape=[(11,)] fits the rows, not the model: the server refuses the batch, in its own words.
        var eleven = Write("eleven.csv", "id,features\n" + string.Join("\n", Enumerable.Range(1, 3).Select(i => $"{i},\"{Tutorial.Csv(Tutorial.WineRows[0].Take(11))}\"")) + "\n");
        (code, _, error) = await RunAsync(["--input", eleven, "-c", WinePredict.Replace("(12,)", "(11,)", StringComparison.Ordinal)]);
        code.Should().Be(1);
        error.Trim().Should().Be("serving predict: rows 1 to 3: TensorFlow Serving answered a batch of 3 rows for version 1 of demo_model_cnn_wine_quality_0422 "
            + "with HTTP 400 Bad Request: Matrix size-incompatible: In[0]: [3,11], In[1]: [12,3]");
    }

    [Test]
    public async Task The_stage_before_serving_predict_is_what_input_holds_and_no_stage_after_it_runs()
    {
        await ImportAndDeployWineAsync();
        var input = WineCsv();

        // A host's source and stages before predict made the rows --input holds: the CLI runs predict on them.
        var output = await OkAsync("--format", "csv", "--input", input, "-c", "wine | where quality > 5 | " + WinePredict[5..]);
        output.Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Should().HaveCount(1 + Tutorial.WineRows.Length);

        // Before any other command it is still the host's, and so is every stage after predict.
        var (code, _, error) = await RunAsync(["-c", ".. | serving status name=model_cnn_wine_quality_0422"]);
        code.Should().Be(2);
        error.Should().StartWith("mlmodel: the CLI runs only the mlmodel stage of a query: '..' before it (line 1, column 1) is the host's to run");
        (code, _, error) = await RunAsync(["--input", input, "-c", WinePredict + " | where probability > 0.9"]);
        code.Should().Be(2);
        error.Should().StartWith("mlmodel: the CLI runs only the mlmodel stage of a query: '| where probability > 0.9' after it (line 1, column 105) is the host's to run");
        _server.Requests.Count(r => r.Method == "POST").Should().Be(1, "only the first predict ran");

        // Without --input there are no rows to stand for the stages before it.
        (code, _, error) = await RunAsync(["-c", WinePredict]);
        code.Should().Be(2);
        error.Should().StartWith("mlmodel: serving predict reads the rows of the stage before it: give them with --input rows.csv, --input rows.jsonl or --input - (standard input). Nothing was run");
    }
}
