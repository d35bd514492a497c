using System.Net;
using System.Text;
using System.Text.Json;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Serving.TensorFlow.Rest;

namespace MlModel.Dsl.Serving.TensorFlow.Tests;

/// <summary>
/// TensorFlow Serving's own REST handler test (model_servers/http_rest_api_handler_test.cc), as
/// data in tests/fixtures/tensorflow-serving-rest: every request it makes is replayed against the
/// fake, which must answer what the test asserts, and every answer it asserts is read by the
/// client's readers, which must find in it what the real server meant.
/// </summary>
[NonParallelizable]
public sealed class RestHandlerFixtureTests
{
    private static readonly HttpClient Http = new();
    private ServedModels _served = null!;

    private static JsonElement CaseFile { get; } =
        JsonDocument.Parse(File.ReadAllText(Path.Combine(Fixtures.Rest, "http_rest_api_handler_test.json"))).RootElement;

    private static string ModelName => CaseFile.GetProperty("server").GetProperty("model_name").GetString()!;

    public static IEnumerable<TestCaseData> Cases() =>
        CaseFile.GetProperty("cases").EnumerateArray().Select((c, i) =>
            new TestCaseData(c).SetArgDisplayNames($"{i + 1:00} {c.GetProperty("test").GetString()} {c.GetProperty("method").GetString()} {c.GetProperty("path").GetString()}"));

    /// <summary>The C++ test's server: half_plus_two as version 123, labelled Version_Label.</summary>
    [OneTimeSetUp]
    public async Task StartAsync()
    {
        var server = CaseFile.GetProperty("server");
        var version = server.GetProperty("version").GetInt64();
        _served = await ServedModels.StartAsync(new ServedVersion(ModelName, version));
        await _served.LabelAsync(ModelName, server.GetProperty("label").GetString()!, version);
    }

    [OneTimeTearDown]
    public async Task StopAsync() => await _served.DisposeAsync();

    [TestCaseSource(nameof(Cases))]
    public async Task The_fake_answers_each_request_of_the_handler_test_as_the_test_asserts(JsonElement testCase)
    {
        using var request = new HttpRequestMessage(new HttpMethod(testCase.GetProperty("method").GetString()!), new Uri(_served.Server.Address, testCase.GetProperty("path").GetString()));
        var body = testCase.GetProperty("body").GetString()!;
        if (request.Method == HttpMethod.Post)
        {
            request.Content = new StringContent(body, Encoding.UTF8);
        }

        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();

        response.Content.Headers.ContentType!.MediaType.Should().Be("application/json");
        var code = testCase.GetProperty("code").GetString();
        ((int)response.StatusCode).Should().Be(HttpStatusOf(code!), text);
        if (code == "OK")
        {
            var expected = testCase.TryGetProperty("output_file", out var file)
                ? File.ReadAllText(Path.Combine(Fixtures.Rest, file.GetString()!))
                : testCase.GetProperty("output").GetString()!;
            using var actual = JsonDocument.Parse(text);
            using var wanted = JsonDocument.Parse(expected);
            // CompareJson: rapidjson's operator==, members in any order, numbers by value.
            JsonElement.DeepEquals(actual.RootElement, wanted.RootElement).Should().BeTrue($"the fake answered {text}, the test expects {expected}");
        }
        else
        {
            // An empty message_contains: the C++ test checks the status code alone.
            var error = TensorFlowServingRestClient.ParseError(text);
            error.Should().NotBeNullOrEmpty();
            if (testCase.GetProperty("message_contains").GetString() is { Length: > 0 } part)
            {
                error.Should().Contain(part);
            }

            text.Should().StartWith("{\n    \"error\": ", "rapidjson's PrettyWriter writes the error object");
        }
    }

    /// <summary>http_server.cc ToHTTPStatusCode, for the codes the test asserts.</summary>
    private static int HttpStatusOf(string code) => code switch
    {
        "OK" => 200,
        "INVALID_ARGUMENT" => 400,
        "NOT_FOUND" => 404,
        _ => throw new ArgumentOutOfRangeException(nameof(code), code, "not asserted by the handler test"),
    };

    [Test]
    public void The_client_reads_every_predict_answer_of_the_handler_test_as_half_plus_two_of_its_request()
    {
        var predictions = CaseFile.GetProperty("cases").EnumerateArray()
            .Where(c => c.GetProperty("test").GetString() == "Predict")
            .ToList();
        predictions.Should().HaveCount(5);

        foreach (var c in predictions)
        {
            using var request = JsonDocument.Parse(c.GetProperty("body").GetString()!);
            var sent = request.RootElement.TryGetProperty("instances", out var instances) ? instances : request.RootElement.GetProperty("inputs");
            var rows = sent.GetArrayLength();
            var x = sent.EnumerateArray().SelectMany(r => r.ValueKind == JsonValueKind.Array ? r.EnumerateArray() : new[] { r }.AsEnumerable()).Select(v => v.GetDouble());

            var y = PredictResponseReader.Read(Encoding.UTF8.GetBytes(c.GetProperty("output").GetString()!), rows).Single();

            y.Name.Should().BeNull();
            y.RowShape.Should().Equal(sent[0].ValueKind == JsonValueKind.Array ? [sent[0].GetArrayLength()] : Array.Empty<int>());
            y.Values.ToArray().Should().Equal(x.Select(v => (0.5 * v) + 2), c.GetProperty("body").GetString());
        }
    }

    [Test]
    public void The_client_reads_the_metadata_answer_of_the_handler_test()
    {
        var (version, signatures) = ModelMetadataReader.Read(File.ReadAllText(Path.Combine(Fixtures.Rest, "saved_model_half_plus_two_2_versions_metadata.json")));

        version.Should().Be(123);
        signatures.Select(s => s.Name).Should().Equal("classify_x2_to_y3", "classify_x_to_y", "regress_x2_to_y3", "regress_x_to_y", "regress_x_to_y2", "serving_default");
        signatures[^1].Should().BeEquivalentTo(new ModelSignature("serving_default", "tensorflow/serving/predict",
            [new TensorSpec("x", "x:0", "DT_FLOAT", [-1, 1])], [new TensorSpec("y", "y:0", "DT_FLOAT", [-1, 1])]));
        signatures[1].Inputs.Should().BeEquivalentTo([new TensorSpec("inputs", "tf_example:0", "DT_STRING", null)]);
    }

    [Test]
    public void The_client_reads_the_status_answer_of_the_handler_test()
    {
        var body = CaseFile.GetProperty("cases").EnumerateArray().First(c => c.GetProperty("test").GetString() == "GetStatus").GetProperty("output").GetString()!;

        TensorFlowServingRestClient.ParseStatus(body).Should().Equal(new ServedVersionStatus(123, ModelVersionState.Available, "OK", string.Empty));
    }

    [Test]
    public async Task The_backend_predicts_the_handler_tests_first_batch_and_reads_its_signature()
    {
        var signature = await _served.Backend.GetSignatureAsync(ModelName, null);
        var y = (await _served.Backend.PredictAsync(new PredictBatch(ModelName, signature.Version, 2,
            [new PredictInput(null, "DT_FLOAT", [2], new double[] { 1.0, 2.0, 3.0, 4.0 })]))).Single();

        signature.Version.Should().Be(123);
        signature.Signature.Inputs.Should().BeEquivalentTo([new TensorSpec("x", "x:0", "DT_FLOAT", [-1, 1])]);
        y.RowShape.Should().Equal(2);
        y.Values.ToArray().Should().Equal(2.5, 3.0, 3.5, 4.0);
    }
}
