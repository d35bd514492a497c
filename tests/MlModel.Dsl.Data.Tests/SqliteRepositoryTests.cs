using System.Runtime.Versioning;
using Dapper;
using Microsoft.Data.Sqlite;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Data.Tests.Support;

namespace MlModel.Dsl.Data.Tests;

/// <summary>The shared suite on SQLite (a real file in a temp folder), plus what only SQLite has.</summary>
[TestFixture]
public sealed class SqliteRepositoryTests : RepositoryTests
{
    protected override Task<TestDatabase> CreateDatabaseAsync() => SqliteTestDatabase.CreateAsync();

    private SqliteTestDatabase Sqlite => (SqliteTestDatabase)Database;

    [Test]
    public async Task The_folder_and_file_are_created_and_the_file_is_in_WAL_mode()
    {
        await using var fresh = (SqliteTestDatabase)await Database.CreateSiblingAsync();
        Directory.Exists(Path.GetDirectoryName(fresh.FilePath)).Should().BeFalse();

        await fresh.CreateRepository().InitializeAsync();

        File.Exists(fresh.FilePath).Should().BeTrue();
        await using var connection = await fresh.OpenAsync();
        (await connection.ExecuteScalarAsync<string>("PRAGMA journal_mode")).Should().Be("wal");
    }

