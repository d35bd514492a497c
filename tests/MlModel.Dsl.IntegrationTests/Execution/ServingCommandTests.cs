using System.Data;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using MlModel.Dsl.IntegrationTests.Support;
using MlModel.Dsl.Tests.Execution.Predict;

namespace MlModel.Dsl.IntegrationTests.Execution;

/// <summary>
/// <c>serving status</c> and <c>serving predict</c> through the engine, on a real SQLite repository
/// and TensorFlow Serving's real folders and config, with the in-process predictor for the
/// predictions, so that server states and batches can be set and counted; ServingEndToEndTests runs
/// the same commands from query text against the fake TensorFlow Serving over HTTP.
/// </summary>
public class ServingCommandTests
{
    private EngineHarness _h = null!;
    private PredictingBackend _backend = null!;

    [SetUp]
    public void SetUp()
    {
        _h = new EngineHarness(o =>
        {
            o.Serving = new PredictingBackend(o.Serving!, new InProcessPredictor());
            o.PredictBatchSize = 100;
            o.PredictBatchesInFlight = 4;
        });
        _backend = (PredictingBackend)_h.Options.Serving!;
    }

    [TearDown]
    public void TearDown() => _h.Dispose();

    private static async IAsyncEnumerable<object?[]> Async(IEnumerable<object?[]> rows, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var row in rows)
        {
            await Task.Yield();
            cancellationToken.ThrowIfCancellationRequested();
            yield return row;
        }
    }

    private static RowSource Features(IEnumerable<object?[]> rows) =>
        RowSource.FromRows([new ResultField("id", FieldType.Int), new ResultField("features", FieldType.String)], Async(rows));

    private async Task<List<object?[]>> PredictAsync(ServingPredictCommand command, RowSource input, MlModelCaller? caller = null)
    {
        await using var result = await _h.Engine.ExecuteAsync(command, caller ?? EngineHarness.Root, input);
        var rows = new List<object?[]>();
        await foreach (var row in result.ReadAllAsync())
        {
            rows.Add(row);
        }
        return rows;
    }

    private async Task<ResultSet> StatusAsync(ServingStatusCommand command, MlModelCaller? caller = null)
    {
        using var result = await _h.Engine.ExecuteAsync(command, caller ?? EngineHarness.Root);
        return result.ToBuffered();
    }

    [Test]
    public async Task Serving_status_shows_each_served_version_with_the_server_s_state_and_the_deployment_s_label()
    {
        // IRIS's tutorial: mlmodel deploy ... label='CNN wineQ model', then * | serving status user=demo name=...
        await _h.ImportHalfPlusTwoAsync("model_cnn_wine_quality_0422");
        await _h.ImportHalfPlusTwoAsync("model_cnn_wine_quality_0422");
        await _h.ImportHalfPlusTwoAsync("model_cnn_wine_quality_0422");
        await _h.RunAsync("mlmodel deploy name=model_cnn_wine_quality_0422 version=1 label='CNN wineQ model'");
        await _h.RunAsync("mlmodel deploy name=model_cnn_wine_quality_0422 version=2");
        _backend.ServerStates = new()
        {
            [1] = ("AVAILABLE", null),
            [2] = ("END", "Could not find SavedModel .pb or .pbtxt at supplied export directory path"),
            [7] = ("UNLOADING", null),
        };

        var status = await StatusAsync(new ServingStatusCommand("model_cnn_wine_quality_0422"));

        status.Fields.Select(f => (f.Name, f.Type)).Should().Equal(("version", FieldType.Int), ("state", FieldType.String), ("label", FieldType.String));
        status.Select(r => (r[0], r[1], r[2])).Should().Equal(
            (1, "AVAILABLE", "CNN wineQ model"),
            (2, "END: Could not find SavedModel .pb or .pbtxt at supplied export directory path", null),
            (7, "UNLOADING", null));
    }

    [Test]
    public async Task Without_a_REST_address_serving_status_says_so_from_the_config_and_never_guesses_available()
    {
        using var plain = new EngineHarness();
        await plain.ImportHalfPlusTwoAsync("m");
        await plain.ImportHalfPlusTwoAsync("m");
        await plain.RunAsync("mlmodel deploy name=m version=2 label=stable");
        using var result = await plain.Engine.ExecuteAsync(new ServingStatusCommand("m"), EngineHarness.Root);
        result.ToBuffered().Select(r => (r[0], r[1], r[2])).Should().Equal((2, "unknown (no REST address)", "stable"));
    }

    [Test]
    public async Task A_server_that_reports_nothing_for_the_model_gives_its_reason_as_the_state()
    {
        await _h.ImportHalfPlusTwoAsync("m");
        await _h.RunAsync("mlmodel deploy name=m label='v 1'");
        _backend.ServerStates = [];
        (await StatusAsync(new ServingStatusCommand("m"))).Single().Should().Equal(1, "unknown (not reported by the server)", "v 1");
        _backend.ServerError = "TensorFlow Serving at http://127.0.0.1:1/ is not reachable: Connection refused (127.0.0.1:1)";
        (await StatusAsync(new ServingStatusCommand("m"))).Single().Should().Equal(1, _backend.ServerError, "v 1");
    }

    [Test]
    public async Task Serving_status_follows_mlmodel_s_user_rules()
    {
        await _h.ImportHalfPlusTwoAsync("m", EngineHarness.Bob);
        await _h.RunAsync("mlmodel deploy user=bob name=m");
        var act = () => StatusAsync(new ServingStatusCommand("m", User: "bob"), EngineHarness.Alice);
        (await act.Should().ThrowAsync<MlModelException>()).Which.Error.Should().BeEquivalentTo(new
        {
            Code = ErrorCodes.PermissionDenied,
            Message = "serving status: user 'alice' may not act on models of user 'bob'; only administrators can",
        });
        (await StatusAsync(new ServingStatusCommand("m", User: "bob"), EngineHarness.Root)).Single()[0].Should().Be(1, "administrators see anyone's");
        (await StatusAsync(new ServingStatusCommand("m"), EngineHarness.Bob)).Single()[0].Should().Be(1, "the owner sees their own");
        act = () => StatusAsync(new ServingStatusCommand("m"), EngineHarness.Alice);
        (await act.Should().ThrowAsync<MlModelException>()).Which.Error.Should().BeEquivalentTo(new
        {
            Code = ErrorCodes.NotFound,
            Message = "serving status: no model 'm' of user 'alice'",
        });
        act = () => StatusAsync(new ServingStatusCommand("a/b"));
        (await act.Should().ThrowAsync<MlModelException>()).Which.Error.Code.Should().Be(ErrorCodes.InvalidValue);
    }

    [Test]
    public async Task Serving_predict_adds_the_predictions_to_thousands_of_rows_in_their_order()
    {
        await _h.ImportHalfPlusTwoAsync();
        await _h.RunAsync("mlmodel deploy name=half_plus_two");
        var input = Enumerable.Range(1, 3_000).Select(i => new object?[] { i, (i * 0.25).ToString(CultureInfo.InvariantCulture) });

        var rows = await PredictAsync(new ServingPredictCommand("half_plus_two", Column: "features", Shape: [[1]]), Features(input));

        rows.Select(r => (int)r[0]!).Should().Equal(Enumerable.Range(1, 3_000));
        rows.Should().OnlyContain(r => (double)r[3]! == (float)((int)r[0]! * 0.25 / 2 + 2) && ((double[])r[2]!).SequenceEqual(new[] { (double)r[3]! }));
        _backend.Predictor.Batches.Should().HaveCount(30);
        _backend.Predictor.Batches.Should().OnlyContain(b => b.ServingName == "root_half_plus_two" && b.Version == 1, "the version the signature was read from, for every batch");
    }

    [Test]
    public async Task The_iris_tutorial_query_classifies_rows_and_interprets_them_with_the_tags()
    {
        // .. | serving predict user=demo name=model_name col=features shape=[(4,1)] tag=(virsicolor,setosa,virginica)
        var demo = new MlModelCaller("demo");
        await _h.ImportHalfPlusTwoAsync("iris", demo);
        await _h.RunAsync("mlmodel deploy name=iris", demo);
        var command = new ServingPredictCommand("iris", User: "demo", Column: "features", Shape: [[4, 1]], Tag: ["setosa", "versicolor", "virginica"]);

        var rows = await PredictAsync(command, Features([[1, "5.1,3.5,1.4,0.2"], [2, "[6.0,2.9,4.5,1.5]"], [3, "[[6.9],[3.1],[5.4],[2.1]]"]]), demo);

        rows.Select(r => r[4]).Should().Equal("setosa", "versicolor", "virginica");
        var expected = InProcessPredictor.IrisOf(6.0, 2.9, 4.5, 1.5);
        rows[1][2].Should().BeOfType<double[]>().Which.Should().Equal(expected);
        rows[1][3].Should().Be(expected.Max());
        _backend.Predictor.Batches.Single().Inputs.Single().RowShape.Should().Equal(4, 1);
    }

    [Test]
    public async Task A_host_s_DataTable_flows_through_predict_and_the_host_s_where_after_it()
    {
        await _h.ImportHalfPlusTwoAsync();
        await _h.RunAsync("mlmodel deploy name=half_plus_two");
        using var features = new DataTable();
        features.Columns.Add("id", typeof(int));
        features.Columns.Add("feature", typeof(double[]));
        for (var i = 0; i < 10; i++)
        {
            features.Rows.Add(i, new[] { (double)i });
        }

        await using var result = await _h.Engine.ExecuteAsync(new ServingPredictCommand("half_plus_two"), EngineHarness.Root, RowSource.FromReader(features.CreateDataReader()));
        using var predicted = new DataTable();
        await using (var reader = result.CreateReader())
        {
            predicted.Load(reader);
        }
        var view = new DataView(predicted) { RowFilter = "probability >= 5" };

        predicted.Columns.Cast<DataColumn>().Select(c => (c.ColumnName, c.DataType)).Should().Equal(
            ("id", typeof(int)), ("feature", typeof(object)), ("predictions", typeof(object)), ("probability", typeof(double)));
        // The host's arrays come back as they went in; each prediction is a numeric array.
        view.Cast<DataRowView>().Select(r => (r["id"], ((double[])r["feature"])[0], ((double[])r["predictions"]).Single()))
            .Should().Equal((6, 6.0, 5.0), (7, 7.0, 5.5), (8, 8.0, 6.0), (9, 9.0, 6.5));
        view.Cast<DataRowView>().Select(r => r["feature"]).Should().OnlyContain(f => features.Rows.Cast<DataRow>().Any(row => ReferenceEquals(row["feature"], f)));
    }

    [Test]
    public async Task A_row_that_cannot_be_predicted_fails_while_the_result_is_read_naming_its_row_and_column()
    {
        await _h.ImportHalfPlusTwoAsync();
        await _h.RunAsync("mlmodel deploy name=half_plus_two");
        var input = Enumerable.Range(1, 500).Select(i => new object?[] { i, i == 321 ? "1,x" : "1" });
        var act = () => PredictAsync(new ServingPredictCommand("half_plus_two", Column: "features"), Features(input));
        (await act.Should().ThrowAsync<MlModelException>()).Which.Error.Should().BeEquivalentTo(new
        {
            Code = ErrorCodes.InvalidValue,
            Message = "serving predict: row 321: column 'features' holds 'x' at item 2, which is not a number",
        });
    }

    [Test]
    public async Task Predict_needs_a_served_version_of_the_caller_s_own_model_and_the_input_column()
    {
        await _h.ImportHalfPlusTwoAsync("m");
        await _h.ImportHalfPlusTwoAsync("m");
        await _h.ImportHalfPlusTwoAsync("m", EngineHarness.Bob);

        async Task<MlModelError> Refused(ServingPredictCommand command, MlModelCaller? caller = null, RowSource? input = null)
        {
            var act = () => PredictAsync(command, input ?? Features([[1, "1"]]), caller);
            return (await act.Should().ThrowAsync<MlModelException>()).Which.Error;
        }

        (await Refused(new ServingPredictCommand("m", Column: "features"))).Should().BeEquivalentTo(new
        {
            Code = ErrorCodes.Conflict,
            Message = "serving predict: no version of 'm' is being served; deploy one first: mlmodel deploy name=m",
        });
        await _h.RunAsync("mlmodel deploy name=m version=1");
        (await Refused(new ServingPredictCommand("m", Column: "features", Version: 2))).Should().BeEquivalentTo(new
        {
            Code = ErrorCodes.Conflict,
            Message = "serving predict: version 2 of 'm' is not being served; deploy it first: mlmodel deploy name=m version=2",
        });
        (await Refused(new ServingPredictCommand("m", Column: "features", Version: 9))).Should().BeEquivalentTo(new
        {
            Code = ErrorCodes.NotFound,
            Message = "serving predict: no version 9 of model 'm' of user 'root'; its versions are 1, 2",
        });
        (await Refused(new ServingPredictCommand("nothing", Column: "features"))).Message.Should().Be("serving predict: no model 'nothing' of user 'root'");
        (await Refused(new ServingPredictCommand("m", User: "bob", Column: "features"), EngineHarness.Alice)).Should().BeEquivalentTo(new
        {
            Code = ErrorCodes.PermissionDenied,
            Message = "serving predict: user 'alice' may not act on models of user 'bob'; only administrators can",
        });
        (await Refused(new ServingPredictCommand("m", Column: "feature"))).Should().BeEquivalentTo(new
        {
            Code = ErrorCodes.InvalidValue,
            Message = "serving predict: the input has no column 'feature' (col=); its columns: id, features",
        });
        (await Refused(new ServingPredictCommand("m", Column: "features", Shape: [[0]]))).Code.Should().Be(ErrorCodes.InvalidValue);
        _backend.Predictor.Batches.Should().BeEmpty("nothing was sent for a refused command");

        await _h.Engine.Models.RegisterAsync(new ModelRegistration { Name = "rf", AnalysisTool = "spark" }, EngineHarness.Root);
        (await Refused(new ServingPredictCommand("rf", Column: "features"))).Code.Should().Be(ErrorCodes.Unsupported);
    }

    [Test]
    public async Task Predict_refuses_to_run_without_rows_and_other_commands_refuse_rows()
    {
        var act = () => _h.Engine.ExecuteAsync(new ServingPredictCommand("m"), EngineHarness.Root);
        (await act.Should().ThrowAsync<MlModelException>()).Which.Error.Should().BeEquivalentTo(new
        {
            Code = ErrorCodes.MissingParameter,
            Message = "serving predict: needs the rows of the stage before it (... | serving predict ...); give them as input: "
                + "MlModelEngine.ExecuteAsync(command, caller, RowSource, ...) or ExecuteQueryAsync(query, caller, RowSource, ...); in the CLI, --input FILE",
        });
        act = () => _h.Engine.ExecuteAsync(new ListCommand(), EngineHarness.Root, Features([]));
        (await act.Should().ThrowAsync<MlModelException>()).Which.Error.Should().BeEquivalentTo(new
        {
            Code = ErrorCodes.Unsupported,
            Message = "mlmodel list: takes no input rows: it begins a query (* | mlmodel list ...); run it without input",
        });
        var query = () => _h.Engine.ExecuteQueryAsync("* | mlmodel list | where name = 'a'", EngineHarness.Root, Features([]));
        (await query.Should().ThrowAsync<MlModelException>()).Which.Error.Code.Should().Be(ErrorCodes.Unsupported);
        act = () => _h.Engine.ExecuteAsync(new ServingStatusCommand("m"), EngineHarness.Root, Features([]));
        (await act.Should().ThrowAsync<MlModelException>()).Which.Message.Should().Be(
            "serving status: takes no input rows: it begins a query (* | serving status ...); run it without input");
    }

    [Test]
    public async Task A_serving_backend_that_cannot_predict_is_named()
    {
        // TensorFlowServingBackend predicts (over its REST address); a host's own backend may not.
        using var plain = new EngineHarness(o => o.Serving = new ConfigOnlyBackend(o.Serving!));
        await plain.ImportHalfPlusTwoAsync("m");
        await plain.RunAsync("mlmodel deploy name=m");
        var act = () => plain.Engine.ExecuteAsync(new ServingPredictCommand("m", Column: "features"), EngineHarness.Root, Features([]));
        (await act.Should().ThrowAsync<MlModelException>()).Which.Error.Should().BeEquivalentTo(new
        {
            Code = ErrorCodes.Backend,
            Message = "serving predict: the serving backend (TensorFlow Serving) cannot predict: it does not implement IServingPredictor",
        });
    }

    [Test]
    public async Task A_serving_backend_without_a_REST_address_says_what_predict_needs()
    {
        using var plain = new EngineHarness();
        await plain.ImportHalfPlusTwoAsync("m");
        await plain.RunAsync("mlmodel deploy name=m");
        var act = () => plain.Engine.ExecuteAsync(new ServingPredictCommand("m", Column: "features"), EngineHarness.Root, Features([]));
        (await act.Should().ThrowAsync<MlModelException>()).Which.Error.Should().BeEquivalentTo(new
        {
            Code = ErrorCodes.Unsupported,
            Message = "serving predict: no TensorFlow Serving REST address is configured (--serving-url, TensorFlowServingOptions.RestAddress); "
                + "the model's signature and predictions come from TensorFlow Serving's REST API",
            Command = "serving",
            Operation = "predict",
        });
    }

    [Test]
    public async Task Cancelling_the_command_stops_its_rows()
    {
        await _h.ImportHalfPlusTwoAsync();
        await _h.RunAsync("mlmodel deploy name=half_plus_two");
        using var cancel = new CancellationTokenSource();
        await using var result = await _h.Engine.ExecuteAsync(new ServingPredictCommand("half_plus_two", Column: "features"), EngineHarness.Root,
            Features(Enumerable.Range(1, 100_000).Select(i => new object?[] { i, "1" })), cancel.Token);
        var read = 0;
        var act = async () =>
        {
            await foreach (var _ in result.ReadAllAsync())
            {
                if (++read == 250)
                {
                    await cancel.CancelAsync();
                }
            }
        };
        await act.Should().ThrowAsync<OperationCanceledException>();
        read.Should().BeLessThan(1_000);
        _backend.Predictor.Batches.Count.Should().BeLessThan(15);
    }
}
