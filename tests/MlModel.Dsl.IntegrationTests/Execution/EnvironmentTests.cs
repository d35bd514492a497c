using MlModel.Dsl.Backends.Local;
using MlModel.Dsl.Data;
using MlModel.Dsl.IntegrationTests.Support;
using Npgsql;

namespace MlModel.Dsl.IntegrationTests.Execution;

/// <summary>
/// What a host's engine does when its database was lost while its model store was not, and when
/// the store's or the serving folder's place is taken by a plain file.
/// </summary>
public class EnvironmentTests
{
    private const string Advice = "restore the database from a backup, or move the store's models/ away to start afresh";

    private static async Task<MlModelException> RefusedAsync(Func<Task> call) =>
        (await FluentActions.Awaiting(call).Should().ThrowAsync<MlModelException>()).Which;

    [Test]
    public async Task A_host_engine_refuses_an_emptied_sqlite_database_beside_stored_models()
    {
        using var h = new EngineHarness();
        await h.ImportHalfPlusTwoAsync("m");
        var database = Path.Combine(h.Home, "mlmodel.db");
        await ((SqliteModelRepository)h.Options.Repository!).DisposeAsync();
        File.WriteAllBytes(database, []);
        var options = new MlModelOptions { Repository = new SqliteModelRepository(database), ModelStore = h.Options.ModelStore };
        var engine = new MlModelEngine(options);

        var refusal = $"the SQLite database {database} is empty (0 bytes), but the model store local:{h.Store} holds 1 model folder(s) under models/; {Advice}";
        var error = await RefusedAsync(() => engine.InitializeAsync());
        error.Code.Should().Be(ErrorCodes.Backend);
        error.Message.Should().Be("mlmodel: " + refusal);
        error = await RefusedAsync(() => engine.ExecuteAsync("mlmodel check repair=true", EngineHarness.Root));
        error.Message.Should().Be("mlmodel check: " + refusal);

        new FileInfo(database).Length.Should().Be(0);
        h.StoredFiles().Should().Contain(f => f.StartsWith("models/root/m/1/", StringComparison.Ordinal));
        await ((SqliteModelRepository)options.Repository).DisposeAsync();
    }

