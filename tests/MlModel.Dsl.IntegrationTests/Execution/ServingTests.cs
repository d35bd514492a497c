using MlModel.Dsl.IntegrationTests.Support;

namespace MlModel.Dsl.IntegrationTests.Execution;

/// <summary>deploy, stop and status through the engine, on TensorFlow Serving's real files (spec Part A, B.3, B.6).</summary>
public class ServingTests
{
    private EngineHarness _h = null!;

    [SetUp]
    public void SetUp() => _h = new EngineHarness();

    [TearDown]
    public void TearDown() => _h.Dispose();

    [Test]
    public async Task The_spec_s_redeploy_example_moves_the_label_to_the_new_version()
    {
        await _h.ImportHalfPlusTwoAsync("mnist_v1");
        var first = await _h.RunAsync("mlmodel deploy name=mnist_v1 label='unstable'");
        first.Fields.Select(f => f.Name).Should().Equal("result", "latest_version", "serving_name");
        first.Single().Should().Equal("on", 1, "root_mnist_v1");

        await _h.ImportHalfPlusTwoAsync("mnist_v1");
        (await _h.RunAsync("mlmodel deploy name=mnist_v1 label='stable'")).Single().Should().Equal("on", 2, "root_mnist_v1");

        var config = await File.ReadAllTextAsync(_h.ConfigFile);
        config.Should().Contain("name: 'root_mnist_v1'");
        config.Should().Contain($"base_path: '{Path.Combine(_h.ServingRoot, "root_mnist_v1")}'");
        config.Should().Contain("versions: 1");
        config.Should().Contain("versions: 2");
        File.Exists(Path.Combine(_h.ServingRoot, "root_mnist_v1", "2", "saved_model.pb")).Should().BeTrue();

        var list = await _h.RunAsync("mlmodel list name=mnist_v1");
        list.Select(r => r[10]).Should().Equal("on", "on");
        var status = await _h.RunAsync("mlmodel status name=mnist_v1");
        status.Select(r => (r[0], r[2], r[7])).Should().Equal((1, "unstable", "yes"), (2, "stable", "yes"));
    }

    [Test]
    public async Task A_free_text_label_is_deployed_as_it_is_and_shown_by_status_and_list()
    {
        // IRIS's tutorial: * | mlmodel deploy name=model_cnn_wine_quality_0422  label='CNN wineQ model'
        await _h.ImportHalfPlusTwoAsync("model_cnn_wine_quality_0422");
        var (stage, deploy) = await _h.Engine.ExecuteQueryAsync("* | mlmodel deploy name=model_cnn_wine_quality_0422  label='CNN wineQ model'", EngineHarness.Root);
        using (deploy)
        {
            stage.Before.Should().Be("*");
            deploy.Single().Should().Equal("on", 1, "root_model_cnn_wine_quality_0422");
        }

        (await File.ReadAllTextAsync(_h.ConfigFile)).Should().Contain("key: 'CNN wineQ model'\n      value: 1\n");
        (await _h.RunAsync("mlmodel status name=model_cnn_wine_quality_0422")).Single()
            .Should().Equal(1, "on", "CNN wineQ model", "listed", "CNN wineQ model", "-", null, "yes");
        (await _h.RunAsync("mlmodel list name=model_cnn_wine_quality_0422")).Single()[9].Should().Be("y",
            "list's label is the model's output (here the serving signature's output key), not the deployment's label");

        // A quote, a backslash, a comma and Korean: written escaped, read back, shown as they are.
        await _h.ImportHalfPlusTwoAsync("model_cnn_wine_quality_0422");
        await _h.RunAsync("mlmodel deploy name=model_cnn_wine_quality_0422 version=2 label=base64(" + Convert.ToBase64String("it's \"모델\", v2 \\ ok"u8) + ")");
        (await File.ReadAllTextAsync(_h.ConfigFile)).Should().Contain("key: 'it\\'s \"모델\", v2 \\\\ ok'");
        (await _h.RunAsync("mlmodel status name=model_cnn_wine_quality_0422")).Select(r => (r[0], r[2], r[4], r[7])).Should().Equal(
            (1, "CNN wineQ model", "CNN wineQ model", "yes"),
            (2, "it's \"모델\", v2 \\ ok", "it's \"모델\", v2 \\ ok", "yes"));
        (await _h.RunAsync("mlmodel check name=model_cnn_wine_quality_0422")).Should().BeEmpty("registry and config agree on both labels");
    }

