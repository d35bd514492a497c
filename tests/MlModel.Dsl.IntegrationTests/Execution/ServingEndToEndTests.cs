using System.Data;
using System.Globalization;
using System.Text.Json;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Data;
using MlModel.Dsl.IntegrationTests.Support;
using MlModel.Dsl.Serving.TensorFlow;
using MlModel.Dsl.Serving.TensorFlow.Tests;

namespace MlModel.Dsl.IntegrationTests.Execution;

/// <summary>
/// <c>serving status</c> and <c>serving predict</c> end to end through the library: a host's
/// query text and rows in, a real SQLite home, the serving folder and config the library writes,
/// and the fake TensorFlow Serving on 127.0.0.1 polling that config and answering the metadata
/// and predict APIs over HTTP (no in-process predictor). IRIS's tutorials run as typed in its manual.
/// </summary>
public class ServingEndToEndTests
{
    private ServedEngine _s = null!;

    [SetUp]
    public void SetUp()
    {
        _s = ServedEngine.Start(o => o.PredictBatchSize = 4);
        Tutorial.Serve(_s.Server);
    }

    [TearDown]
    public async Task TearDown() => await _s.DisposeAsync();

    private async Task<List<object?[]>> QueryAsync(string query, MlModelCaller caller)
    {
        var (_, result) = await _s.Engine.ExecuteQueryAsync(query, caller);
        using (result)
        {
            return result.ToList();
        }
    }

    /// <summary>The host's part of a query after the library's stage: `where` as a DataView filter, as samples/HostEmbedding does.</summary>
    private static DataView HostWhere(DataTable table, string after)
    {
        after.Should().StartWith("where ");
        return new DataView(table) { RowFilter = after["where ".Length..] };
    }

    private static async Task<DataTable> LoadAsync(ResultSet result)
    {
        var table = new DataTable();
        await using (var reader = result.CreateReader())
        {
            table.Load(reader);
        }
        return table;
    }

    private static void ShouldBeClassified(IReadOnlyList<double> features, object? predictions, double probability, string? interpreted, string[] tags)
    {
        var expected = Tutorial.Softmax(features, tags.Length);
        var got = predictions.Should().BeOfType<double[]>("the output vector is the host's numeric array").Subject;
        got.Should().HaveCount(tags.Length);
        for (var i = 0; i < got.Length; i++)
        {
            got[i].Should().BeApproximately(expected[i], 1e-6, "the softmax of row {0}, computed here", Tutorial.Json(features));
        }
        probability.Should().Be(got.Max(), "probability is the largest of the predictions");
        probability.Should().BeApproximately(expected.Max(), 1e-6);
        interpreted.Should().Be(Tutorial.Interpreted(features, tags));
    }

    private async Task ImportAndDeployWineAsync()
    {
        _s.Harness.PutObject("USERS/demo/seoryjj/cnn_wine_quality_0422.tar", Tutorial.WineQualityArchive());
        (await QueryAsync("""
            * | mlmodel import name= model_cnn_wine_quality_0422
                analysis_tool=tf kind=classification algorithm=deep format= saved_model connector_id = local path=USERS/demo/seoryjj/cnn_wine_quality_0422.tar
            """, Tutorial.Demo)).Single().Should().Equal("ok", Tutorial.WineQuality, 1);
        (await QueryAsync("* | mlmodel deploy name=model_cnn_wine_quality_0422  label='CNN wineQ model'", Tutorial.Demo))
            .Single().Should().Equal("on", 1, "demo_" + Tutorial.WineQuality);
    }

