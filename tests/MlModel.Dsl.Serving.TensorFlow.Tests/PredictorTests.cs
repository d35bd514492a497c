using System.Net;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Serving.TensorFlow.Rest;

namespace MlModel.Dsl.Serving.TensorFlow.Tests;

/// <summary>
/// <see cref="TensorFlowServingBackend"/> as an <see cref="IServingPredictor"/>, against the fake
/// TensorFlow Serving: signatures from the metadata API, batches through :predict, the server's
/// errors passed on, cancellation, and many batches in flight on one backend.
/// </summary>
public sealed class PredictorTests
{
    private static readonly TensorSpec X = new("x", "x:0", "DT_FLOAT", [-1, 1]);
    private static readonly TensorSpec Y = new("y", "y:0", "DT_FLOAT", [-1, 1]);

    private static PredictBatch Batch(string servingName, int? version, int[] rowShape, params double[] values) =>
        new(servingName, version, values.Length / Math.Max(1, rowShape.Aggregate(1, (a, b) => a * b)), [new PredictInput(null, "DT_FLOAT", rowShape, values)]);

    [Test]
    public async Task The_signature_of_half_plus_two_is_its_serving_default_from_the_metadata_api()
    {
        await using var served = await ServedModels.StartAsync(new ServedVersion("root_hp2", 1));

        var signature = await served.Backend.GetSignatureAsync("root_hp2", null);

        signature.Version.Should().Be(1);
        signature.Signature.Should().BeEquivalentTo(new ModelSignature("serving_default", "tensorflow/serving/predict", [X], [Y]));
        served.Server.Requests.Select(r => $"{r.Method} {r.Target}").Should().Equal(
            "GET /v1/models/root_hp2",
            "GET /v1/models/root_hp2/versions/1/metadata");
    }

    [Test]
    public async Task Without_a_version_the_signature_is_that_of_the_latest_available_version()
    {
        await using var served = await ServedModels.StartAsync(
            new ServedVersion("root_m", 1),
            new ServedVersion("root_m", 2, FakeModel.SoftmaxClassifier()),
            new ServedVersion("root_m", 3, Loads: false));

        var signature = await served.Backend.GetSignatureAsync("root_m", null);

        signature.Version.Should().Be(2, "version 3 is still LOADING");
        signature.Signature.Inputs.Should().BeEquivalentTo([new TensorSpec("features", "serving_default_features:0", "DT_FLOAT", [-1, 4])]);
        signature.Signature.Outputs.Should().BeEquivalentTo([new TensorSpec("probabilities", "StatefulPartitionedCall:0", "DT_FLOAT", [-1, 3])]);

        var first = await served.Backend.GetSignatureAsync("root_m", 1);
        first.Should().BeEquivalentTo(new ServingSignature(1, new ModelSignature("serving_default", "tensorflow/serving/predict", [X], [Y])));
    }

    [Test]
    public async Task A_model_the_server_does_not_know_has_no_signature_and_the_servers_text_says_why()
    {
        await using var served = await ServedModels.StartAsync(new ServedVersion("root_hp2", 1));

        var act = () => served.Backend.GetSignatureAsync("root_ghost", null);

        var error = (await act.Should().ThrowAsync<MlModelException>()).Which;
        error.Code.Should().Be(ErrorCodes.NotFound);
        error.Message.Should().Be("TensorFlow Serving serves no version of root_ghost (HTTP 404): Could not find any versions of model root_ghost");
        error.InnerException.Should().BeOfType<HttpRequestException>().Which.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Test]
    public async Task A_model_whose_only_version_is_loading_has_no_signature_yet()
    {
        await using var served = await ServedModels.StartAsync(new ServedVersion("root_m", 1, Loads: false));

        var act = () => served.Backend.GetSignatureAsync("root_m", null);

        var error = (await act.Should().ThrowAsync<MlModelException>()).Which;
        error.Code.Should().Be(ErrorCodes.NotFound);
        error.Message.Should().Be("TensorFlow Serving has no AVAILABLE version of root_m; its versions: 1 LOADING");
    }

    [Test]
    public async Task An_unknown_version_has_no_signature_and_the_servers_text_is_passed_on()
    {
        await using var served = await ServedModels.StartAsync(new ServedVersion("root_hp2", 1));

        var act = () => served.Backend.GetSignatureAsync("root_hp2", 7);

        var error = (await act.Should().ThrowAsync<MlModelException>()).Which;
        error.Code.Should().Be(ErrorCodes.NotFound);
        error.Message.Should().Be("TensorFlow Serving gave no signature for version 7 of root_hp2 (HTTP 404 Not Found): Servable not found for request: Specific(root_hp2, 7)");
        error.InnerException.Should().BeOfType<HttpRequestException>().Which.StatusCode.Should().Be(HttpStatusCode.NotFound);
    }

