using FluentAssertions;
using MlModel.Dsl.Serving.TensorFlow.Config;
using NUnit.Framework;

namespace MlModel.Dsl.Serving.TensorFlow.Tests;

[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "Disposed in TearDown.")]
public class TensorFlowServingTests
{
    private const string UnmanagedEntries =
        """
        # Written by hand: the library must keep these entries as they are.
        model_config_list {
          config {
            name: "legacy"
            base_path: "/elsewhere/legacy/"
            model_platform: "tensorflow"
            model_version_policy { latest { num_versions: 2 } }
            logging_config {
              log_collector_config { type: "file" filename_prefix: "/var/log/tfs\t\303\251" }
              sampling_config { sampling_rate: 0.25 }
            }
          }
          config {
            name: 'other'
            base_path: '/elsewhere/other'
            model_platform: 'tensorflow'
            model_version_policy: { specific { versions: [7, 9] } }
            some_future_field: ENUM_VALUE
          }
        }

        """;

    // With a label: a real server refuses this config while /elsewhere/other/9 is not loaded (as the
    // fake does), so it is only used where no server reads the file.
    private static readonly string UnmanagedEntriesWithLabel = UnmanagedEntries.Replace(
        "some_future_field", "version_labels { key: \"canary\" value: 9 }\n    some_future_field", StringComparison.Ordinal);

    private TempDir _dir = null!;
    private FakeTensorFlowServing _server = null!;

    private string ConfigPath => _dir.Combine("models.config");

    [SetUp]
    public void SetUp()
    {
        _dir = new TempDir();
        _server = new FakeTensorFlowServing(ConfigPath);
    }

    [TearDown]
    public async Task TearDown()
    {
        await _server.DisposeAsync();
        _dir.Dispose();
    }

    [Test]
    public async Task Deploy_sets_the_label_only_once_the_version_is_available()
    {
        using var tfs = Create();

        var first = await tfs.DeployAsync("root_mnist_v1", 1, "unstable", HalfPlusTwo());

        first.Should().BeEquivalentTo(new { ServingName = "root_mnist_v1", Version = 1L, Label = "unstable", Published = true });
        first.ServerState!.State.Should().Be(ModelVersionState.Available);
        _server.LabelsOf("root_mnist_v1").Should().Equal(new Dictionary<string, long> { ["unstable"] = 1 });

        // The spec's example: the model gets a new version, deployed with label 'stable'.
        await tfs.DeployAsync("root_mnist_v1", 2, "stable", HalfPlusTwo());
        // And the label moves on to the next version.
        await tfs.DeployAsync("root_mnist_v1", 3, "stable", HalfPlusTwo());

        var entry = (await ReadConfigAsync()).Find("root_mnist_v1")!;
        entry.BasePath.Should().Be(_dir.Combine("serving", "root_mnist_v1"));
        entry.ModelPlatform.Should().Be("tensorflow");
        entry.SpecificVersions.Should().Equal(1, 2, 3);
        entry.Labels.Should().Equal(new Dictionary<string, long> { ["unstable"] = 1, ["stable"] = 3 });
        _server.LabelsOf("root_mnist_v1").Should().Equal(entry.Labels);
        // The server never saw a label pointing at a version that was not AVAILABLE.
        _server.RejectedConfigs.Should().BeEmpty();
    }

    [Test]
    public async Task Without_a_rest_address_the_label_is_written_in_one_step()
    {
        using var tfs = Create(rest: false);

        var result = await tfs.DeployAsync("m", 1, "stable", HalfPlusTwo());

        result.ServerState.Should().BeNull();
        var entry = (await ReadConfigAsync()).Find("m")!;
        entry.SpecificVersions.Should().Equal(1);
        entry.Labels.Should().Equal(new Dictionary<string, long> { ["stable"] = 1 });

        // Which is why the two phases exist: a real server refuses such a config while v1 is loading.
        await WaitUntilAsync(() => _server.RejectedConfigs.Count > 0);
        _server.RejectedConfigs[0].Should().Be("Request to assign label to version 1 of model m, which is not currently available for inference");
    }

    [Test]
    public async Task Without_a_rest_address_a_new_label_is_applied_by_a_server_that_allows_it()
    {
        _server.AllowVersionLabelsForUnavailableModels = true;
        using var tfs = Create(rest: false);

        await tfs.DeployAsync("m", 1, "stable", HalfPlusTwo());

        await WaitUntilAsync(() => _server.StateOf("m", 1) == ModelVersionState.Available);
        _server.LabelsOf("m").Should().Equal(new Dictionary<string, long> { ["stable"] = 1 });
        _server.RejectedConfigs.Should().BeEmpty();
    }