    [Test]
    public async Task The_wine_quality_tutorial_deploys_with_its_label_and_serving_status_shows_it_available()
    {
        await ImportAndDeployWineAsync();

        var summary = (await QueryAsync("* | mlmodel summary name=model_cnn_wine_quality_0422", Tutorial.Demo)).ToDictionary(r => (string)r[0]!, r => r[1]);
        summary["feature"].Should().Be("features", "the SavedModel's serving_default input, recorded at import");
        summary["label"].Should().Be("probabilities");

        var (stage, result) = await _s.Engine.ExecuteQueryAsync("* | serving status user=demo name= model_cnn_wine_quality_0422", Tutorial.Demo);
        using (result)
        {
            stage.Before.Should().Be("*");
            result.Fields.Select(f => (f.Name, f.Type)).Should().Equal(("version", FieldType.Int), ("state", FieldType.String), ("label", FieldType.String));
            result.ToList().Select(r => (r[0], r[1], r[2])).Should().Equal((1, "AVAILABLE", Tutorial.Label));
        }
        _s.Server.StateOf("demo_" + Tutorial.WineQuality, 1).Should().Be(ModelVersionState.Available);
        _s.Server.LabelsOf("demo_" + Tutorial.WineQuality).Should().Equal(new Dictionary<string, long> { [Tutorial.Label] = 1 }, "the server took the label from the config");
        File.ReadAllText(_s.Harness.ConfigFile).Should().Contain("key: 'CNN wineQ model'");
    }

    [Test]
    public async Task The_wine_quality_tutorial_predicts_a_host_s_rows_and_the_host_filters_them()
    {
        await ImportAndDeployWineAsync();
        using var features = new DataTable();
        features.Columns.Add("id", typeof(int));
        features.Columns.Add("features", typeof(string));
        for (var i = 0; i < Tutorial.WineRows.Length; i++)
        {
            // Comma-separated numbers and JSON arrays, as a host's text column holds them.
            features.Rows.Add(i + 1, i % 2 == 0 ? Tutorial.Csv(Tutorial.WineRows[i]) : Tutorial.Json(Tutorial.WineRows[i]));
        }

        var (stage, result) = await _s.Engine.ExecuteQueryAsync(
            ".. | serving predict user=demo name= model_cnn_wine_quality_0422 col=features shape=[(12,)] tag=(0,1,2) | where interpreted <> '0'",
            Tutorial.Demo, RowSource.FromReader(features.CreateDataReader()));
        DataTable predicted;
        await using (result)
        {
            result.Fields.Select(f => (f.Name, f.Type)).Should().Equal(
                ("id", FieldType.Int), ("features", FieldType.String), ("predictions", FieldType.Json), ("probability", FieldType.Double), ("interpreted", FieldType.String));
            predicted = await LoadAsync(result);
        }

        stage.Before.Should().Be("..");
        predicted.Rows.Count.Should().Be(Tutorial.WineRows.Length);
        for (var i = 0; i < Tutorial.WineRows.Length; i++)
        {
            var row = predicted.Rows[i];
            row["id"].Should().Be(i + 1, "rows keep their order");
            row["features"].Should().Be(features.Rows[i]["features"], "the input columns pass through");
            ShouldBeClassified(Tutorial.WineRows[i], row["predictions"], (double)row["probability"], (string)row["interpreted"], Tutorial.WineTags);
        }
        predicted.Rows.Cast<DataRow>().Select(r => (string)r["interpreted"]).Should().Equal("0", "0", "0", "1", "2", "0");

        var kept = HostWhere(predicted, stage.After);
        kept.Cast<DataRowView>().Select(r => ((int)r["id"], (string)r["interpreted"])).Should().Equal((4, "1"), (5, "2"));

        // Over HTTP: the signature from the metadata API, then batches of 4 rows to the version's :predict.
        var predicts = _s.Server.Requests.Where(r => r.Method == "POST").ToList();
        predicts.Select(r => r.Target).Should().Equal(
            "/v1/models/demo_model_cnn_wine_quality_0422/versions/1:predict", "/v1/models/demo_model_cnn_wine_quality_0422/versions/1:predict");
        using var first = JsonDocument.Parse(predicts[0].Body);
        first.RootElement.GetProperty("instances").GetArrayLength().Should().Be(4);
        first.RootElement.GetProperty("instances")[0].EnumerateArray().Select(v => v.GetDouble()).Should().Equal(Tutorial.WineRows[0]);
        _s.Server.Requests.Should().Contain(r => r.Method == "GET" && r.Target == "/v1/models/demo_model_cnn_wine_quality_0422/versions/1/metadata");
    }