    [Test]
    public async Task Stop_without_a_version_stops_the_latest_deployed_one_and_answers_off()
    {
        await _h.ImportHalfPlusTwoAsync("m");
        await _h.ImportHalfPlusTwoAsync("m");
        await _h.ImportHalfPlusTwoAsync("m");
        await _h.RunAsync("mlmodel deploy name=m version=1");
        await _h.RunAsync("mlmodel deploy name=m version=2 label=stable");
        var stop = await _h.RunAsync("mlmodel stop name=m");
        stop.Fields.Select(f => f.Name).Should().Equal("result");
        stop.Single().Should().Equal("off");
        Directory.Exists(Path.Combine(_h.ServingRoot, "root_m", "2")).Should().BeFalse();
        var config = await File.ReadAllTextAsync(_h.ConfigFile);
        config.Should().NotContain("versions: 2").And.NotContain("stable");
        (await _h.RunAsync("mlmodel list name=m")).Select(r => r[10]).Should().Equal("on", "off", "off");

        await _h.RunAsync("mlmodel stop name=m");
        (await File.ReadAllTextAsync(_h.ConfigFile)).Should().NotContain("root_m", "the entry goes when no version is left");
        var act = () => _h.RunAsync("mlmodel stop name=m");
        (await act.Should().ThrowAsync<MlModelException>()).Which.Error.Message.Should().Be("mlmodel stop: no version of 'm' is being served");
    }

    [Test]
    public async Task A_served_version_cannot_be_deleted_until_it_is_stopped()
    {
        await _h.ImportHalfPlusTwoAsync("m");
        await _h.RunAsync("mlmodel deploy name=m");
        var act = () => _h.RunAsync("mlmodel delete name=m version=1");
        (await act.Should().ThrowAsync<MlModelException>()).Which.Error.Should().BeEquivalentTo(new
        {
            Code = "conflict",
            Message = "mlmodel delete: version 1 of 'm' is being served as root_m; stop it first: mlmodel stop name=m version=1",
        });
        await _h.RunAsync("mlmodel stop name=m version=1");
        (await _h.RunAsync("mlmodel delete name=m version=1")).Single().Should().Equal("ok");
    }

    [Test]
    public async Task Spark_and_h5_models_are_refused_because_tensorflow_serving_loads_saved_models_only()
    {
        byte[] h5 = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
        _h.PutObject("USERS/root/h5.tar", Archives.Of(Archives.File("model.h5", h5)));
        await _h.RunAsync("mlmodel import name=k analysis_tool=tf kind=c algorithm=deep format=h5 connector_id=local path=USERS/root/h5.tar");
        var act = () => _h.RunAsync("mlmodel deploy name=k");
        (await act.Should().ThrowAsync<MlModelException>()).Which.Error.Should().BeEquivalentTo(new
        {
            Code = "unsupported",
            Message = "mlmodel deploy: version 1 of 'k' is an h5 model; TensorFlow Serving loads SavedModels only (import it with format=saved_model)",
        });

        await _h.Engine.Models.RegisterAsync(new ModelRegistration { Name = "rf", AnalysisTool = "spark" }, EngineHarness.Root);
        act = () => _h.RunAsync("mlmodel deploy name=rf");
        (await act.Should().ThrowAsync<MlModelException>()).Which.Error.Message
            .Should().Be("mlmodel deploy: version 1 of 'rf' is a spark model; TensorFlow Serving loads tf SavedModels only");
        File.Exists(_h.ConfigFile).Should().BeFalse("a refused deploy writes no config");

        // stop refuses them the same way (spec B.3), with or without a version, not as "not served".
        foreach (var (command, message) in new[]
        {
            ("mlmodel stop name=k", "mlmodel stop: version 1 of 'k' is an h5 model; TensorFlow Serving loads SavedModels only (import it with format=saved_model)"),
            ("mlmodel stop name=k version=1", "mlmodel stop: version 1 of 'k' is an h5 model; TensorFlow Serving loads SavedModels only (import it with format=saved_model)"),
            ("mlmodel stop rf", "mlmodel stop: version 1 of 'rf' is a spark model; TensorFlow Serving loads tf SavedModels only"),
            ("mlmodel stop name=rf version=1", "mlmodel stop: version 1 of 'rf' is a spark model; TensorFlow Serving loads tf SavedModels only"),
        })
        {
            act = () => _h.RunAsync(command);
            (await act.Should().ThrowAsync<MlModelException>(command)).Which.Error.Should().BeEquivalentTo(new { Code = "unsupported", Message = message });
        }
        File.Exists(_h.ConfigFile).Should().BeFalse("a refused stop writes no config");
    }

    [Test]
    public async Task A_version_whose_files_fail_their_checksums_is_not_deployed()
    {
        await _h.ImportHalfPlusTwoAsync("m", top: null);
        await File.AppendAllTextAsync(Path.Combine(_h.Store, "models", "root", "m", "1", "saved_model.pb"), "tampered");
        var act = () => _h.RunAsync("mlmodel deploy name=m");
        var error = (await act.Should().ThrowAsync<MlModelException>()).Which.Error;
        error.Code.Should().Be("integrity");
        error.Message.Should().StartWith("mlmodel deploy: file 'saved_model.pb' of version 1 of 'm' fails its checksum");
        File.Exists(_h.ConfigFile).Should().BeFalse();
        Directory.Exists(Path.Combine(_h.ServingRoot, "root_m")).Should().BeFalse();
        (await _h.RunAsync("mlmodel history name=m")).First()[6].Should().Be("error");
    }

