using MlModel.Dsl.Backends;
using MlModel.Dsl.Data;
using MlModel.Dsl.IntegrationTests.Support;
using MlModel.Dsl.Serving.TensorFlow;
using Npgsql;

namespace MlModel.Dsl.IntegrationTests.Execution;

/// <summary>
/// What an adversary found (the integrity issue): scoped checks that deleted other models' files,
/// deploy and delete racing to a served ghost, deletes cut short showing a broken version, serving
/// drift nothing could clear, temporary files nothing cleaned, host-built records skipping the
/// rules, refusals missing from the audit trail. Each test failed before the change it pins.
/// </summary>
public class IntegrityTests
{
    private EngineHarness _h = null!;

    [SetUp]
    public void SetUp() => _h = new EngineHarness(o => o.OrphanGracePeriod = TimeSpan.Zero);

    [TearDown]
    public void TearDown() => _h.Dispose();

    private static async Task<MlModelError> FailsAsync(Func<Task> act) =>
        (await act.Should().ThrowAsync<MlModelException>()).Which.Error;

    private string ModelFolder(string user, string name, int version) => Path.Combine(_h.Store, "models", user, name, version.ToString(System.Globalization.CultureInfo.InvariantCulture));

    // ------------------------------------------------------------ 1. check's scope

    [TestCase("mlmodel check name=a repair=true")]
    [TestCase("mlmodel check user=root name=a repair=true")]
    [TestCase("mlmodel check user=root repair=true")]
    public async Task A_scoped_repair_touches_only_its_scope(string command)
    {
        await _h.ImportHalfPlusTwoAsync("a");
        await _h.ImportHalfPlusTwoAsync("b");
        await _h.ImportHalfPlusTwoAsync("c", EngineHarness.Bob);
        var before = _h.StoredFiles();

        (await _h.RunAsync(command)).Should().BeEmpty("every model in and out of the scope is healthy");

        _h.StoredFiles().Should().Equal(before, "no model's files are orphans");
        (await _h.RunAsync("mlmodel check")).Should().BeEmpty();
    }

    [Test]
    public async Task A_check_by_name_finds_that_name_s_orphans_of_every_user_and_no_others()
    {
        await _h.ImportHalfPlusTwoAsync("a");
        foreach (var (user, name) in new[] { ("root", "a"), ("bob", "a"), ("root", "b") })
        {
            var orphan = Path.Combine(ModelFolder(user, name, 7), "x.bin");
            Directory.CreateDirectory(Path.GetDirectoryName(orphan)!);
            await File.WriteAllTextAsync(orphan, "left by a crashed import");
        }
        var report = await _h.RunAsync("mlmodel check name=a repair=true");
        report.Select(r => (r[0], r[1], r[2], r[5])).Should().BeEquivalentTo(new[]
        {
            ((object?)"orphan_files", (object?)"bob", (object?)"a", (object?)"deleted"),
            ("orphan_files", "root", "a", "deleted"),
        });
        File.Exists(Path.Combine(ModelFolder("root", "b", 7), "x.bin")).Should().BeTrue("model b is out of the scope");
    }

    [Test]
    public async Task A_check_of_one_version_looks_at_that_version_only()
    {
        await _h.ImportHalfPlusTwoAsync("a");
        await _h.ImportHalfPlusTwoAsync("a");
        File.Delete(Path.Combine(ModelFolder("root", "a", 1), "half_plus_two", "saved_model.pb"));
        var orphan = Path.Combine(ModelFolder("root", "a", 7), "x.bin");
        Directory.CreateDirectory(Path.GetDirectoryName(orphan)!);
        await File.WriteAllTextAsync(orphan, "x");

        (await _h.RunAsync("mlmodel check name=a version=2 repair=true")).Should().BeEmpty();
        File.Exists(orphan).Should().BeTrue("version 7 is out of the scope");
        (await _h.RunAsync("mlmodel check name=a version=1")).Select(r => r[0]).Should().Equal("missing_file");
        (await _h.RunAsync("mlmodel check name=a version=7 repair=true")).Select(r => (r[0], r[5])).Should().Equal(((object?)"orphan_files", (object?)"deleted"));
        var error = await FailsAsync(() => _h.RunAsync("mlmodel check version=1"));
        error.Message.Should().Be("mlmodel check: version= needs name=: a version is one model's");
    }