    [Test]
    public async Task The_iris_tutorial_query_classifies_a_host_s_arrays_in_the_shape_it_gives()
    {
        _s.Harness.PutObject("USERS/demo/iris.tar", Tutorial.IrisArchive());
        await QueryAsync("* | mlmodel import name=model_name analysis_tool=tf kind=classification algorithm=deep format=saved_model connector_id=local path=USERS/demo/iris.tar", Tutorial.Demo);
        await QueryAsync("* | mlmodel deploy name=model_name", Tutorial.Demo);
        using var features = new DataTable();
        features.Columns.Add("id", typeof(int));
        features.Columns.Add("features", typeof(double[]));
        for (var i = 0; i < Tutorial.IrisRows.Length; i++)
        {
            features.Rows.Add(i + 1, Tutorial.IrisRows[i]);
        }

        var (stage, result) = await _s.Engine.ExecuteQueryAsync(
            ".. | serving predict user=demo name=model_name col=features shape=[(4,1)] tag=(virsicolor,setosa,virginica) | where probability > 0.9",
            Tutorial.Demo, RowSource.FromReader(features.CreateDataReader()));
        DataTable predicted;
        await using (result)
        {
            result.Fields.Select(f => (f.Name, f.Type)).Should().Equal(
                ("id", FieldType.Int), ("features", FieldType.Json), ("predictions", FieldType.Json), ("probability", FieldType.Double), ("interpreted", FieldType.String));
            predicted = await LoadAsync(result);
        }

        for (var i = 0; i < Tutorial.IrisRows.Length; i++)
        {
            var row = predicted.Rows[i];
            row["features"].Should().BeSameAs(Tutorial.IrisRows[i], "the host's array comes back as it went in");
            ShouldBeClassified(Tutorial.IrisRows[i], row["predictions"], (double)row["probability"], (string)row["interpreted"], Tutorial.IrisTags);
        }
        predicted.Rows.Cast<DataRow>().Select(r => (string)r["interpreted"]).Should().Equal("virsicolor", "setosa", "setosa", "virginica");
        var expectedKept = Enumerable.Range(1, Tutorial.IrisRows.Length).Where(i => Tutorial.Softmax(Tutorial.IrisRows[i - 1]).Max() > 0.9).ToList();
        expectedKept.Should().NotBeEmpty().And.HaveCountLessThan(Tutorial.IrisRows.Length, "the filter must keep some rows and drop others to show anything");
        HostWhere(predicted, stage.After).Cast<DataRowView>().Select(r => (int)r["id"]).Should().Equal(expectedKept);

        // Each row sent in the tuple's shape: [[5.1], [3.5], [1.4], [0.2]].
        using var body = JsonDocument.Parse(_s.Server.Requests.Single(r => r.Method == "POST").Body);
        var instance = body.RootElement.GetProperty("instances")[0];
        instance.EnumerateArray().Select(v => v.EnumerateArray().Single().GetDouble()).Should().Equal(Tutorial.IrisRows[0]);
    }