    [Test]
    public async Task Half_plus_two_predicts_every_row_of_a_batch_exactly()
    {
        await using var served = await ServedModels.StartAsync(new ServedVersion("root_hp2", 1));

        var outputs = await served.Backend.PredictAsync(Batch("root_hp2", 1, [1], -3, 0, 0.5, 1, 1e6, 0.1));

        var y = outputs.Should().ContainSingle().Which;
        y.Name.Should().BeNull("one output: the server leaves its name out");
        y.RowShape.Should().Equal(1);
        // 0.1 goes as the float 0.1f; 0.5 * 0.1f + 2 in float32 comes back as its shortest text, 2.05.
        y.Values.ToArray().Should().Equal(0.5, 2, 2.25, 2.5, 500002, 2.05);
        var request = served.Server.Requests.Should().ContainSingle().Which;
        request.Target.Should().Be("/v1/models/root_hp2/versions/1:predict");
        request.BodyText.Should().Be("""{"instances":[[-3],[0],[0.5],[1],[1000000],[0.1]]}""");
    }

    [Test]
    public async Task Rows_of_no_dimension_are_sent_and_read_as_plain_numbers()
    {
        await using var served = await ServedModels.StartAsync(new ServedVersion("root_hp2", 1));

        var y = (await served.Backend.PredictAsync(Batch("root_hp2", 1, [], 1, 2))).Single();

        y.RowShape.Should().BeEmpty();
        y.Values.ToArray().Should().Equal(2.5, 3);
        served.Server.Requests.Single().BodyText.Should().Be("""{"instances":[1,2]}""");
    }

    [Test]
    public async Task Rows_of_several_dimensions_go_nested_and_come_back_with_their_shape()
    {
        await using var served = await ServedModels.StartAsync(new ServedVersion("root_hp2", 1));

        var y = (await served.Backend.PredictAsync(Batch("root_hp2", 1, [2, 2], 1, 2, 3, 4, 5, 6, 7, 8))).Single();

        y.RowShape.Should().Equal(2, 2);
        y.Values.ToArray().Should().Equal(2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6);
        served.Server.Requests.Single().BodyText.Should().Be("""{"instances":[[[1,2],[3,4]],[[5,6],[7,8]]]}""");
    }

    [Test]
    public async Task The_softmax_classifier_gives_probabilities_that_sum_to_one_with_the_voted_class_first()
    {
        await using var served = await ServedModels.StartAsync(new ServedVersion("root_iris", 1, FakeModel.SoftmaxClassifier()));

        var p = (await served.Backend.PredictAsync(Batch("root_iris", 1, [4], 5, 0, 0, 0, 0, 5, 0, 0, 0, 0, 5, 0, 1, 1, 1, 1))).Single();

        p.Name.Should().BeNull();
        p.RowShape.Should().Equal(3);
        var values = p.Values.ToArray();
        for (var row = 0; row < 4; row++)
        {
            var probabilities = values.AsSpan(row * 3, 3).ToArray();
            probabilities.Sum().Should().BeApproximately(1, 1e-6, $"row {row + 1} is a distribution");
            probabilities.Should().OnlyContain(v => v > 0 && v < 1);
            if (row < 3)
            {
                Array.IndexOf(probabilities, probabilities.Max()).Should().Be(row, "feature i votes for class i");
            }
        }
    }

    [Test]
    public async Task Several_named_outputs_come_back_as_one_output_each_by_name()
    {
        await using var served = await ServedModels.StartAsync(new ServedVersion("root_iris", 1, FakeModel.SoftmaxClassifier(withClassIds: true)));

        var outputs = await served.Backend.PredictAsync(Batch("root_iris", 1, [4], 0, 0, 5, 0, 5, 0, 0, 0));

        outputs.Select(o => o.Name).Should().Equal("classes", "probabilities");
        outputs[0].RowShape.Should().BeEmpty();
        outputs[0].Values.ToArray().Should().Equal(2, 0);
        outputs[1].RowShape.Should().Equal(3);
        outputs[1].Values.Length.Should().Be(6);
    }