    [Test]
    public async Task A_host_engine_refuses_a_new_postgresql_database_beside_stored_models_until_they_are_moved_away()
    {
        var name = "mlmodel_env_" + Guid.NewGuid().ToString("N")[..12];
        var admin = new NpgsqlConnectionStringBuilder(TestServices.Postgres);
        await using (var connection = new NpgsqlConnection(admin.ConnectionString))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await create.ExecuteNonQueryAsync();
        }
        var connectionString = new NpgsqlConnectionStringBuilder(TestServices.Postgres) { Database = name }.ConnectionString;
        try
        {
            await using var repository = new PostgresModelRepository(connectionString);
            using var h = new EngineHarness(repository: repository);
            // The files of a deployment whose database was dropped and created again.
            var file = Path.Combine(h.Store, "models", "root", "m", "4", "saved_model.pb");
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            await File.WriteAllTextAsync(file, "x");

            var error = await RefusedAsync(() => h.Engine.InitializeAsync());

            error.Code.Should().Be(ErrorCodes.Backend);
            error.Message.Should().Be($"mlmodel: the PostgreSQL database {admin.Host}:{admin.Port}/{name} holds no model and has never allocated a version, " +
                $"but the model store local:{h.Store} holds 1 model folder(s) under models/; {Advice}");

            Directory.Move(Path.Combine(h.Store, "models"), Path.Combine(h.Home, "models.moved"));
            (await h.RunAsync("mlmodel list")).Should().BeEmpty("a failed start is tried again, and an empty store is a first run");
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await using var connection = new NpgsqlConnection(admin.ConnectionString);
            await connection.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE)", connection);
            await drop.ExecuteNonQueryAsync();
        }
    }

    [Test]
    public async Task Files_under_models_that_are_not_version_folders_are_counted_as_files()
    {
        using var h = new EngineHarness();
        Directory.CreateDirectory(Path.Combine(h.Store, "models"));
        await File.WriteAllTextAsync(Path.Combine(h.Store, "models", "README"), "x");

        var error = await RefusedAsync(() => h.RunAsync("mlmodel list"));

        error.Message.Should().Be($"mlmodel list: the SQLite database {h.Home}/mlmodel.db does not exist, but the model store local:{h.Store} holds 1 file(s) under models/; {Advice}");
        File.Exists(Path.Combine(h.Home, "mlmodel.db")).Should().BeFalse();
    }

    [Test]
    public async Task A_local_store_whose_root_is_a_file_says_so_for_writes_and_listings()
    {
        using var h = new EngineHarness();
        await h.ImportHalfPlusTwoAsync("m");
        Directory.Move(h.Store, h.Store + ".saved");
        await File.WriteAllTextAsync(h.Store, "not a folder");

        var error = await RefusedAsync(() => h.ImportHalfPlusTwoAsync("k"));
        error.Message.Should().StartWith("mlmodel import: could not write object 'models/root/k/1/half_plus_two/")
            .And.EndWith($"' in local:{h.Store}: {h.Store} is a file, not a folder");
        error = await RefusedAsync(() => h.RunAsync("mlmodel check"));
        error.Message.Should().StartWith("mlmodel check: could not stat object 'models/root/m/1/half_plus_two/")
            .And.EndWith($"' in local:{h.Store}: {h.Store} is a file, not a folder");
        error = await RefusedAsync(() => h.RunAsync("mlmodel export name=m"));
        error.Message.Should().Be($"mlmodel export: could not write object 'exports/root/m/1/m_v1_export.tar' in local:{h.Store}: {h.Store} is a file, not a folder");
    }

    [Test]
    public async Task A_serving_root_that_is_a_file_says_so_for_deploy_and_status()
    {
        using var h = new EngineHarness();
        await h.ImportHalfPlusTwoAsync("m");
        await File.WriteAllTextAsync(h.ServingRoot, "not a folder");

        foreach (var operation in new[] { "deploy", "status" })
        {
            var error = await RefusedAsync(() => h.RunAsync($"mlmodel {operation} name=m"));
            error.Message.Should().Be($"mlmodel {operation}: Cannot read the TensorFlow Serving model config {h.ConfigFile}: {h.ServingRoot} is a file, not a folder.");
        }
        (await h.RunAsync("mlmodel list serving=on")).Should().BeEmpty();
    }

    [Test]
    public async Task A_lock_file_that_cannot_be_created_fails_at_once_instead_of_waiting_for_the_lock()
    {
        using var h = new EngineHarness();
        await h.ImportHalfPlusTwoAsync("m");
        Directory.CreateDirectory(h.ConfigFile + ".lock");

        var error = await RefusedAsync(() => h.RunAsync("mlmodel deploy name=m"));

        error.Message.Should().EndWith($"Cannot open the lock file {h.ConfigFile}.lock: {h.ConfigFile}.lock is a folder, not a file.");
    }

    // The shapes .NET gives these failures on Unix: an IOException whose HResult is the errno, an
    // UnauthorizedAccessException with such an inner exception, a DirectoryNotFoundException for ENOENT/ENOTDIR.
    [TestCase(28, "no space left on device")]
    [TestCase(30, "the file system is read-only")]
    [TestCase(13, "permission denied")]
    [TestCase(1, "permission denied")]
    [TestCase(20, "a part of the path is a file, not a folder")]
    [TestCase(21, "it is a folder, not a file")]
    [TestCase(5, "input/output error: the disk or the file system failed")]
    public void Error_numbers_are_put_in_words_wherever_dotnet_keeps_them(int errno, string words)
    {
        FileSystemErrors.Reason(new IOException("Some .NET text : '/tmp/x/.mlmodel-tmp-1'", errno)).Should().Be(words);
        FileSystemErrors.Reason(new UnauthorizedAccessException("Access to the path is denied.", new IOException("x", errno))).Should().Be(words);
    }

    [Test]
    public void The_errors_of_a_full_device_and_of_a_file_in_the_way_are_put_in_words()
    {
        // /dev/full: every write fails with ENOSPC, on a single write path.
        var full = FluentActions.Invoking(() => File.WriteAllBytes("/dev/full", [1])).Should().Throw<IOException>().Which;
        FileSystemErrors.Reason(full).Should().Be("no space left on device");

        using var temp = new TempFolder();
        var blocker = temp.Combine("store");
        File.WriteAllText(blocker, "x");
        var inTheWay = FluentActions.Invoking(() => Directory.CreateDirectory(Path.Combine(blocker, "models", "a")))
            .Should().Throw<IOException>().Which;
        FileSystemErrors.Reason(inTheWay, Path.Combine(blocker, "models", "a")).Should().Be($"{blocker} is a file, not a folder");
    }
}