    [Test]
    public async Task Half_plus_two_predicts_without_shape_or_dtype_from_the_served_signature_exactly()
    {
        await _s.Harness.ImportHalfPlusTwoAsync();
        await _s.Harness.RunAsync("mlmodel deploy name=half_plus_two");
        double[] xs = [0, 1, 2.5, -3, 1e6, 0.125, 7];
        using var table = new DataTable();
        table.Columns.Add("x", typeof(double));
        foreach (var x in xs)
        {
            table.Rows.Add(x);
        }

        var (_, result) = await _s.Engine.ExecuteQueryAsync("rows | serving predict name=half_plus_two col=x", EngineHarness.Root, RowSource.FromReader(table.CreateDataReader()));
        List<object?[]> rows;
        await using (result)
        {
            result.Fields.Select(f => f.Name).Should().Equal("x", "predictions", "probability");
            rows = [];
            await foreach (var row in result.ReadAllAsync())
            {
                rows.Add(row);
            }
        }

        rows.Select(r => (double)r[0]!).Should().Equal(xs);
        rows.Select(r => (double)r[2]!).Should().Equal(xs.Select(x => x / 2 + 2), "y = x/2 + 2, exact for these values");
        rows.Select(r => ((double[])r[1]!).Single()).Should().Equal(xs.Select(x => x / 2 + 2), "one value per row: the signature's y is [-1,1]");
        _s.Server.Requests.Should().Contain(r => r.Method == "GET" && r.Target == "/v1/models/root_half_plus_two/versions/1/metadata", "shape and dtype came from the signature");
        using var body = JsonDocument.Parse(_s.Server.Requests.First(r => r.Method == "POST").Body);
        body.RootElement.GetProperty("instances").EnumerateArray().Select(v => v.EnumerateArray().Single().GetDouble()).Should().Equal(xs.Take(4),
            "each row as the signature's [-1,1] takes it: [x]");
    }

    [Test]
    public async Task Version_sends_every_batch_to_that_version_and_without_it_the_latest_served_answers()
    {
        await _s.Harness.ImportHalfPlusTwoAsync("m");
        await _s.Harness.ImportHalfPlusTwoAsync("m");
        await _s.Harness.RunAsync("mlmodel deploy name=m version=1");
        await _s.Harness.RunAsync("mlmodel deploy name=m version=2");
        // Version 2 computes something else, so that the answer shows which version gave it.
        _s.Server.Models["root_m/2"] = FakeModel.SoftmaxClassifier(features: 1, classes: 2, rowShape: [1]);
        (await QueryAsync("* | serving status name=m", EngineHarness.Root)).Select(r => (r[0], r[1])).Should().Equal((1, "AVAILABLE"), (2, "AVAILABLE"));

        async Task<List<object?[]>> PredictAsync(string query)
        {
            var (_, result) = await _s.Engine.ExecuteQueryAsync(query, EngineHarness.Root,
                RowSource.FromRows([new ResultField("x", FieldType.String)], Rows(Enumerable.Range(1, 10).Select(i => new object?[] { i.ToString(CultureInfo.InvariantCulture) }))));
            await using (result)
            {
                var rows = new List<object?[]>();
                await foreach (var row in result.ReadAllAsync())
                {
                    rows.Add(row);
                }
                return rows;
            }
        }

        var v1 = await PredictAsync(".. | serving predict name=m col=x version=1");
        v1.Select(r => (double)r[2]!).Should().Equal(Enumerable.Range(1, 10).Select(i => i / 2.0 + 2));
        _s.Server.Requests.Where(r => r.Method == "POST").Select(r => r.Target).Should().HaveCount(3).And.OnlyContain(t => t == "/v1/models/root_m/versions/1:predict");

        var latest = await PredictAsync(".. | serving predict name=m col=x tag=(yes,no)");
        latest.Select(r => (string)r[3]!).Should().OnlyContain(t => t == "yes", "version 2, a classifier whose one feature votes for class 0");
        _s.Server.Requests.Where(r => r.Method == "POST").Skip(3).Should().OnlyContain(r => r.Target == "/v1/models/root_m/versions/2:predict");
    }

    private static async IAsyncEnumerable<object?[]> Rows(IEnumerable<object?[]> rows)
    {
        foreach (var row in rows)
        {
            await Task.Yield();
            yield return row;
        }
    }