    [Test]
    [UnsupportedOSPlatform("windows")]
    public async Task The_file_and_its_wal_and_shm_are_created_0600_in_a_folder_created_0700()
    {
        await using var fresh = (SqliteTestDatabase)await Database.CreateSiblingAsync();
        var repository = fresh.CreateRepository();

        await repository.InitializeAsync();
        await repository.SaveConnectorAsync(new ConnectorInfo("c", "local", new Dictionary<string, string> { ["root"] = "/r" }));

        File.GetUnixFileMode(Path.GetDirectoryName(fresh.FilePath)!).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        // The pooled connection keeps -wal and -shm open: they exist now.
        foreach (var file in new[] { fresh.FilePath, fresh.FilePath + "-wal", fresh.FilePath + "-shm" })
        {
            File.Exists(file).Should().BeTrue(file);
            File.GetUnixFileMode(file).Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite, file);
        }
    }

    [Test]
    [UnsupportedOSPlatform("windows")]
    public async Task A_rollback_journal_takes_the_mode_of_the_file()
    {
        await using var fresh = (SqliteTestDatabase)await Database.CreateSiblingAsync();
        await fresh.CreateRepository().InitializeAsync();
        await fresh.ReleaseRepositoriesAsync();

        // Out of WAL (which only another tool would do), SQLite writes a -journal; PERSIST keeps it.
        await using (var connection = await fresh.OpenAsync())
        {
            (await connection.ExecuteScalarAsync<string>("PRAGMA journal_mode = PERSIST")).Should().Be("persist");
            await connection.ExecuteAsync("INSERT INTO mlmodel_version_counters (user_name, name, last_version) VALUES ('root', 'm', 1)");
        }

        File.Exists(fresh.FilePath + "-journal").Should().BeTrue();
        File.GetUnixFileMode(fresh.FilePath + "-journal").Should().Be(UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    [Test]
    [UnsupportedOSPlatform("windows")]
    public async Task An_existing_file_keeps_its_mode()
    {
        await using var fresh = (SqliteTestDatabase)await Database.CreateSiblingAsync();
        Directory.CreateDirectory(Path.GetDirectoryName(fresh.FilePath)!);
        await File.WriteAllBytesAsync(fresh.FilePath, []);
        var shared = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite;
        File.SetUnixFileMode(fresh.FilePath, shared);

        await fresh.CreateRepository().InitializeAsync();

        File.GetUnixFileMode(fresh.FilePath).Should().Be(shared, "a file someone made group-writable on purpose is theirs to set");
        File.GetUnixFileMode(fresh.FilePath + "-wal").Should().Be(shared);
    }

    [Test]
    public void Connections_have_foreign_keys_on_and_a_busy_timeout()
    {
        var repository = (SqliteModelRepository)Database.CreateRepository(new ModelRepositoryOptions { BusyTimeout = TimeSpan.FromSeconds(7) });

        using var connection = repository.Core.Dialect.Open();

        connection.ExecuteScalar<long>("PRAGMA foreign_keys").Should().Be(1);
        connection.ExecuteScalar<long>("PRAGMA busy_timeout").Should().Be(7000);
    }

    [Test]
    public async Task A_path_and_a_connection_string_open_the_same_file()
    {
        var byPath = new SqliteModelRepository(Sqlite.FilePath);
        var byConnectionString = new SqliteModelRepository($"Data Source={Sqlite.FilePath};Cache=Private");
        try
        {
            byPath.DatabasePath.Should().Be(byConnectionString.DatabasePath).And.Be(Sqlite.FilePath);
            await byPath.InsertAsync(Samples.Model(), []);
            (await byConnectionString.GetAsync("root", "mnist_v1", 1)).Should().NotBeNull();
        }
        finally
        {
            await byPath.DisposeAsync();
            await byConnectionString.DisposeAsync();
        }
    }

    [Test]
    public async Task A_path_with_an_equals_sign_is_still_a_path()
    {
        await using var fresh = (SqliteTestDatabase)await Database.CreateSiblingAsync();
        var path = Path.Combine(Path.GetDirectoryName(fresh.FilePath)!, "a=b", "models.db");
        await using var repository = new SqliteModelRepository(path);

        await repository.InitializeAsync();

        repository.DatabasePath.Should().Be(path);
        File.Exists(path).Should().BeTrue();
    }

    [TestCase(":memory:")]
    [TestCase("Data Source=x;Mode=Memory;Cache=Shared")]
    [TestCase("  ")]
    public void In_memory_and_empty_databases_are_refused(string value)
    {
        FluentActions.Invoking(() => new SqliteModelRepository(value)).Should().Throw<ArgumentException>();
    }

    [Test]
    public async Task A_file_that_is_not_a_database_is_a_backend_error()
    {
        await using var fresh = (SqliteTestDatabase)await Database.CreateSiblingAsync();
        Directory.CreateDirectory(Path.GetDirectoryName(fresh.FilePath)!);
        await File.WriteAllTextAsync(fresh.FilePath, new string('x', 4096));
        var repository = fresh.CreateRepository();

        var error = (await FluentActions.Awaiting(() => repository.GetAsync("root", "mnist_v1", null))
            .Should().ThrowAsync<MlModelException>()).Which;

        error.Code.Should().Be(ErrorCodes.Backend);
        error.Message.Should().Be($"SQLite model repository at {fresh.FilePath}: initialize failed: SQLite Error 26: 'file is not a database'.");
    }

    [Test]
    public async Task A_writer_waits_for_another_process_lock_instead_of_failing()
    {
        await using var holder = new SqliteConnection($"Data Source={Sqlite.FilePath}");
        await holder.OpenAsync();
        await using var transaction = holder.BeginTransaction(deferred: false);   // BEGIN IMMEDIATE: the write lock

        var allocation = Task.Run(() => Repository.AllocateVersionAsync("root", "mnist_v1"));
        await Task.Delay(300);
        allocation.IsCompleted.Should().BeFalse("the write lock is held elsewhere");

        await transaction.CommitAsync();
        (await allocation).Should().Be(1);
    }

    [Test]
    public async Task A_writer_that_waits_longer_than_the_busy_timeout_gets_a_backend_error()
    {
        var impatient = Database.CreateRepository(new ModelRepositoryOptions { BusyTimeout = TimeSpan.FromMilliseconds(200) });
        await impatient.InitializeAsync();
        await using var holder = new SqliteConnection($"Data Source={Sqlite.FilePath}");
        await holder.OpenAsync();
        await using var transaction = holder.BeginTransaction(deferred: false);

        var error = (await FluentActions.Awaiting(() => impatient.AllocateVersionAsync("root", "mnist_v1"))
            .Should().ThrowAsync<MlModelException>()).Which;

        error.Code.Should().Be(ErrorCodes.Backend);
        error.Message.Should().Contain("allocate version failed").And.Contain("database is locked");
    }

    [Test]
    public async Task A_missing_database_file_is_reported_as_new_and_not_created()
    {
        await using var fresh = (SqliteTestDatabase)await Database.CreateSiblingAsync();

        (await fresh.CreateRepository().DescribeIfNewAsync()).Should().Be($"the SQLite database {fresh.FilePath} does not exist");

        File.Exists(fresh.FilePath).Should().BeFalse();
        Directory.Exists(Path.GetDirectoryName(fresh.FilePath)).Should().BeFalse();
    }

    [Test]
    public async Task An_empty_database_file_is_reported_as_new_and_left_empty()
    {
        await using var fresh = (SqliteTestDatabase)await Database.CreateSiblingAsync();
        Directory.CreateDirectory(Path.GetDirectoryName(fresh.FilePath)!);
        await File.WriteAllBytesAsync(fresh.FilePath, []);

        (await fresh.CreateRepository().DescribeIfNewAsync()).Should().Be($"the SQLite database {fresh.FilePath} is empty (0 bytes)");

        new FileInfo(fresh.FilePath).Length.Should().Be(0);
    }

    [Test]
    public async Task A_repository_that_created_its_database_remembers_what_it_found()
    {
        await using var fresh = (SqliteTestDatabase)await Database.CreateSiblingAsync();
        Directory.CreateDirectory(Path.GetDirectoryName(fresh.FilePath)!);
        await File.WriteAllBytesAsync(fresh.FilePath, []);
        var repository = fresh.CreateRepository();
        await repository.InitializeAsync();

        (await repository.DescribeIfNewAsync()).Should().Be($"the SQLite database {fresh.FilePath} was empty (0 bytes) when this process opened it");
        (await fresh.CreateRepository().DescribeIfNewAsync()).Should().Be($"the SQLite database {fresh.FilePath} holds no model and has never allocated a version");
    }

    [Test]
    public async Task A_folder_where_the_database_file_belongs_is_named()
    {
        await using var fresh = (SqliteTestDatabase)await Database.CreateSiblingAsync();
        Directory.CreateDirectory(fresh.FilePath);

        var error = (await FluentActions.Awaiting(() => fresh.CreateRepository().InitializeAsync()).Should().ThrowAsync<MlModelException>()).Which;

        error.Code.Should().Be(ErrorCodes.Backend);
        error.Message.Should().Be($"SQLite model repository at {fresh.FilePath}: initialize failed: {fresh.FilePath} is a folder, not a file.");
    }

    [Test]
    public async Task A_file_where_the_database_folder_belongs_is_named()
    {
        await using var fresh = (SqliteTestDatabase)await Database.CreateSiblingAsync();
        var folder = Path.GetDirectoryName(fresh.FilePath)!;
        await File.WriteAllTextAsync(folder, "not a folder");

        var error = (await FluentActions.Awaiting(() => fresh.CreateRepository().InitializeAsync()).Should().ThrowAsync<MlModelException>()).Which;

        error.Message.Should().Be($"SQLite model repository at {fresh.FilePath}: initialize failed: {folder} is a file, not a folder.");
    }
}
