using System.Diagnostics;
using FluentAssertions;
using MlModel.Dsl.Serving.TensorFlow.Config;
using MlModel.Dsl.Serving.TensorFlow.Publishing;
using MlModel.Dsl.Serving.TensorFlow.Rest;
using NUnit.Framework;

namespace MlModel.Dsl.Serving.TensorFlow.Tests;

/// <summary>
/// Labels are free text (spec B.6): they go into version_labels exactly, escaped so that protobuf's
/// text parser reads them back, and reach the REST API as one URL-encoded path segment.
/// </summary>
public class LabelTests
{
    private static readonly HttpClient Http = new();

    // Labels IRIS users write, and ones that test every escape the two encodings have.
    private static readonly string[] Labels =
    [
        "stable",
        "CNN wineQ model",
        "stable version",
        "모델 v2",
        "it's \"v2\" \\ ok",
        "a/b:c?d#e%20f&g+h=i",
        "🚀 launch",
        "..",
        "next\u0085line\u2028end",
    ];

    [TestCase("CNN wineQ model", "'CNN wineQ model'")]
    [TestCase("모델 v2", "'모델 v2'")]
    [TestCase("it's \"v2\" \\ ok", "'it\\'s \"v2\" \\\\ ok'")]
    [TestCase("a/b:c?d#e%20f", "'a/b:c?d#e%20f'")]
    [TestCase("🚀", "'🚀'")]
    [TestCase("next\u0085line", "'next\\302\\205line'")]
    [TestCase("a\u2028b\u2029c", "'a\\342\\200\\250b\\342\\200\\251c'")]
    [TestCase("tab\there\nnew", "'tab\\there\\nnew'")]
    [TestCase("del\u007f", "'del\\177'")]
    public void A_label_is_written_escaped_as_the_text_format_reads_it(string label, string written)
    {
        var entry = ModelServerConfigDocument.Empty().AddModel("m", "/models/m", "tensorflow");
        entry.AddSpecificVersion(1);
        entry.SetLabel(label, 1);

        TextProtoWriter.Write(entry.Node).Should().Contain($"  key: {written}\n");
        new ModelConfigEntry(TextProtoParser.Parse(TextProtoWriter.Write(entry.Node))).Labels
            .Should().Equal(new Dictionary<string, long> { [label] = 1 });
    }

    [Test]
    public async Task Protoc_reads_every_label_back_exactly()
    {
        using var dir = new TempDir();
        var doc = ModelServerConfigDocument.Empty();
        var entry = doc.AddModel("root_모델", "/models/root_모델", "tensorflow");
        var expected = new Dictionary<string, long>(StringComparer.Ordinal);
        for (var i = 0; i < Labels.Length; i++)
        {
            entry.AddSpecificVersion(i + 1);
            entry.SetLabel(Labels[i], i + 1);
            expected[Labels[i]] = i + 1;
        }

        var config = dir.Combine("models.config");
        await File.WriteAllTextAsync(config, doc.ToText());

        // protobuf's own text parser (the one TensorFlow Serving reads its config with) encodes it,
        // and its printer shows what it read; that text, parsed, must hold the labels as they were.
        var binary = dir.Combine("models.bin");
        var (encode, encodeError) = await ProtocAsync($"--encode=tensorflow.serving.ModelServerConfig", config, binary);
        encode.Should().Be(0, encodeError);
        var decoded = dir.Combine("decoded.txt");
        var (decode, decodeError) = await ProtocAsync($"--decode=tensorflow.serving.ModelServerConfig", binary, decoded);
        decode.Should().Be(0, decodeError);

        var read = ModelServerConfigDocument.Parse(await File.ReadAllTextAsync(decoded));
        read.Find("root_모델")!.Labels.Should().Equal(expected);
        read.Find("root_모델")!.SpecificVersions.Should().Equal(Enumerable.Range(1, Labels.Length).Select(v => (long)v));
    }

    [Test]
    public async Task Protoc_refuses_what_the_writer_must_escape_so_the_check_can_fail()
    {
        // The round trip above means something only if protoc rejects a string the writer got wrong.
        using var dir = new TempDir();
        var config = dir.Combine("models.config");
        await File.WriteAllTextAsync(config, "model_config_list { config { name: 'm' version_labels { key: 'it's' value: 1 } } }\n");
        var (code, error) = await ProtocAsync("--encode=tensorflow.serving.ModelServerConfig", config, dir.Combine("out.bin"));
        code.Should().NotBe(0);
        error.Should().NotBeEmpty();
    }

    [TestCase("stable", "/v1/models/root_m/labels/stable/metadata")]
    [TestCase("CNN wineQ model", "/v1/models/root_m/labels/CNN%20wineQ%20model/metadata")]
    [TestCase("a/b:c?d#e%20f&g+h=i", "/v1/models/root_m/labels/a%2Fb%3Ac%3Fd%23e%2520f%26g%2Bh%3Di/metadata")]
    [TestCase("모델", "/v1/models/root_m/labels/%EB%AA%A8%EB%8D%B8/metadata")]
    [TestCase("..", "/v1/models/root_m/labels/%2E%2E/metadata")]
    [TestCase(".", "/v1/models/root_m/labels/%2E/metadata")]
    [TestCase("v1.0", "/v1/models/root_m/labels/v1.0/metadata")]
    public void A_label_is_one_url_encoded_path_segment(string label, string path)
    {
        var client = new TensorFlowServingRestClient(Http, new Uri("http://127.0.0.1:8501/"));
        var uri = client.Route("root_m", "labels", label, "metadata");
        uri.PathAndQuery.Should().Be(path);
        uri.AbsoluteUri.Should().Be("http://127.0.0.1:8501" + path);
    }