    [Test]
    public async Task A_row_that_cannot_be_sent_fails_naming_its_row_and_column_and_its_batch_is_not_sent()
    {
        await ImportAndDeployWineAsync();
        object?[][] input =
        [
            [1, Tutorial.Csv(Tutorial.WineRows[0])],
            [2, Tutorial.Csv(Tutorial.WineRows[1])],
            [3, Tutorial.Csv(Tutorial.WineRows[2].Take(11))],
        ];
        var (_, result) = await _s.Engine.ExecuteQueryAsync(
            ".. | serving predict user=demo name= model_cnn_wine_quality_0422 col=features shape=[(12,)] tag=(0,1,2)", Tutorial.Demo,
            RowSource.FromRows([new ResultField("id", FieldType.Int), new ResultField("features", FieldType.String)], Rows(input)));
        var act = async () =>
        {
            await using (result)
            {
                await foreach (var _ in result.ReadAllAsync())
                {
                }
            }
        };
        (await act.Should().ThrowAsync<MlModelException>()).Which.Error.Should().BeEquivalentTo(new
        {
            Code = ErrorCodes.InvalidValue,
            Command = "serving",
            Operation = "predict",
            Message = "serving predict: row 3: column 'features' holds 11 value(s), but shape [(12,)] takes 12",
        });
        _s.Server.Requests.Should().NotContain(r => r.Method == "POST", "the batch of rows 1 to 3 never went out");
    }

    [Test]
    public async Task The_server_s_own_error_text_is_passed_on_with_the_rows_of_its_batch()
    {
        await ImportAndDeployWineAsync();
        // shape=[(11,)] passes the engine's own check (each row has 11 values), but the model takes 12:
        // TensorFlow Serving refuses the batch, and says why.
        var input = Enumerable.Range(1, 6).Select(i => new object?[] { i, Tutorial.Csv(Tutorial.WineRows[0].Take(11)) });
        var (_, result) = await _s.Engine.ExecuteQueryAsync(
            ".. | serving predict user=demo name= model_cnn_wine_quality_0422 col=features shape=[(11,)] tag=(0,1,2)", Tutorial.Demo,
            RowSource.FromRows([new ResultField("id", FieldType.Int), new ResultField("features", FieldType.String)], Rows(input)));
        var act = async () =>
        {
            await using (result)
            {
                await foreach (var _ in result.ReadAllAsync())
                {
                }
            }
        };
        var error = (await act.Should().ThrowAsync<MlModelException>()).Which.Error;
        (error.Code, error.Command, error.Operation).Should().Be((ErrorCodes.Backend, "serving", "predict"));
        error.Message.Should().Be(
            "serving predict: rows 1 to 4: TensorFlow Serving answered a batch of 4 rows for version 1 of demo_model_cnn_wine_quality_0422 with HTTP 400 Bad Request: "
            + "Matrix size-incompatible: In[0]: [4,11], In[1]: [12,3]");
    }

    [Test]
    public async Task A_parameter_that_does_not_fit_the_served_signature_is_an_error_of_serving_predict_prefixed_once()
    {
        await _s.Harness.ImportHalfPlusTwoAsync();
        await _s.Harness.RunAsync("mlmodel deploy name=half_plus_two");
        var act = () => _s.Engine.ExecuteQueryAsync(".. | serving predict name=half_plus_two col=x layer_name=pixels", EngineHarness.Root,
            RowSource.FromRows([new ResultField("x", FieldType.String)], Rows([])));
        var error = (await act.Should().ThrowAsync<MlModelException>()).Which.Error;
        error.Should().BeEquivalentTo(new
        {
            Code = ErrorCodes.InvalidValue,
            Command = "serving",
            Operation = "predict",
            Message = "serving predict: invalid value for 'layer_name': 'pixels' is not an input of the model; its inputs: x",
            Detail = "invalid value for 'layer_name': 'pixels' is not an input of the model; its inputs: x",
        });
    }

