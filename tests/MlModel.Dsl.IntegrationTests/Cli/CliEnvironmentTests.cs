using MlModel.Dsl.IntegrationTests.Support;

namespace MlModel.Dsl.IntegrationTests.Cli;

/// <summary>
/// The tool on a machine that lets it down: a lost database beside the models it described, a
/// read-only or full disk (real ones: a tmpfs mounted for the test), a plain file where a folder
/// of the home belongs. Each says what is wrong, after the command's name, and changes nothing.
/// </summary>
public class CliEnvironmentTests
{
    private TempFolder _temp = null!;
    private string _home = null!;

    [SetUp]
    public void SetUp()
    {
        _temp = new TempFolder();
        _home = _temp.Combine("home");
    }

    [TearDown]
    public void TearDown() => _temp.Dispose();

    private string Database => Path.Combine(_home, "mlmodel.db");

    private string Store => Path.Combine(_home, "store");

    private string Serving => Path.Combine(_home, "serving");

    private async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await MlModel.Cli.Cli.RunAsync(["--home", _home, "--no-progress", .. args], stdout, stderr, CancellationToken.None);
        return (code, stdout.ToString(), stderr.ToString().Trim());
    }

    /// <summary>Puts the half_plus_two archive under objects/ and imports it as <paramref name="name"/>.</summary>
    private async Task<(int Code, string Out, string Err)> ImportAsync(string name = "m")
    {
        PutArchive(name);
        return await RunImportAsync(name);
    }

    private void PutArchive(string name)
    {
        var folder = Path.Combine(_home, "objects", "USERS", "root");
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, name + ".tar"), Archives.FromFolder(TestPaths.Model("saved_model_half_plus_two_cpu"), name));
    }

    private Task<(int Code, string Out, string Err)> RunImportAsync(string name) =>
        RunAsync("import", $"name={name}", "analysis_tool=tf", "kind=regression", "algorithm=deep", "format=saved_model",
            "connector_id=local", $"path=USERS/root/{name}.tar");

    private List<string> ModelFiles() =>
        Directory.Exists(Path.Combine(Store, "models"))
            ? Directory.EnumerateFiles(Path.Combine(Store, "models"), "*", SearchOption.AllDirectories).Order().ToList()
            : [];

    // ------------------------------------------------------------------ a lost database

    [Test]
    public async Task An_emptied_database_beside_stored_models_is_refused_and_left_as_it_was()
    {
        (await ImportAsync("m")).Code.Should().Be(0);
        (await ImportAsync("k")).Code.Should().Be(0);
        var files = ModelFiles();
        File.Copy(Database, Database + ".backup");
        File.WriteAllBytes(Database, []); // what a failed copy or a full disk at the wrong moment leaves

        var refusal = $"the SQLite database {Database} is empty (0 bytes), but the model store local:{Store} holds 2 model folder(s) " +
            "under models/; restore the database from a backup, or move the store's models/ away to start afresh";
        var (code, output, error) = await RunAsync("list");
        code.Should().Be(1);
        output.Should().BeEmpty();
        error.Should().Be("mlmodel list: " + refusal);
        (code, _, error) = await RunAsync("check", "repair=true");
        code.Should().Be(1);
        error.Should().Be("mlmodel check: " + refusal);
        (await RunAsync("--format", "json", "list")).Err.Should().Contain("\"code\":\"backend\"");
        (code, _, error) = await RunAsync("connector", "list");
        code.Should().Be(1);
        error.Should().Be("mlmodel connector list: " + refusal);

        new FileInfo(Database).Length.Should().Be(0, "a refusal changes nothing");
        ModelFiles().Should().Equal(files, "check repair=true must not take the models for orphans");

        File.Copy(Database + ".backup", Database, overwrite: true);
        (code, output, _) = await RunAsync("--format", "csv", "list");
        code.Should().Be(0);
        output.Should().Contain(",m,1,").And.Contain(",k,1,");
    }

    [Test]
    public async Task A_missing_database_beside_stored_models_is_refused_and_not_created()
    {
        (await ImportAsync()).Code.Should().Be(0);
        File.Delete(Database);

        var (code, _, error) = await RunAsync("import", "name=m2", "analysis_tool=tf", "kind=regression", "algorithm=deep",
            "format=saved_model", "connector_id=local", "path=USERS/root/m.tar");

        code.Should().Be(1);
        error.Should().Be($"mlmodel import: the SQLite database {Database} does not exist, but the model store local:{Store} holds 1 model folder(s) " +
            "under models/; restore the database from a backup, or move the store's models/ away to start afresh");
        File.Exists(Database).Should().BeFalse();
    }

    [Test]
    public async Task A_database_whose_models_were_all_deleted_is_not_refused_even_with_leftover_files()
    {
        (await ImportAsync()).Code.Should().Be(0);
        (await RunAsync("delete", "name=m", "version=1")).Code.Should().Be(0);
        // What an import killed with the machine leaves: files under models/ and no row.
        var leftover = Path.Combine(Store, "models", "root", "ghost", "1", "saved_model.pb");
        Directory.CreateDirectory(Path.GetDirectoryName(leftover)!);
        File.WriteAllText(leftover, "x");

        var (code, output, error) = await RunAsync("list");

        error.Should().BeEmpty();
        code.Should().Be(0);
        output.Should().Contain("(0 rows)");
    }

    [Test]
    public async Task The_first_run_on_a_machine_without_a_home_creates_it()
    {
        // Inside a folder that exists, as ~/.mlmodel is on a fresh machine (a home in a missing
        // folder is a mistyped --home: CliTests pins that usage error).
        _home = _temp.Combine("not-there-yet");

        var (code, output, error) = await RunAsync("list");

        error.Should().BeEmpty();
        code.Should().Be(0);
        output.Should().Contain("(0 rows)");
        File.Exists(Database).Should().BeTrue();
        (await ImportAsync()).Code.Should().Be(0, "a second run finds the repository in use");
        (await RunAsync("list")).Code.Should().Be(0);
    }

    // ------------------------------------------------------------------ read-only and full disks

    [Test]
    public async Task A_read_only_home_says_the_file_system_is_read_only()
    {
        using var disk = new Tmpfs(_home);
        (await ImportAsync()).Code.Should().Be(0);
        disk.MakeReadOnly();

        var (code, _, error) = await RunAsync("list");
        code.Should().Be(1);
        error.Should().Be($"mlmodel list: SQLite model repository at {Database}: initialize failed: the file system is read-only.");
        (code, _, error) = await RunImportAsync("m");
        code.Should().Be(1);
        error.Should().Be($"mlmodel import: SQLite model repository at {Database}: initialize failed: the file system is read-only.");

        disk.MakeWritable();
        (await RunAsync("--format", "csv", "list")).Out.Should().Contain(",m,1,", "nothing was lost");
    }

    [Test]
    public async Task A_home_that_cannot_be_created_on_a_read_only_disk_says_so()
    {
        using var disk = new Tmpfs(_temp.Combine("disk"));
        disk.MakeReadOnly();
        _home = Path.Combine(disk.Path, "home");

        var (code, _, error) = await RunAsync("list");

        code.Should().Be(1);
        error.Should().Be($"mlmodel list: SQLite model repository at {Database}: initialize failed: the file system is read-only.");
    }

    [Test]
    public async Task A_full_home_disk_says_no_space_left_on_device()
    {
        using var disk = new Tmpfs(_home);
        (await ImportAsync()).Code.Should().Be(0);
        PutArchive("n");
        disk.Fill();

        var (code, _, error) = await RunImportAsync("n");

        code.Should().Be(1);
        error.Should().Be($"mlmodel import: SQLite model repository at {Database}: initialize failed: no space left on device.");
        error.Should().NotContain("disk I/O error");
    }

    [Test]
    public async Task A_full_model_store_fails_the_import_with_no_space_left_and_leaves_nothing()
    {
        PutArchive("m");
        (await RunAsync("list")).Code.Should().Be(0);
        using var disk = new Tmpfs(Store, sizeKiB: 1024);
        disk.Fill();

        var (code, _, error) = await RunImportAsync("m");

        code.Should().Be(1);
        error.Should().StartWith("mlmodel import: could not write object 'models/root/m/1/m/")
            .And.EndWith($"' in local:{Store}: no space left on device");
        (await RunAsync("list")).Out.Should().Contain("(0 rows)");
        ModelFiles().Should().BeEmpty();
        (await RunAsync("--format", "csv", "history", "name=m")).Out.Should().Contain("error,mlmodel import: could not write object");
    }

    [Test]
    public async Task A_read_only_model_store_fails_import_and_export_with_the_reason()
    {
        (await ImportAsync()).Code.Should().Be(0);
        var files = ModelFiles();
        var store = Store + ".saved";
        Directory.Move(Store, store);
        using var disk = new Tmpfs(Store);
        CopyFolder(store, Store);
        disk.MakeReadOnly();

        var (code, _, error) = await RunImportAsync("m");
        code.Should().Be(1);
        error.Should().StartWith("mlmodel import: could not write object 'models/root/m/2/m/")
            .And.EndWith($"' in local:{Store}: the file system is read-only");
        (code, _, error) = await RunAsync("export", "name=m");
        code.Should().Be(1);
        error.Should().Be($"mlmodel export: could not write object 'exports/root/m/1/m_v1_export.tar' in local:{Store}: the file system is read-only");
        ModelFiles().Should().Equal(files);
    }

    [Test]
    public async Task A_read_only_serving_folder_fails_deploy_and_stop_at_once_with_the_reason()
    {
        (await ImportAsync()).Code.Should().Be(0);
        (await RunAsync("deploy", "name=m")).Code.Should().Be(0);
        var serving = Serving + ".saved";
        Directory.Move(Serving, serving);
        using var disk = new Tmpfs(Serving);
        CopyFolder(serving, Serving);
        var config = File.ReadAllText(Path.Combine(Serving, "models.config"));
        disk.MakeReadOnly();

        var (code, _, error) = await RunAsync("stop", "name=m");
        code.Should().Be(1);
        // At once: not after waiting for the config's lock as if another deploy held it.
        error.Should().Be($"mlmodel stop: Cannot open the lock file {Serving}/models.config.lock: the file system is read-only.");
        (code, _, error) = await ImportAndDeployAsync("k");
        code.Should().Be(1);
        error.Should().Be($"mlmodel deploy: Cannot publish version 1 of root_k under {Serving}/root_k: the file system is read-only.");

        File.ReadAllText(Path.Combine(Serving, "models.config")).Should().Be(config);
        (await RunAsync("--format", "csv", "list", "serving=on")).Out.Should().Contain(",m,1,").And.NotContain(",k,1,");
    }

    [Test]
    public async Task A_full_serving_folder_fails_deploy_with_no_space_left_on_device()
    {
        (await ImportAsync()).Code.Should().Be(0);
        using var disk = new Tmpfs(Serving, sizeKiB: 1024);
        disk.Fill();

        var (code, _, error) = await RunAsync("deploy", "name=m");

        code.Should().Be(1);
        error.Should().Be($"mlmodel deploy: Cannot publish version 1 of root_m under {Serving}/root_m: no space left on device.");
        (await RunAsync("--format", "csv", "list", "serving=on")).Out.Should().NotContain(",m,1,");
    }

    private async Task<(int Code, string Out, string Err)> ImportAndDeployAsync(string name)
    {
        (await ImportAsync(name)).Code.Should().Be(0);
        return await RunAsync("deploy", $"name={name}");
    }

    private static void CopyFolder(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    // ------------------------------------------------------------------ a file where a folder belongs

    [TestCase("store", "list", "model files and exports")]
    [TestCase("serving", "deploy", "the versions TensorFlow Serving loads and models.config")]
    [TestCase("objects", "import", "the archives the 'local' connector imports from")]
    public async Task A_plain_file_in_place_of_a_home_folder_is_named(string folder, string operation, string holds)
    {
        (await ImportAsync()).Code.Should().Be(0);
        var path = Path.Combine(_home, folder);
        if (Directory.Exists(path))
        {
            Directory.Move(path, path + ".saved");
        }
        File.WriteAllText(path, "not a folder");

        var (code, _, error) = operation == "import" ? await RunImportAsync("m") : await RunAsync(operation, "name=m");

        code.Should().Be(1);
        error.Should().Be($"mlmodel {operation}: '{folder}' in the home {_home} is a file, not a folder; mlmodel keeps {holds} there: move the file away");
    }

    [Test]
    public async Task A_home_that_is_a_file_is_named()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(_home)!);
        File.WriteAllText(_home, "not a folder");

        var (code, _, error) = await RunAsync("list");

        code.Should().Be(1);
        error.Should().Be($"mlmodel list: the home {_home} is a file, not a folder; give another with --home or MLMODEL_HOME");
    }
}