    [Test]
    public async Task A_named_input_goes_as_objects_of_the_layer_name_and_an_unknown_name_is_the_servers_error()
    {
        await using var served = await ServedModels.StartAsync(new ServedVersion("root_iris", 1, FakeModel.SoftmaxClassifier()));

        var named = new PredictBatch("root_iris", 1, 2, [new PredictInput("features", "DT_FLOAT", [4], new double[] { 5, 0, 0, 0, 0, 5, 0, 0 })]);
        var p = (await served.Backend.PredictAsync(named)).Single();
        p.RowShape.Should().Equal(3);
        served.Server.Requests.Single().BodyText.Should().Be("""{"instances":[{"features":[5,0,0,0]},{"features":[0,5,0,0]}]}""");

        var act = () => served.Backend.PredictAsync(named with { Inputs = [named.Inputs[0] with { Name = "nope" }] });

        var error = (await act.Should().ThrowAsync<MlModelException>()).Which;
        error.Code.Should().Be(ErrorCodes.Backend);
        error.Message.Should().Be("TensorFlow Serving answered a batch of 2 rows for version 1 of root_iris with HTTP 400 Bad Request: "
            + "Failed to process element: 0 key: nope of 'instances' list. Error: INVALID_ARGUMENT: JSON object: does not have named input: nope");
        error.InnerException.Should().BeOfType<HttpRequestException>().Which.StatusCode.Should().Be(HttpStatusCode.BadRequest);
    }

    [Test]
    public async Task The_version_goes_into_the_path_and_without_one_the_server_takes_its_latest()
    {
        await using var served = await ServedModels.StartAsync(
            new ServedVersion("root_m", 1),
            new ServedVersion("root_m", 2, FakeModel.SoftmaxClassifier(features: 1, classes: 2)));

        var first = (await served.Backend.PredictAsync(Batch("root_m", 1, [1], 4))).Single();
        var latest = (await served.Backend.PredictAsync(Batch("root_m", null, [1], 4))).Single();

        first.Values.ToArray().Should().Equal(4.0);
        latest.RowShape.Should().Equal([2], "version 2, the softmax classifier, answered");
        served.Server.Requests.Select(r => r.Target).Should().Equal("/v1/models/root_m/versions/1:predict", "/v1/models/root_m:predict");
    }

    [Test]
    public async Task An_unknown_version_or_model_is_the_servers_text_with_its_http_status()
    {
        await using var served = await ServedModels.StartAsync(new ServedVersion("root_hp2", 1));

        var version = () => served.Backend.PredictAsync(Batch("root_hp2", 9, [1], 1));
        var model = () => served.Backend.PredictAsync(Batch("root_ghost", null, [1], 1, 2));

        var versionError = (await version.Should().ThrowAsync<MlModelException>()).Which;
        versionError.Code.Should().Be(ErrorCodes.Backend);
        versionError.Message.Should().Be("TensorFlow Serving answered a batch of 1 row for version 9 of root_hp2 with HTTP 404 Not Found: Servable not found for request: Specific(root_hp2, 9)");
        versionError.InnerException.Should().BeOfType<HttpRequestException>().Which.StatusCode.Should().Be(HttpStatusCode.NotFound);
        var modelError = (await model.Should().ThrowAsync<MlModelException>()).Which;
        modelError.Message.Should().Be("TensorFlow Serving answered a batch of 2 rows for root_ghost with HTTP 404 Not Found: Servable not found for request: Latest(root_ghost)");
    }

    [Test]
    public async Task Rows_the_model_cannot_take_are_refused_by_the_server_in_its_words()
    {
        await using var served = await ServedModels.StartAsync(new ServedVersion("root_iris", 1, FakeModel.SoftmaxClassifier()));

        var act = () => served.Backend.PredictAsync(Batch("root_iris", 1, [3], 1, 2, 3, 4, 5, 6));

        (await act.Should().ThrowAsync<MlModelException>()).Which.Message.Should().Be(
            "TensorFlow Serving answered a batch of 2 rows for version 1 of root_iris with HTTP 400 Bad Request: Matrix size-incompatible: In[0]: [2,3], In[1]: [4,3]");
    }