    [Test]
    public async Task Without_a_rest_address_a_label_is_not_moved_onto_a_version_the_server_has_not_loaded()
    {
        _server.AllowVersionLabelsForUnavailableModels = true;
        using var tfs = Create(rest: false);
        await tfs.DeployAsync("m", 1, "stable", HalfPlusTwo());
        await WaitUntilAsync(() => _server.StateOf("m", 1) == ModelVersionState.Available);
        var before = await File.ReadAllBytesAsync(ConfigPath);

        // Written in one step, the server would refuse this config at every poll, even with the flag.
        var act = () => tfs.DeployAsync("m", 2, "stable", HalfPlusTwo());

        var error = (await act.Should().ThrowAsync<TensorFlowServingException>()).Which;
        error.Kind.Should().Be(TensorFlowServingErrorKind.LabelNeedsAvailableVersion);
        error.Message.Should().StartWith("Label 'stable' of m is on version 1; TensorFlow Serving moves a label only onto a version it has loaded")
            .And.Contain("Deploy version 2 without the label first, then again with label=stable once it is serving");
        (await File.ReadAllBytesAsync(ConfigPath)).Should().Equal(before, "nothing is written");
        Directory.Exists(_dir.Combine("serving", "m", "2")).Should().BeFalse();

        // What the message says to do: the version first, the label once it is served.
        await tfs.DeployAsync("m", 2, null, HalfPlusTwo());
        await WaitUntilAsync(() => _server.StateOf("m", 2) == ModelVersionState.Available);
        await tfs.DeployAsync("m", 2, "stable", HalfPlusTwo());
        await WaitUntilAsync(() => _server.LabelsOf("m").GetValueOrDefault("stable") == 2);
        _server.RejectedConfigs.Should().BeEmpty();
    }

    [Test]
    public async Task A_server_in_a_container_is_given_base_paths_as_it_sees_them()
    {
        // tensorflow_model_server in a container started with -v <serving root>:/models.
        _server.Mount = ("/models", _dir.Combine("serving"));
        using var tfs = Create(serverRoot: "/models/");

        await tfs.DeployAsync("root_m", 1, "stable", HalfPlusTwo());
        await tfs.DeployAsync("root_m", 2, null, HalfPlusTwo());

        (await ReadConfigAsync()).Find("root_m")!.BasePath.Should().Be("/models/root_m");
        File.Exists(_dir.Combine("serving", "root_m", "2", "saved_model.pb")).Should().BeTrue("the files go to the local folder");
        _server.StateOf("root_m", 2).Should().Be(ModelVersionState.Available);
        (await tfs.GetDeployedVersionsAsync()).Single(m => m.ServingName == "root_m").Managed.Should().BeTrue();
        await tfs.StopAsync("root_m", 1);
        (await ReadConfigAsync()).Find("root_m")!.SpecificVersions.Should().Equal(2);
    }

    [Test]
    public async Task A_version_that_never_becomes_available_is_rolled_back_after_the_timeout()
    {
        await File.WriteAllTextAsync(ConfigPath, UnmanagedEntries);
        using var setup = Create();
        await setup.DeployAsync("m", 1, "stable", HalfPlusTwo());
        var before = await File.ReadAllBytesAsync(ConfigPath);
        _server.NeverAvailable.Add("m/2");
        using var tfs = Create(timeout: TimeSpan.FromMilliseconds(700));

        var act = () => tfs.DeployAsync("m", 2, "stable", HalfPlusTwo());

        var error = (await act.Should().ThrowAsync<TensorFlowServingException>()).Which;
        error.Kind.Should().Be(TensorFlowServingErrorKind.Timeout);
        error.Message.Should().Contain("Version 2 of m did not become AVAILABLE").And.Contain("last state: LOADING");
        (await File.ReadAllBytesAsync(ConfigPath)).Should().Equal(before, "the config is exactly as before");
        Directory.Exists(_dir.Combine("serving", "m", "2")).Should().BeFalse();
        Directory.GetFileSystemEntries(_dir.Combine("serving", "m")).Select(Path.GetFileName).Should().Equal("1");
        _server.LabelsOf("m").Should().Equal(new Dictionary<string, long> { ["stable"] = 1 });
    }