    [Test]
    public async Task Deploy_hard_links_the_files_when_the_model_store_is_on_the_same_file_system()
    {
        await _h.ImportHalfPlusTwoAsync("m", top: null);
        await _h.RunAsync("mlmodel deploy name=m");
        var stored = Path.Combine(_h.Store, "models", "root", "m", "1", "saved_model.pb");
        var served = Path.Combine(_h.ServingRoot, "root_m", "1", "saved_model.pb");
        Inode(stored).Should().Be(Inode(served));
    }

    [Test]
    public async Task Status_shows_drift_between_registry_and_config()
    {
        await _h.ImportHalfPlusTwoAsync("m");
        await _h.RunAsync("mlmodel deploy name=m");
        File.WriteAllText(_h.ConfigFile, "model_config_list {\n}\n"); // someone edited the config by hand
        var status = (await _h.RunAsync("mlmodel status name=m")).Single();
        status[1].Should().Be("on");
        status[3].Should().Be("absent");
        status[7].Should().Be("no");
        var check = await _h.RunAsync("mlmodel check");
        check.Select(r => r[0]).Should().Contain("serving_drift");
    }

    [Test]
    public async Task A_serving_name_over_the_library_s_190_byte_budget_is_refused_before_anything_is_written()
    {
        // root_ and 61 Hangul syllables (3 bytes each) and "ab": 190 bytes of UTF-8, a folder name that fits.
        var fits = string.Concat(Enumerable.Repeat("모", 61)) + "ab";
        System.Text.Encoding.UTF8.GetByteCount("root_" + fits).Should().Be(190);
        await _h.ImportHalfPlusTwoAsync(fits, top: null);
        (await _h.RunAsync($"mlmodel deploy name={fits}")).Single()[2].Should().Be("root_" + fits);
        Directory.Exists(Path.Combine(_h.ServingRoot, "root_" + fits, "1")).Should().BeTrue();

        var over = fits + "c";
        await _h.ImportHalfPlusTwoAsync(over, top: null);
        var config = await File.ReadAllTextAsync(_h.ConfigFile);
        var act = () => _h.RunAsync($"mlmodel deploy name={over}");
        var error = (await act.Should().ThrowAsync<MlModelException>()).Which.Error;
        error.Code.Should().Be(ErrorCodes.Unsupported);
        error.Message.Should().Be($"mlmodel deploy: the serving name root_{over} is 191 bytes long in UTF-8; this library allows at most 190 (the name is a folder of the serving root): use a shorter model name");
        Directory.Exists(Path.Combine(_h.ServingRoot, "root_" + over)).Should().BeFalse();
        (await File.ReadAllTextAsync(_h.ConfigFile)).Should().Be(config, "a refused deploy changes nothing");
    }

    private static string Inode(string path)
    {
        using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%i", path]) { RedirectStandardOutput = true })!;
        var output = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return output;
    }
}

/// <summary>Concurrent deploys and stops through separate engines (separate connections, config lock across them).</summary>
public class ServingConcurrencyTests
{
    [Test]
    public async Task Eight_engines_deploying_and_stopping_at_once_leave_the_config_equal_to_the_registry()
    {
        using var h = new EngineHarness();
        for (var m = 0; m < 8; m++)
        {
            await h.ImportHalfPlusTwoAsync($"m{m}");
            await h.ImportHalfPlusTwoAsync($"m{m}");
        }
        var engines = Enumerable.Range(0, 8).Select(_ => new MlModelEngine(h.Options)).ToList();
        await Task.WhenAll(engines.Select(async (e, i) =>
        {
            // Each engine deploys both versions of its model, labels one, and stops the other on odd models.
            (await e.ExecuteAsync($"mlmodel deploy name=m{i} version=1", EngineHarness.Root)).Dispose();
            (await e.ExecuteAsync($"mlmodel deploy name=m{i} version=2 label=stable", EngineHarness.Root)).Dispose();
            if (i % 2 == 1)
            {
                (await e.ExecuteAsync($"mlmodel stop name=m{i} version=1", EngineHarness.Root)).Dispose();
            }
        }));

        var served = (await h.RunAsync("mlmodel list serving=on")).Select(r => $"{r[11]}/{r[3]}").Order().ToList();
        var deployed = await h.Options.Serving!.GetDeployedAsync();
        deployed.SelectMany(kv => kv.Value.Select(v => $"{kv.Key}/{v}")).Order().Should().Equal(served);
        served.Should().HaveCount(12);
        (await h.RunAsync("mlmodel check")).Should().BeEmpty("registry, files and serving config agree");
    }
}
