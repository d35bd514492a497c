using MlModel.Dsl.Backends;
using MlModel.Dsl.IntegrationTests.Support;

namespace MlModel.Dsl.IntegrationTests.Execution;

public class QueryTests
{
    private EngineHarness _h = null!;

    [SetUp]
    public void SetUp() => _h = new EngineHarness();

    [TearDown]
    public void TearDown() => _h.Dispose();

    [Test]
    public async Task List_has_the_seventeen_columns_of_the_spec_in_order_with_their_types()
    {
        await _h.ImportHalfPlusTwoAsync("mnist_v1");
        var result = await _h.RunAsync("mlmodel list");
        result.Fields.Select(f => f.Name).Should().Equal(
            "id", "user", "name", "version", "description", "analysis_tool", "kind", "algorithm", "feature", "label",
            "serving", "serving_name", "state", "data_model_name", "query", "create", "modified");
        result.Fields.Where(f => f.Type == FieldType.Int).Select(f => f.Name).Should().Equal("id", "version");
        var row = result.Single();
        row[1].Should().Be("root");
        row[2].Should().Be("mnist_v1");
        row[3].Should().Be(1);
        row[5].Should().Be("tf");
        row[10].Should().Be("off");
        row[11].Should().Be("root_mnist_v1");
        row[12].Should().Be("DONE");
        ((string)row[15]!).Should().MatchRegex(@"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}$");
    }

    [Test]
    public async Task Summary_without_a_version_shows_the_latest_with_the_fields_of_the_spec()
    {
        await _h.ImportHalfPlusTwoAsync("mnist_v1");
        await _h.ImportHalfPlusTwoAsync("mnist_v1");
        var result = await _h.RunAsync("mlmodel summary name=mnist_v1");
        result.Fields.Select(f => f.Name).Should().Equal("name", "value");
        var rows = result.ToDictionary(r => (string)r[0]!, r => r[1] as string);
        rows.Keys.Should().Equal("id", "user", "name", "version", "filename", "format", "analysis_tool", "kind", "algorithm",
            "feature", "label", "parameter", "evaluation", "cross_validation", "grid_info", "train_cnt", "elapsed",
            "dictionary", "cdate", "mdate", "serving", "serving_name", "state");
        rows["version"].Should().Be("2");
        rows["filename"].Should().Be("saved_model.pb");
        rows["format"].Should().Be("saved_model");
        rows["serving"].Should().Be("off");
        rows["serving_name"].Should().Be("root_mnist_v1");
        rows["state"].Should().Be("DONE");
        rows["cdate"].Should().MatchRegex(@"^\d{14}$");
    }

    [Test]
    public async Task Models_registered_through_the_api_show_in_list_summary_and_history()
    {
        var v = await _h.Engine.Models.RegisterAsync(new ModelRegistration
        {
            Name = "rf", AnalysisTool = "spark", Kind = "regression", Algorithm = "RandomForestRegression",
            Feature = "a,b", Label = "y", DataModelName = "sales", Query = "* | fit rf", Description = "모델 설명입니다.",
        }, EngineHarness.Alice);
        await _h.Engine.Models.UpdateTrainingAsync("alice", "rf", v.Version, new TrainingUpdate
        {
            State = ModelStates.Done, TrainCnt = 55260, Elapsed = 569.0207872390747,
            Evaluation = """[{"losses": {"loss": 0.3}, "metrics": {"acc": 0.9}}]""",
        }, EngineHarness.Alice);

        var list = await _h.RunAsync("mlmodel list", EngineHarness.Alice);
        var row = list.Single();
        row[4].Should().Be("모델 설명입니다.");
        row[8].Should().Be("a,b");
        row[12].Should().Be("DONE");
        row[13].Should().Be("sales");

        var summary = (await _h.RunAsync("mlmodel summary name=rf", EngineHarness.Alice)).ToDictionary(r => (string)r[0]!, r => r[1] as string);
        summary["train_cnt"].Should().Be("55260");
        summary["elapsed"].Should().Be("569.0207872390747");
        summary["cross_validation"].Should().Be("{}");

        var history = await _h.RunAsync("mlmodel history name=rf", EngineHarness.Alice);
        history.Select(r => r[2]).Should().Equal("state", "register"); // newest first
        history.All(r => (string?)r[6] == "ok").Should().BeTrue();
    }

    [Test]
    public async Task A_user_lists_their_own_models_and_an_administrator_everyone_s()
    {
        await _h.ImportHalfPlusTwoAsync("a", EngineHarness.Alice);
        await _h.ImportHalfPlusTwoAsync("b", EngineHarness.Bob);
        (await _h.RunAsync("mlmodel list", EngineHarness.Alice)).Select(r => r[2]).Should().Equal("a");
        (await _h.RunAsync("mlmodel list", EngineHarness.Root)).Select(r => r[2]).Should().BeEquivalentTo(["a", "b"]);
        (await _h.RunAsync("mlmodel list user=bob", EngineHarness.Root)).Select(r => r[2]).Should().Equal("b");
    }

    [Test]
    public async Task List_filters_by_name_tool_and_serving()
    {
        await _h.ImportHalfPlusTwoAsync("a");
        await _h.ImportHalfPlusTwoAsync("b");
        (await _h.RunAsync("mlmodel list name=b")).Select(r => r[2]).Should().Equal("b");
        (await _h.RunAsync("mlmodel list analysis_tool=spark")).Should().BeEmpty();
        (await _h.RunAsync("mlmodel list serving=off")).Should().HaveCount(2);
        (await _h.RunAsync("mlmodel list serving=on")).Should().BeEmpty();
    }