    [Test]
    public async Task The_server_decodes_each_label_to_the_one_in_the_config()
    {
        using var dir = new TempDir();
        var config = new ModelConfigFile(dir.Combine("models.config"), TimeSpan.FromSeconds(5));
        var publisher = new VersionPublisher(dir.Combine("serving"));
        await publisher.PublishAsync("m", 1, ServingFile.FromDirectory(Fixtures.HalfPlusTwo));
        await using var server = new FakeTensorFlowServing(config.Path);
        await config.UpdateAsync(doc => doc.AddModel("m", publisher.GetModelBasePath("m"), "tensorflow").AddSpecificVersion(1));
        var client = new TensorFlowServingRestClient(Http, server.Address);
        await client.WaitForAvailableAsync("m", 1, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(10));

        foreach (var label in Labels)
        {
            await config.UpdateAsync(doc => doc.Find("m")!.SetLabel(label, 1));
            (await client.WaitForLabelAsync("m", label, 1, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(10)))
                .Should().BeTrue(label);
        }

        server.RequestedLabels.Distinct().Should().BeEquivalentTo(Labels, "the server saw every label as it is in the config");
        server.LabelsOf("m").Keys.Should().BeEquivalentTo(Labels);

        // Unencoded, a '/' would be two path segments: the server does not know that route.
        var raw = await Http.GetAsync(new Uri(server.Address, "v1/models/m/labels/a/b/metadata"));
        ((int)raw.StatusCode).Should().Be(400);
        (await raw.Content.ReadAsStringAsync()).Should().Contain("Malformed request");
    }

    [Test]
    public async Task Free_text_labels_deploy_in_two_phases_and_move_between_versions()
    {
        using var dir = new TempDir();
        var configPath = dir.Combine("models.config");
        await using var server = new FakeTensorFlowServing(configPath);
        using var tfs = new TensorFlowServing(new TensorFlowServingOptions
        {
            ServingRoot = dir.Combine("serving"),
            ConfigFile = configPath,
            RestAddress = server.Address,
            AvailableTimeout = TimeSpan.FromSeconds(10),
            PollInterval = TimeSpan.FromMilliseconds(20),
            LockTimeout = TimeSpan.FromSeconds(10),
        });
        var files = ServingFile.FromDirectory(Fixtures.HalfPlusTwo);

        await tfs.DeployAsync("root_model_cnn_wine_quality_0422", 1, "CNN wineQ model", files);
        await tfs.DeployAsync("root_model_cnn_wine_quality_0422", 2, "it's \"v2\" \\ a/b", files);
        await tfs.DeployAsync("root_model_cnn_wine_quality_0422", 2, "CNN wineQ model", files);

        var expected = new Dictionary<string, long> { ["CNN wineQ model"] = 2, ["it's \"v2\" \\ a/b"] = 2 };
        ModelServerConfigDocument.Parse(await File.ReadAllTextAsync(configPath)).Find("root_model_cnn_wine_quality_0422")!.Labels
            .Should().Equal(expected);
        server.LabelsOf("root_model_cnn_wine_quality_0422").Should().Equal(expected);
        server.RejectedConfigs.Should().BeEmpty("each label was set only once its version was AVAILABLE");
        (await tfs.GetStatusAsync("root_model_cnn_wine_quality_0422")).Config!.Labels.Should().Equal(expected);
    }

    [Test]
    public async Task A_label_that_is_not_unicode_text_is_refused_before_anything_is_written()
    {
        // Built at run time: a lone surrogate in an attribute argument becomes U+FFFD at compile time.
        var label = "a" + (char)0xD800 + "b";
        using var dir = new TempDir();
        using var tfs = new TensorFlowServing(new TensorFlowServingOptions { ServingRoot = dir.Combine("serving"), ConfigFile = dir.Combine("models.config") });

        var act = () => tfs.DeployAsync("m", 1, label, ServingFile.FromDirectory(Fixtures.HalfPlusTwo));

        var error = (await act.Should().ThrowAsync<TensorFlowServingException>()).Which;
        error.Kind.Should().Be(TensorFlowServingErrorKind.InvalidArgument);
        error.Message.Should().Contain("lone surrogate");
        File.Exists(dir.Combine("models.config")).Should().BeFalse();
        Directory.Exists(dir.Combine("serving")).Should().BeFalse();
    }

    private static async Task<(int Code, string Error)> ProtocAsync(string mode, string input, string output)
    {
        var info = new ProcessStartInfo("protoc", [mode, "--proto_path", Path.Combine(AppContext.BaseDirectory, "Protos"), "model_server_config_subset.proto"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(info) ?? throw new InvalidOperationException("protoc did not start (scripts/services.sh installs protobuf-compiler)");
        var copyIn = Task.Run(async () =>
        {
            await using (var stdin = process.StandardInput.BaseStream)
            {
                await using var file = File.OpenRead(input);
                await file.CopyToAsync(stdin);
            }
        });
        var copyOut = Task.Run(async () =>
        {
            await using var file = File.Create(output);
            await process.StandardOutput.BaseStream.CopyToAsync(file);
        });
        var error = process.StandardError.ReadToEndAsync();
        await Task.WhenAll(copyIn, copyOut);
        await process.WaitForExitAsync();
        return (process.ExitCode, await error);
    }
}