    /// <summary>An engine on the same home whose serving backend only reads the config: no --serving-url.</summary>
    private MlModelEngine PlainEngine() => new(new MlModelOptions
    {
        Repository = new SqliteModelRepository(Path.Combine(_s.Harness.Home, "mlmodel.db")),
        ModelStore = new MlModel.Dsl.Backends.Local.LocalObjectStore(_s.Harness.Store),
        Serving = new TensorFlowServingBackend(new TensorFlowServingOptions { ServingRoot = _s.Harness.ServingRoot, ConfigFile = _s.Harness.ConfigFile }),
        OwnsBackends = true,
    });

    [Test]
    public async Task A_version_the_server_has_not_loaded_is_named_with_the_server_s_states()
    {
        _s.Harness.PutObject("USERS/demo/seoryjj/cnn_wine_quality_0422.tar", Tutorial.WineQualityArchive());
        await QueryAsync("* | mlmodel import name=model_cnn_wine_quality_0422 analysis_tool=tf kind=classification algorithm=deep format=saved_model connector_id=local path=USERS/demo/seoryjj/cnn_wine_quality_0422.tar", Tutorial.Demo);
        // Deployed without waiting for the server (no REST address), which never gets it loaded.
        _s.Server.NeverAvailable.Add("demo_" + Tutorial.WineQuality);
        await using (var plain = PlainEngine())
        {
            (await plain.ExecuteAsync("mlmodel deploy name=model_cnn_wine_quality_0422", Tutorial.Demo)).Dispose();
        }
        await WaitForStateAsync("demo_" + Tutorial.WineQuality, 1, ModelVersionState.Loading);

        var act = () => _s.Engine.ExecuteQueryAsync(".. | serving predict name=model_cnn_wine_quality_0422 col=features", Tutorial.Demo,
            RowSource.FromRows([new ResultField("features", FieldType.String)], Rows([])));
        (await act.Should().ThrowAsync<MlModelException>()).Which.Error.Should().BeEquivalentTo(new
        {
            Code = ErrorCodes.NotFound,
            Message = "serving predict: TensorFlow Serving has no AVAILABLE version of demo_model_cnn_wine_quality_0422; its versions: 1 LOADING",
        });
        (await QueryAsync("* | serving status name=model_cnn_wine_quality_0422", Tutorial.Demo)).Single().Should().Equal(1, "LOADING", null);
    }

    private async Task WaitForStateAsync(string model, long version, ModelVersionState state)
    {
        for (var i = 0; i < 500 && _s.Server.StateOf(model, version) != state; i++)
        {
            await Task.Delay(20);
        }
        _s.Server.StateOf(model, version).Should().Be(state);
    }

    [Test]
    public async Task Without_a_REST_address_status_does_not_guess_and_predict_says_what_it_needs()
    {
        await ImportAndDeployWineAsync();
        // The same home, through a backend that only reads the config (no --serving-url).
        await using var plain = PlainEngine();
        var (_, status) = await plain.ExecuteQueryAsync("* | serving status user=demo name= model_cnn_wine_quality_0422", Tutorial.Demo);
        using (status)
        {
            status.ToList().Select(r => (r[0], r[1], r[2])).Should().Equal((1, "unknown (no REST address)", Tutorial.Label));
        }
        _s.Server.StateOf("demo_" + Tutorial.WineQuality, 1).Should().Be(ModelVersionState.Available, "the server does serve it: the state is unknown to this backend, not END");

        var act = () => plain.ExecuteQueryAsync(".. | serving predict user=demo name= model_cnn_wine_quality_0422 col=features", Tutorial.Demo,
            RowSource.FromRows([new ResultField("features", FieldType.String)], Rows([])));
        (await act.Should().ThrowAsync<MlModelException>()).Which.Error.Should().BeEquivalentTo(new
        {
            Code = ErrorCodes.Unsupported,
            Message = "serving predict: no TensorFlow Serving REST address is configured (--serving-url, TensorFlowServingOptions.RestAddress); "
                + "the model's signature and predictions come from TensorFlow Serving's REST API",
        });
    }
}