    [Test]
    public async Task List_streams_through_a_data_reader()
    {
        await _h.ImportHalfPlusTwoAsync("a");
        await _h.ImportHalfPlusTwoAsync("a");
        using var result = await _h.Engine.ExecuteAsync("mlmodel list", EngineHarness.Root);
        using var reader = result.CreateReader();
        reader.FieldCount.Should().Be(17);
        reader.GetName(3).Should().Be("version");
        reader.GetFieldType(3).Should().Be<int>();
        var versions = new List<int>();
        while (reader.Read())
        {
            versions.Add(reader.GetInt32(reader.GetOrdinal("version")));
        }
        versions.Should().Equal(1, 2);
    }

    [Test]
    public async Task The_dsl_object_runs_like_the_text()
    {
        await _h.ImportHalfPlusTwoAsync("mnist_v1");
        var result = await _h.RunAsync("""{"command":"mlmodel","params":{"operation":"summary","name":"mnist_v1","version":"1"}}""");
        result.First(r => (string)r[0]! == "version")[1].Should().Be("1");
    }

    [Test]
    public async Task Summary_of_a_missing_version_names_the_versions_there_are()
    {
        await _h.ImportHalfPlusTwoAsync("mnist_v1");
        var act = () => _h.RunAsync("mlmodel summary name=mnist_v1 version=7");
        (await act.Should().ThrowAsync<MlModelException>()).Which.Error.Should().BeEquivalentTo(new
        {
            Code = "not_found",
            Message = "mlmodel summary: no version 7 of model 'mnist_v1' of user 'root'; its versions are 1",
        });
    }

    [Test]
    public async Task Results_render_as_the_host_job_json_and_as_csv()
    {
        await _h.ImportHalfPlusTwoAsync("mnist_v1");
        var result = await _h.RunAsync("mlmodel list");
        var json = ResultWriter.ToJson(result);
        json.Should().StartWith("""{"fields":[{"name":"id","type":"int"},{"name":"user","type":"string"}""");
        json.Should().Contain("""[1,"root","mnist_v1",1,null,"tf","regression","deep","x","y","off","root_mnist_v1","DONE",null,null,""");
        var csv = new StringWriter();
        ResultWriter.WriteCsv(result, csv);
        csv.ToString().Split("\r\n")[0].Should().Be("id,user,name,version,description,analysis_tool,kind,algorithm,feature,label,serving,serving_name,state,data_model_name,query,create,modified");
    }

    [Test]
    public void The_text_table_aligns_korean_by_display_width_and_cuts_long_cells()
    {
        var result = new ResultSet(
            [new ResultField("name", FieldType.String), new ResultField("v", FieldType.Int), new ResultField("url", FieldType.String)],
            [["모델", 1, "u"], ["abcd", 22, "u"], [new string('x', 100), 3, "file:///" + new string('y', 60)]]);
        var lines = ResultWriter.ToTable(result, maxCellWidth: 10).Split(Environment.NewLine);
        lines[0].Should().Be("name       | v  | url");
        lines[1].Should().Be("-----------+----+" + new string('-', 69));
        lines[2].Should().Be("모델       |  1 | u");
        lines[3].Should().Be("abcd       | 22 | u");
        lines[4].Should().Be("xxxxxxxxx… |  3 | file:///" + new string('y', 60), "the last column is never cut");
        lines[5].Should().Be("(3 rows)");
    }

    [Test]
    public void A_one_row_table_is_not_cut_so_the_export_url_stays_whole()
    {
        var url = "file:///" + new string('y', 80) + "/m_v1_export.tar";
        var result = new ResultSet(
            [new ResultField("result", FieldType.String), new ResultField("download_url", FieldType.String), new ResultField("expired time (sec)", FieldType.Int)],
            [["ok", url, 3600]]);

        var lines = ResultWriter.ToTable(result, maxCellWidth: 10).Split(Environment.NewLine);

        lines[2].Should().Be($"ok     | {url} |               3600");
    }

    [Test]
    public async Task The_text_table_writes_out_control_characters_that_json_and_csv_keep_exact()
    {
        // A description is what the user stored: printed raw, ESC [2J would clear the screen,
        // ESC ] 0; retitle the terminal, CSI (U+009B) start a sequence on terminals that take C1.
        const string description = "x\u001b[2J\u001b]0;owned\u0007|\r\n\t\u009b31m\u007fy";
        var key = _h.PutObject("USERS/root/m.tar", Archives.FromFolder(TestPaths.Model("saved_model_half_plus_two_cpu")));
        var base64 = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(description));
        await _h.RunAsync($"mlmodel import name=m analysis_tool=tf kind=regression algorithm=deep format=saved_model connector_id=local path={key} description=base64({base64})");
        var result = await _h.RunAsync("mlmodel list");

        var table = ResultWriter.ToTable(result, maxCellWidth: 100);
        table.Should().Contain(@"x\x1b[2J\x1b]0;owned\x07|\r\n\t\u009b31m\x7fy");
        table.Split(Environment.NewLine).Should().HaveCount(5, "a header, a rule, one row, the count and the last line break");
        table.Replace(Environment.NewLine, "", StringComparison.Ordinal).Where(char.IsControl).Should().BeEmpty();

        using var json = System.Text.Json.JsonDocument.Parse(ResultWriter.ToJson(result));
        json.RootElement.GetProperty("results")[0][4].GetString().Should().Be(description);
        var csv = new StringWriter();
        ResultWriter.WriteCsv(result, csv);
        csv.ToString().Should().Contain("\"" + description + "\"");
    }
}