    [Test]
    public async Task A_version_that_fails_to_load_is_rolled_back_with_the_servers_message()
    {
        await File.WriteAllTextAsync(ConfigPath, UnmanagedEntries);
        var before = await File.ReadAllBytesAsync(ConfigPath);
        using var tfs = Create();

        var act = () => tfs.DeployAsync("root_bad", 1, "stable", ServingFile.FromDirectory(Fixtures.BadHalfPlusTwo));

        var error = (await act.Should().ThrowAsync<TensorFlowServingException>()).Which;
        error.Kind.Should().Be(TensorFlowServingErrorKind.LoadFailed);
        error.ServerMessage.Should().Be($"Could not find SavedModel .pb or .pbtxt at supplied export directory path: {_dir.Combine("serving", "root_bad", "1")}");
        error.Message.Should().Contain(error.ServerMessage!);
        (await File.ReadAllBytesAsync(ConfigPath)).Should().Equal(before);
        Directory.Exists(_dir.Combine("serving", "root_bad", "1")).Should().BeFalse();
    }

    [Test]
    public async Task A_label_the_server_never_applies_rolls_the_deploy_back()
    {
        using (var setup = Create())
        {
            await setup.DeployAsync("m", 1, null, HalfPlusTwo());
        }

        var before = await File.ReadAllBytesAsync(ConfigPath);
        _server.AllowVersionLabels = false;
        using var tfs = Create(timeout: TimeSpan.FromSeconds(2));

        var act = () => tfs.DeployAsync("m", 2, "stable", HalfPlusTwo());

        var error = (await act.Should().ThrowAsync<TensorFlowServingException>()).Which;
        error.Kind.Should().Be(TensorFlowServingErrorKind.Timeout);
        // A server without labels refuses a request by label before looking it up (server_core.cc, ServableRequestFromModelSpec).
        error.Message.Should().Contain("did not apply label 'stable' to version 2 of m").And.Contain("ModelSpec has 'version_label' set, but it is not currently allowed by the server.");
        (await File.ReadAllBytesAsync(ConfigPath)).Should().Equal(before);
        Directory.Exists(_dir.Combine("serving", "m", "2")).Should().BeFalse();
        _server.RejectedConfigs.Should().Contain("Model version labels are not currently allowed by the server.");
    }

    [Test]
    public async Task Redeploying_a_version_that_failed_before_waits_for_the_new_load()
    {
        using var tfs = Create();
        var bad = () => tfs.DeployAsync("m", 1, null, ServingFile.FromDirectory(Fixtures.BadHalfPlusTwo));
        await bad.Should().ThrowAsync<TensorFlowServingException>();
        // The server has read the rolled-back config, and still remembers version 1 as END with an error ...
        var reloads = _server.ConfigReloads;
        await WaitUntilAsync(() => _server.ConfigReloads > reloads + 1);
        _server.StateOf("m", 1).Should().Be(ModelVersionState.End);
        _server.ConfigPollInterval = TimeSpan.FromMilliseconds(300); // ... for a while after the fixed files arrive

        var result = await tfs.DeployAsync("m", 1, "stable", HalfPlusTwo());

        result.ServerState!.State.Should().Be(ModelVersionState.Available);
        _server.LabelsOf("m").Should().Equal(new Dictionary<string, long> { ["stable"] = 1 });
    }