    [Test]
    public async Task NaN_and_infinities_travel_as_TensorFlow_Servings_special_tokens()
    {
        await using var served = await ServedModels.StartAsync(new ServedVersion("root_hp2", 1));

        var y = (await served.Backend.PredictAsync(Batch("root_hp2", 1, [], double.NaN, double.PositiveInfinity, double.NegativeInfinity, 1))).Single();

        y.Values.ToArray().Should().Equal(double.NaN, double.PositiveInfinity, double.NegativeInfinity, 2.5);
        served.Server.Requests.Single().BodyText.Should().Be("""{"instances":[NaN,Infinity,-Infinity,1]}""");
    }

    [Test]
    public async Task Cancelling_a_batch_in_flight_stops_it_and_the_backend_predicts_on()
    {
        await using var served = await ServedModels.StartAsync(new ServedVersion("root_hp2", 1));
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        served.Server.PredictGate = gate.Task;
        using var cancel = new CancellationTokenSource();

        var inFlight = served.Backend.PredictAsync(Batch("root_hp2", 1, [1], 1, 2), cancel.Token);
        await served.Server.PredictArrived.Task;
        await cancel.CancelAsync();

        await FluentActions.Awaiting(() => inFlight).Should().ThrowAsync<OperationCanceledException>();
        served.Server.PredictGate = null;
        gate.SetResult();
        var after = (await served.Backend.PredictAsync(Batch("root_hp2", 1, [1], 6))).Single();
        after.Values.ToArray().Should().Equal(5.0);
    }

    [Test]
    public async Task Many_batches_in_flight_on_one_backend_each_get_their_own_rows_back_in_order_over_few_connections()
    {
        await using var served = await ServedModels.StartAsync(new ServedVersion("root_hp2", 1));
        served.Server.RecordRequests = false;
        var connectionsBefore = served.Server.AcceptedConnections; // the set-up's own client

        async Task<(int Batch, double[] X, PredictOutput Y)> RunAsync(int batch)
        {
            var rows = 1 + (batch * 7 % 50);
            var x = Enumerable.Range(0, rows).Select(r => (batch * 1000.0) + r + 0.25).ToArray();
            var y = (await served.Backend.PredictAsync(Batch("root_hp2", 1, [1], x))).Single();
            return (batch, x, y);
        }

        for (var round = 0; round < 2; round++)
        {
            var results = await Task.WhenAll(Enumerable.Range(0, 48).Select(b => Task.Run(() => RunAsync(b))));

            foreach (var (batch, x, y) in results)
            {
                y.Values.ToArray().Should().Equal(x.Select(v => (double)((0.5f * (float)v) + 2f)), $"batch {batch} gets its own rows back, in order");
            }
        }

        (served.Server.AcceptedConnections - connectionsBefore).Should().BeLessThanOrEqualTo(RestHttpClient.MaxConnectionsPerServer, "96 batches reuse the backend's pooled connections");
    }

    [Test]
    public async Task Without_a_REST_address_signature_and_predict_say_what_is_missing()
    {
        using var dir = new TempDir();
        using var backend = new TensorFlowServingBackend(new TensorFlowServingOptions { ServingRoot = dir.Combine("serving"), ConfigFile = dir.Combine("models.config") });
        const string message = "no TensorFlow Serving REST address is configured (--serving-url, TensorFlowServingOptions.RestAddress); "
            + "the model's signature and predictions come from TensorFlow Serving's REST API";

        var signature = () => backend.GetSignatureAsync("root_hp2", null);
        var predict = () => backend.PredictAsync(Batch("root_hp2", null, [1], 1));

        var signatureError = (await signature.Should().ThrowAsync<MlModelException>()).Which;
        signatureError.Code.Should().Be(ErrorCodes.Unsupported);
        signatureError.Message.Should().Be(message);
        (await predict.Should().ThrowAsync<MlModelException>()).Which.Should().BeEquivalentTo(new { Code = ErrorCodes.Unsupported, Message = message });
    }

    [Test]
    public async Task An_unreachable_server_is_a_backend_error_naming_its_address()
    {
        using var dir = new TempDir();
        using var backend = new TensorFlowServingBackend(new TensorFlowServingOptions
        {
            ServingRoot = dir.Combine("serving"),
            ConfigFile = dir.Combine("models.config"),
            RestAddress = new Uri("http://127.0.0.1:1/"),
        });

        var act = () => backend.PredictAsync(Batch("root_hp2", 1, [1], 1));

        var error = (await act.Should().ThrowAsync<MlModelException>()).Which;
        error.Code.Should().Be(ErrorCodes.Backend);
        error.Message.Should().StartWith("TensorFlow Serving at http://127.0.0.1:1/ is not reachable: ");
    }
}