    // ------------------------------------------------------------ 2, 15. deploy and delete serialised

    [Test]
    public async Task Deploy_and_delete_of_one_version_raced_never_leave_a_served_ghost()
    {
        for (var round = 0; round < 12; round++)
        {
            var version = await _h.ImportHalfPlusTwoAsync("race");
            var deploy = Task.Run(() => _h.RunAsync($"mlmodel deploy name=race version={version}"));
            var delete = Task.Run(() => _h.RunAsync($"mlmodel delete name=race version={version}"));
            var outcomes = new List<string>();
            foreach (var t in new Task[] { deploy, delete })
            {
                try
                {
                    await t;
                    outcomes.Add("ok");
                }
                catch (MlModelException e)
                {
                    outcomes.Add(e.Code);
                }
            }
            // Either the deploy won (the delete is refused: served) or the delete won (the deploy finds no version).
            string.Join(",", outcomes).Should().BeOneOf($"ok,{ErrorCodes.Conflict}", $"{ErrorCodes.NotFound},ok");
            var row = await _h.Engine.Models.GetAsync("root", "race", version);
            var config = File.Exists(_h.ConfigFile) ? await File.ReadAllTextAsync(_h.ConfigFile) : "";
            var folder = Directory.Exists(Path.Combine(_h.ServingRoot, "root_race", version.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            if (row is null)
            {
                config.Should().NotContain($"versions: {version}\n", "a deleted version is not served");
                folder.Should().BeFalse();
            }
            else
            {
                row.Serving.Should().BeTrue();
                folder.Should().BeTrue();
                await _h.RunAsync($"mlmodel stop name=race version={version}");
            }
        }
        (await _h.RunAsync("mlmodel check")).Should().BeEmpty();
    }

    [Test]
    public async Task A_delete_waits_for_the_model_s_lock_held_by_another_process_and_says_so()
    {
        await _h.ImportHalfPlusTwoAsync("m");
        // A second repository on the same file is what another process has: its lock is an OS file lock.
        await using var other = new SqliteModelRepository(Path.Combine(_h.Home, "mlmodel.db"));
        await using (await other.LockModelAsync("root", "m"))
        {
            _h.Options.ModelLockTimeout = TimeSpan.FromMilliseconds(300);
            var error = await FailsAsync(() => _h.RunAsync("mlmodel delete name=m version=1"));
            error.Code.Should().Be(ErrorCodes.Conflict);
            error.Message.Should().StartWith("mlmodel delete: model 'm' of user 'root' is being changed by another command (deploy, stop, delete or repair)");
            (await _h.RunAsync("mlmodel list")).Should().HaveCount(1, "nothing was deleted");
            (await _h.RunAsync("mlmodel delete name=other_model version=1").ContinueWith(t => t.Exception?.InnerException)).Should()
                .BeOfType<MlModelException>().Which.Code.Should().Be(ErrorCodes.NotFound, "another model's lock is its own");
        }
        (await _h.RunAsync("mlmodel delete name=m version=1")).Single().Should().Equal("ok");
    }

    [Test]
    public async Task On_postgresql_the_model_lock_spans_sessions_and_a_dead_session_releases_it()
    {
        var database = "mlmodel_lock_" + Guid.NewGuid().ToString("N")[..12];
        await using (var admin = new NpgsqlConnection(TestServices.Postgres))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {database}", admin);
            await create.ExecuteNonQueryAsync();
        }
        try
        {
            var cs = new NpgsqlConnectionStringBuilder(TestServices.Postgres) { Database = database }.ConnectionString;
            await using var a = new PostgresModelRepository(cs);
            await using var b = new PostgresModelRepository(cs);
            await a.InitializeAsync();
            var held = await a.LockModelAsync("root", "m");
            using (var soon = new CancellationTokenSource(TimeSpan.FromMilliseconds(300)))
            {
                var act = () => b.LockModelAsync("root", "m", soon.Token);
                await act.Should().ThrowAsync<OperationCanceledException>("host B waits while host A holds the lock");
            }
            await using (await b.LockModelAsync("root", "other"))
            {
                // Another model is not blocked.
            }
            // Host A's session dies without unlocking: the server releases the lock.
            await using (var kill = new NpgsqlConnection(cs))
            {
                await kill.OpenAsync();
                await using var terminate = new NpgsqlCommand("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND pid <> pg_backend_pid()", kill);
                await terminate.ExecuteNonQueryAsync();
            }
            using var later = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            await using (await b.LockModelAsync("root", "m", later.Token))
            {
            }
            try
            {
                await held.DisposeAsync();
            }
            catch (Exception)
            {
                // Its connection was terminated.
            }
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await using var admin = new NpgsqlConnection(TestServices.Postgres);
            await admin.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {database} WITH (FORCE)", admin);
            await drop.ExecuteNonQueryAsync();
        }
    }

    [Test]
    public async Task An_export_racing_a_delete_never_answers_ok_with_a_url_to_a_removed_file()
    {
        await _h.ImportHalfPlusTwoAsync("m");
        var files = (await _h.Engine.Models.GetAsync("root", "m"))!;
        var total = (await _h.Options.Repository!.GetFilesAsync(files.Id)).Count;
        // The delete runs when the export has read its last file (the progress callback runs inline).
        var progress = new InlineProgress(p =>
        {
            if (p.Files == total)
            {
                _h.RunAsync("mlmodel delete name=m version=1").GetAwaiter().GetResult();
            }
        });
        var act = () => _h.Engine.ExecuteAsync(new ExportCommand("m"), EngineHarness.Root, progress);
        var error = (await act.Should().ThrowAsync<MlModelException>()).Which.Error;
        error.Code.Should().Be(ErrorCodes.NotFound);
        error.Message.Should().Be("mlmodel export: version 1 of 'm' was deleted while it was being exported; the archive was removed");
        Directory.Exists(Path.Combine(_h.Store, "exports")).Should().BeFalse("neither the archive nor its folders are left");
    }

    private sealed class InlineProgress(Action<TransferProgress> report) : IProgress<TransferProgress>
    {
        public void Report(TransferProgress value) => report(value);
    }

    // ------------------------------------------------------------ 3. DELETING first

    [Test]
    public async Task A_delete_cut_short_hides_the_version_and_running_it_again_finishes_the_job()
    {
        await _h.ImportHalfPlusTwoAsync("m");
        await _h.ImportHalfPlusTwoAsync("m");
        // What a delete killed after its first file leaves: the row DELETING, some files gone.
        var repository = _h.Options.Repository!;
        var v2 = (await repository.GetAsync("root", "m", 2))!;
        await repository.UpdateAsync(v2 with { State = ModelStates.Deleting });
        File.Delete(Path.Combine(ModelFolder("root", "m", 2), "half_plus_two", "saved_model.pb"));

        (await _h.RunAsync("mlmodel list")).Select(r => r[3]).Should().Equal(1);
        (await _h.RunAsync("mlmodel summary name=m")).First(r => (string)r[0]! == "version")[1].Should().Be("1", "the latest is the latest not being deleted");
        foreach (var command in new[] { "mlmodel summary name=m version=2", "mlmodel export name=m version=2", "mlmodel deploy name=m version=2" })
        {
            var error = await FailsAsync(() => _h.RunAsync(command));
            error.Code.Should().Be(ErrorCodes.NotFound, command);
            error.Message.Should().EndWith("version 2 of model 'm' of user 'root' is being deleted");
        }

        var check = await _h.RunAsync("mlmodel check");
        check.Single().Should().Equal("deleting", "root", "m", 2, "the version was being deleted when its delete stopped", "none: run mlmodel delete again, or check repair=true");

        (await _h.RunAsync("mlmodel delete name=m version=2")).Single().Should().Equal("ok");
        Directory.Exists(ModelFolder("root", "m", 2)).Should().BeFalse();
        (await repository.GetAsync("root", "m", 2)).Should().BeNull();
        (await _h.RunAsync("mlmodel check")).Should().BeEmpty();
        (await _h.ImportHalfPlusTwoAsync("m")).Should().Be(3, "a deleted version's number is never handed out again");
    }

    [Test]
    public async Task Check_repair_finishes_a_delete_cut_short()
    {
        await _h.ImportHalfPlusTwoAsync("m");
        var repository = _h.Options.Repository!;
        await repository.UpdateAsync((await repository.GetAsync("root", "m", 1))! with { State = ModelStates.Deleting });

        (await _h.RunAsync("mlmodel check repair=true")).Single()[5].Should().Be("delete finished");
        Directory.Exists(ModelFolder("root", "m", 1)).Should().BeFalse();
        (await repository.GetAsync("root", "m", 1)).Should().BeNull();
        var last = (await _h.RunAsync("mlmodel history name=m")).First();
        last[2].Should().Be("repair");
        last[6].Should().Be("ok");
        ((string)last[8]!).Should().Contain("delete finished");
    }

    // ------------------------------------------------------------ 4. serving reconciled with the registry

    private TensorFlowServing Tf() => new(new TensorFlowServingOptions { ServingRoot = _h.ServingRoot, ConfigFile = _h.ConfigFile });

    private async Task ServeBehindTheRegistryAsync(string name, int version, string? label)
    {
        // A deploy killed after its config write and before its registry commit: the config serves, the registry says off.
        var model = (await _h.Options.Repository!.GetAsync("root", name, version))!;
        var files = await _h.Options.Repository.GetFilesAsync(model.Id);
        using var tf = Tf();
        await tf.DeployAsync($"root_{name}", version, label, files.Select(f =>
        {
            var path = ((ILocalFileStore)_h.Options.ModelStore!).GetLocalPath(model.StorageKey + f.Path)!;
            return new Serving.TensorFlow.ServingFile(f.Path, f.Size, path, _ => Task.FromResult<Stream>(File.OpenRead(path)));
        }).ToList());
    }

    [Test]
    public async Task Stop_takes_a_version_the_registry_does_not_serve_out_of_the_config()
    {
        await _h.ImportHalfPlusTwoAsync("m");
        await ServeBehindTheRegistryAsync("m", 1, "stable");
        (await File.ReadAllTextAsync(_h.ConfigFile)).Should().Contain("root_m");

        (await _h.RunAsync("mlmodel stop name=m version=1")).Single().Should().Equal("off");
        (await File.ReadAllTextAsync(_h.ConfigFile)).Should().NotContain("root_m").And.NotContain("stable");
        Directory.Exists(Path.Combine(_h.ServingRoot, "root_m", "1")).Should().BeFalse();
        (await _h.RunAsync("mlmodel check")).Should().BeEmpty();
        // The stale label no longer blocks a deploy with it.
        (await _h.RunAsync("mlmodel deploy name=m label=stable")).Single().Should().Equal("on", 1, "root_m");
    }

    [Test]
    public async Task Stop_without_a_version_clears_whatever_the_config_serves_of_an_unserved_model()
    {
        await _h.ImportHalfPlusTwoAsync("m");
        await ServeBehindTheRegistryAsync("m", 1, null);
        (await _h.RunAsync("mlmodel stop name=m")).Single().Should().Equal("off");
        (await File.ReadAllTextAsync(_h.ConfigFile)).Should().NotContain("root_m");
        var error = await FailsAsync(() => _h.RunAsync("mlmodel stop name=m"));
        error.Message.Should().Be("mlmodel stop: no version of 'm' is being served");
    }

    [Test]
    public async Task Check_reports_serving_and_label_drift_and_repair_brings_the_config_back_to_the_registry()
    {
        await _h.ImportHalfPlusTwoAsync("m");
        await _h.ImportHalfPlusTwoAsync("m");
        await _h.RunAsync("mlmodel deploy name=m version=1 label=stable");
        await ServeBehindTheRegistryAsync("m", 2, null);
        // A label the registry does not have, on a served version (a label move cut short).
        using (var tf = Tf())
        {
            await tf.SetLabelsAsync("root_m", new Dictionary<string, long> { ["canary"] = 1 });
        }

        var report = await _h.RunAsync("mlmodel check");
        report.Select(r => ((string)r[0]!, r[3], (string)r[4]!)).Should().BeEquivalentTo(new[]
        {
            ("serving_drift", (object?)2, "the serving config serves version 2, the registry says it is off"),
            ("label_drift", (object?)1, "the serving config has label 'canary' on version 1, the registry has no such label"),
            ("label_drift", (object?)1, "the registry has label 'stable' on version 1, the serving config does not"),
        });

        var repaired = await _h.RunAsync("mlmodel check repair=true");
        repaired.Select(r => r[5]).Should().BeEquivalentTo(new object?[] { "removed from serving", "labels set to the registry's", "labels set to the registry's" });
        (await _h.RunAsync("mlmodel check")).Should().BeEmpty();
        var config = await File.ReadAllTextAsync(_h.ConfigFile);
        config.Should().Contain("stable").And.NotContain("canary").And.NotContain("versions: 2");
        Directory.Exists(Path.Combine(_h.ServingRoot, "root_m", "2")).Should().BeFalse();
        (await _h.RunAsync("mlmodel history name=m")).Where(r => (string)r[2]! == "repair").Should().HaveCount(2);
    }

    [Test]
    public async Task A_served_ghost_of_a_deleted_model_is_found_and_removed_by_repair()
    {
        await _h.ImportHalfPlusTwoAsync("gone");
        await ServeBehindTheRegistryAsync("gone", 1, null);
        // The delete that won the race before the locks: row and files gone, the config still serving.
        var repository = _h.Options.Repository!;
        await repository.DeleteAsync("root", "gone", 1);

        var report = (await _h.RunAsync("mlmodel check")).Single(r => (string)r[0]! == "serving_drift");
        report.Should().Equal(new object?[] { "serving_drift", null, null, 1, "the serving config serves root_gone version 1, which no version in the registry is",
            "none: remove it from the serving config (a model this registry no longer has)" });
        (await _h.RunAsync("mlmodel check repair=true")).Single(r => (string)r[0]! == "serving_drift")[5].Should().Be("removed from serving");
        (await File.ReadAllTextAsync(_h.ConfigFile)).Should().NotContain("root_gone");
        Directory.Exists(Path.Combine(_h.ServingRoot, "root_gone", "1")).Should().BeFalse();
    }

    [Test]
    public async Task Delete_takes_a_version_the_config_still_serves_out_of_serving_first()
    {
        await _h.ImportHalfPlusTwoAsync("m");
        await ServeBehindTheRegistryAsync("m", 1, null);
        (await _h.RunAsync("mlmodel delete name=m version=1")).Single().Should().Equal("ok");
        (await File.ReadAllTextAsync(_h.ConfigFile)).Should().NotContain("root_m");
        Directory.Exists(Path.Combine(_h.ServingRoot, "root_m", "1")).Should().BeFalse();
    }

    [Test]
    public async Task A_garbage_serving_config_is_one_problem_and_the_rest_is_still_checked()
    {
        await _h.ImportHalfPlusTwoAsync("m");
        Directory.CreateDirectory(_h.ServingRoot);
        await File.WriteAllTextAsync(_h.ConfigFile, "this is { not a model config");
        var orphan = Path.Combine(ModelFolder("root", "ghost", 1), "x");
        Directory.CreateDirectory(Path.GetDirectoryName(orphan)!);
        await File.WriteAllTextAsync(orphan, "x");

        var report = await _h.RunAsync("mlmodel check");
        report.Select(r => r[0]).Should().BeEquivalentTo(new object?[] { "orphan_files", "serving_config" });
        var config = report.Single(r => (string)r[0]! == "serving_config");
        ((string)config[4]!).Should().Contain("models.config");
        config[5].Should().Be("none: fix or replace the serving config; nothing was changed");
    }

    // ------------------------------------------------------------ 5. temporary files

    [Test]
    public async Task Temporary_files_of_killed_writes_are_reported_removed_by_repair_and_by_delete()
    {
        await _h.ImportHalfPlusTwoAsync("m");
        await _h.ImportHalfPlusTwoAsync("m");
        var exportTemp = Path.Combine(_h.Store, "exports", "root", "m", "1", ".mlmodel-tmp-0123456789abcdef");
        var importTemp = Path.Combine(ModelFolder("root", "m", 2), ".mlmodel-tmp-feedfacefeedface-1");
        foreach (var temp in new[] { exportTemp, importTemp })
        {
            Directory.CreateDirectory(Path.GetDirectoryName(temp)!);
            await File.WriteAllBytesAsync(temp, new byte[1000]);
        }

        var report = await _h.RunAsync("mlmodel check");
        report.Select(r => (r[0], r[3], r[4])).Should().BeEquivalentTo(new[]
        {
            ((object?)"temp_files", (object?)2, (object?)"1 temporary file(s), 1,000 bytes under models/root/m/2/ left by writes that did not finish"),
            ("temp_files", 1, "1 temporary file(s), 1,000 bytes under exports/root/m/1/ left by writes that did not finish"),
        });
        (await _h.RunAsync("mlmodel check repair=true user=root name=m")).Select(r => r[5]).Should().AllBeEquivalentTo("deleted");
        File.Exists(exportTemp).Should().BeFalse();
        File.Exists(importTemp).Should().BeFalse();
        Directory.Exists(Path.Combine(_h.Store, "exports")).Should().BeFalse("the empty folders go too");

        await File.WriteAllBytesAsync(importTemp, new byte[10]);
        await _h.RunAsync("mlmodel delete name=m version=2");
        Directory.Exists(ModelFolder("root", "m", 2)).Should().BeFalse("a version's temporary files go with it");
    }

    [Test]
    public async Task Young_temporary_files_are_kept_because_a_write_may_be_running()
    {
        using var h = new EngineHarness(o => o.OrphanGracePeriod = TimeSpan.FromHours(1));
        await h.ImportHalfPlusTwoAsync("m");
        var temp = Path.Combine(h.Store, "exports", "root", "m", "1", ".mlmodel-tmp-0123456789abcdef");
        Directory.CreateDirectory(Path.GetDirectoryName(temp)!);
        await File.WriteAllBytesAsync(temp, [1]);
        ((string)(await h.RunAsync("mlmodel check repair=true")).Single()[5]!).Should().StartWith("kept: younger than");
        File.Exists(temp).Should().BeTrue();
    }

    // ------------------------------------------------------------ 6. records built by a host

    private static IEnumerable<TestCaseData> InvalidRecords()
    {
        yield return new TestCaseData(new ImportCommand("x/1", "tf", "regression", "deep", ModelFormat.SavedModel, "local", "USERS/root/m.tar"), "invalid value for 'name'");
        yield return new TestCaseData(new ImportCommand("..", "tf", "regression", "deep", ModelFormat.SavedModel, "local", "USERS/root/m.tar"), "invalid value for 'name'");
        yield return new TestCaseData(new ImportCommand("m", "tf", "", "deep", ModelFormat.SavedModel, "local", "USERS/root/m.tar"), "'kind' is empty");
        yield return new TestCaseData(new ImportCommand("m", "caffe", "regression", "deep", ModelFormat.SavedModel, "local", "USERS/root/m.tar"), "invalid value for 'analysis_tool'");
        yield return new TestCaseData(new ImportCommand("m", "tf", "regression", "deep", ModelFormat.SavedModel, "local", "USERS/root/m.tar", Parameter: "[1]"), "invalid value for 'parameter'");
        yield return new TestCaseData(new DeleteCommand("x", 0), "invalid value for 'version'");
        yield return new TestCaseData(new DeleteCommand("x", -3), "invalid value for 'version'");
        yield return new TestCaseData(new DeleteCommand("x", 1, User: "../bob"), "invalid value for 'user'");
        yield return new TestCaseData(new SummaryCommand(null!), "missing required parameter 'name'");
        yield return new TestCaseData(new DeployCommand("m", Label: "two words\n"), "invalid value for 'label'");
        yield return new TestCaseData(new ExportCommand("m", Version: 0), "invalid value for 'version'");
        yield return new TestCaseData(new CheckCommand(User: "a b"), "invalid value for 'user'");
        yield return new TestCaseData(new ListCommand(Name: "x\u0000"), "invalid value for 'name'");
    }

    [TestCaseSource(nameof(InvalidRecords))]
    public async Task A_record_built_by_a_host_is_held_to_the_language_s_rules(MlModelCommand command, string message)
    {
        await _h.ImportHalfPlusTwoAsync("x");
        var before = _h.StoredFiles();
        var error = await FailsAsync(() => _h.Engine.ExecuteAsync(command, EngineHarness.Root));
        error.Code.Should().BeOneOf(ErrorCodes.InvalidValue, ErrorCodes.MissingParameter);
        error.Message.Should().StartWith($"mlmodel {command.Operation.ToString().ToLowerInvariant()}: {message}");
        error.Line.Should().BeNull("a record has no text to point into");
        _h.StoredFiles().Should().Equal(before);
        (await _h.RunAsync("mlmodel list")).Should().HaveCount(1);
    }

    [Test]
    public async Task The_x_slash_1_import_no_longer_lands_inside_model_x()
    {
        await _h.ImportHalfPlusTwoAsync("x");
        var key = _h.PutObject("USERS/root/h.tar", Archives.FromFolder(TestPaths.Model("saved_model_half_plus_two_cpu"), "half_plus_two"));
        await FailsAsync(() => _h.Engine.ExecuteAsync(new ImportCommand("x/1", "tf", "regression", "deep", ModelFormat.SavedModel, "local", key), EngineHarness.Root));
        (await _h.RunAsync("mlmodel delete name=x version=1")).Single().Should().Equal("ok");
        _h.StoredFiles().Should().BeEmpty();
    }

    // ------------------------------------------------------------ 12. every attempt audited

    [Test]
    public async Task Refusals_denials_and_failures_are_in_the_audit_trail()
    {
        await _h.ImportHalfPlusTwoAsync("m");
        await _h.RunAsync("mlmodel deploy name=m");
        await FailsAsync(() => _h.RunAsync("mlmodel delete name=m version=1"));                          // served
        await FailsAsync(() => _h.RunAsync("mlmodel delete name=m version=9"));                          // not found
        await FailsAsync(() => _h.RunAsync("mlmodel delete user=root name=m version=1", EngineHarness.Alice)); // denied
        await FailsAsync(() => _h.RunAsync("mlmodel stop name=m version=9"));                            // failed stop
        await FailsAsync(() => _h.RunAsync("mlmodel deploy name=m version=9"));                          // failed deploy

        var history = (await _h.RunAsync("mlmodel history name=m")).ToList();
        history.Take(5).Select(r => ((string)r[1]!, (string)r[2]!, r[5], (string)r[6]!)).Should().Equal(
            ("root", "deploy", 9, "error"),
            ("root", "stop", 9, "error"),
            ("alice", "delete", 1, "denied"),
            ("root", "delete", 9, "error"),
            ("root", "delete", 1, "error"));
        ((string)history[2][7]!).Should().Be("mlmodel delete: user 'alice' may not act on models of user 'root'; only administrators can");
        ((string)history[4][7]!).Should().StartWith("mlmodel delete: version 1 of 'm' is being served as root_m");
    }
}