    [Test]
    public async Task A_cancelled_deploy_is_rolled_back()
    {
        await File.WriteAllTextAsync(ConfigPath, UnmanagedEntries);
        _server.NeverAvailable.Add("m");
        using var tfs = Create();
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));

        var act = () => tfs.DeployAsync("m", 1, null, HalfPlusTwo(), cts.Token);

        await act.Should().ThrowAsync<OperationCanceledException>();
        (await File.ReadAllTextAsync(ConfigPath)).Should().Be(UnmanagedEntries);
        Directory.Exists(_dir.Combine("serving", "m", "1")).Should().BeFalse();
    }

    [Test]
    public async Task Rollback_removes_only_what_the_failed_deploy_added()
    {
        _server.NeverAvailable.Add("slow");
        using var slow = Create(timeout: TimeSpan.FromSeconds(1.5));
        using var other = Create();

        var failing = slow.DeployAsync("slow", 1, null, HalfPlusTwo());
        await WaitUntilAsync(() => _server.StateOf("slow", 1) == ModelVersionState.Loading);
        await other.DeployAsync("fast", 1, "stable", HalfPlusTwo());

        await FluentActions.Awaiting(() => failing).Should().ThrowAsync<TensorFlowServingException>();
        var doc = await ReadConfigAsync();
        doc.Models.Select(m => m.Name).Should().Equal("fast");
        doc.Find("fast")!.Labels.Should().Equal(new Dictionary<string, long> { ["stable"] = 1 });
    }

    [Test]
    public async Task Stop_removes_the_version_and_its_labels_then_the_entry()
    {
        using var tfs = Create();
        await tfs.DeployAsync("m", 1, "stable", HalfPlusTwo());
        await tfs.DeployAsync("m", 2, "canary", HalfPlusTwo());

        await tfs.StopAsync("m", 1);

        var entry = (await ReadConfigAsync()).Find("m")!;
        entry.SpecificVersions.Should().Equal(2);
        entry.Labels.Should().Equal(new Dictionary<string, long> { ["canary"] = 2 });
        Directory.Exists(_dir.Combine("serving", "m", "1")).Should().BeFalse();
        Directory.Exists(_dir.Combine("serving", "m", "2")).Should().BeTrue();
        await WaitUntilAsync(() => _server.StateOf("m", 1) == ModelVersionState.End);

        await tfs.StopAsync("m", 2);

        (await File.ReadAllTextAsync(ConfigPath)).Should().Be("model_config_list {\n}\n");
        Directory.GetFileSystemEntries(_dir.Combine("serving", "m")).Should().BeEmpty();
        var again = () => tfs.StopAsync("m", 2);
        (await again.Should().ThrowAsync<TensorFlowServingException>()).Which.Kind.Should().Be(TensorFlowServingErrorKind.NotDeployed);
        _server.RejectedConfigs.Should().BeEmpty();
    }

    [Test]
    public async Task Unmanaged_entries_survive_deploy_and_stop_value_for_value()
    {
        await File.WriteAllTextAsync(ConfigPath, UnmanagedEntriesWithLabel);
        var original = ModelServerConfigDocument.Parse(UnmanagedEntriesWithLabel);
        original.Find("other")!.Labels.Should().ContainKey("canary");
        using var tfs = Create(rest: false);

        await tfs.DeployAsync("mine", 1, "stable", HalfPlusTwo());
        var during = await ReadConfigAsync();
        during.Models.Select(m => m.Name).Should().Equal("legacy", "other", "mine");
        await tfs.StopAsync("mine", 1);

        var after = await ReadConfigAsync();
        after.Models.Should().HaveCount(2);
        for (var i = 0; i < 2; i++)
        {
            after.Models[i].Node.ValueEquals(original.Models[i].Node).Should().BeTrue(original.Models[i].Name);
            during.Models[i].Node.ValueEquals(original.Models[i].Node).Should().BeTrue(original.Models[i].Name);
        }

        after.Root.ValueEquals(original.Root).Should().BeTrue();
        after.Find("legacy")!.Node.Message("logging_config")!.Message("log_collector_config")!.Scalar("filename_prefix")!.AsText().Should().Be("/var/log/tfs\té");
    }

    [Test]
    public async Task Deploying_a_deployed_version_with_a_label_only_moves_the_label()
    {
        using var tfs = Create();
        await tfs.DeployAsync("m", 1, null, HalfPlusTwo());
        await tfs.DeployAsync("m", 2, "stable", HalfPlusTwo());
        var inode = Unix.Stat(_dir.Combine("serving", "m", "1", "saved_model.pb")).Inode;

        var result = await tfs.DeployAsync("m", 1, "stable", []);

        result.Published.Should().BeFalse();
        var entry = (await ReadConfigAsync()).Find("m")!;
        entry.SpecificVersions.Should().Equal(1, 2);
        entry.Labels.Should().Equal(new Dictionary<string, long> { ["stable"] = 1 });
        Unix.Stat(_dir.Combine("serving", "m", "1", "saved_model.pb")).Inode.Should().Be(inode);
        _server.LabelsOf("m").Should().Equal(entry.Labels);
    }

    [Test]
    public async Task Status_shows_config_folders_and_server_side_by_side()
    {
        using var tfs = Create();
        await tfs.DeployAsync("m", 1, "stable", HalfPlusTwo());
        Directory.CreateDirectory(_dir.Combine("serving", "m", "5")); // drift: a folder the config does not list

        var status = await tfs.GetStatusAsync("m");

        status.Config!.Versions.Should().Equal(1);
        status.Config.Labels.Should().Equal(new Dictionary<string, long> { ["stable"] = 1 });
        status.Config.Managed.Should().BeTrue();
        status.PublishedVersions.Should().Equal(1, 5);
        status.ServerVersions.Should().ContainSingle().Which.State.Should().Be(ModelVersionState.Available);

        var unknown = await tfs.GetStatusAsync("nothing");
        unknown.Config.Should().BeNull();
        unknown.ServerVersions.Should().BeNull();
        unknown.ServerError.Should().Be("Could not find any versions of model nothing");
    }

    [Test]
    public async Task Deployed_versions_list_every_entry_and_which_are_managed()
    {
        await File.WriteAllTextAsync(ConfigPath, UnmanagedEntries);
        using var tfs = Create(rest: false);
        await tfs.DeployAsync("mine", 3, null, HalfPlusTwo());

        var deployed = await tfs.GetDeployedVersionsAsync();

        deployed.Select(d => (d.ServingName, d.Managed, string.Join(",", d.Versions))).Should().Equal(
            ("legacy", false, ""), ("other", false, "7,9"), ("mine", true, "3"));
    }

    [TestCase("../x", 1, null)]
    [TestCase("a/b", 1, null)]
    [TestCase(".hidden", 1, null)]
    [TestCase("a:b", 1, null)]
    [TestCase("m\n", 1, null)]
    [TestCase("m", 0, null)]
    [TestCase("m", 1, "")]
    public async Task Invalid_arguments_are_refused_before_anything_is_written(string name, int version, string? label)
    {
        using var tfs = Create(rest: false);
        var act = () => tfs.DeployAsync(name, version, label, HalfPlusTwo());
        (await act.Should().ThrowAsync<TensorFlowServingException>()).Which.Kind.Should().Be(TensorFlowServingErrorKind.InvalidArgument);
        File.Exists(ConfigPath).Should().BeFalse();
        Directory.Exists(_dir.Combine("serving")).Should().BeFalse();
    }

    [Test]
    public async Task A_same_named_entry_this_library_does_not_manage_is_refused()
    {
        await File.WriteAllTextAsync(ConfigPath, UnmanagedEntries);
        using var tfs = Create(rest: false);

        var act = () => tfs.DeployAsync("other", 1, null, HalfPlusTwo());

        (await act.Should().ThrowAsync<TensorFlowServingException>()).Which.Message.Should().Contain("base_path '/elsewhere/other'");
        (await File.ReadAllTextAsync(ConfigPath)).Should().Be(UnmanagedEntries);
        Directory.Exists(_dir.Combine("serving", "other", "1")).Should().BeFalse();
    }

    [Test]
    public async Task A_leftover_folder_of_an_unlisted_version_is_replaced()
    {
        Directory.CreateDirectory(_dir.Combine("serving", "m", "1"));
        await File.WriteAllTextAsync(_dir.Combine("serving", "m", "1", "junk"), "x");
        using var tfs = Create();

        await tfs.DeployAsync("m", 1, null, HalfPlusTwo());

        File.Exists(_dir.Combine("serving", "m", "1", "junk")).Should().BeFalse();
        File.Exists(_dir.Combine("serving", "m", "1", "saved_model.pb")).Should().BeTrue();
    }

    private TensorFlowServing Create(bool rest = true, TimeSpan? timeout = null, string? serverRoot = null) => new(new TensorFlowServingOptions
    {
        ServingRoot = _dir.Combine("serving"),
        ServerServingRoot = serverRoot,
        ConfigFile = ConfigPath,
        RestAddress = rest ? _server.Address : null,
        AvailableTimeout = timeout ?? TimeSpan.FromSeconds(10),
        PollInterval = TimeSpan.FromMilliseconds(20),
        LockTimeout = TimeSpan.FromSeconds(10),
    });

    private static IReadOnlyList<ServingFile> HalfPlusTwo() => ServingFile.FromDirectory(Fixtures.HalfPlusTwo);

    private async Task<ModelServerConfigDocument> ReadConfigAsync() =>
        ModelServerConfigDocument.Parse(await File.ReadAllTextAsync(ConfigPath));

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("condition not reached in 10 s");
            }

            await Task.Delay(10);
        }
    }
}
