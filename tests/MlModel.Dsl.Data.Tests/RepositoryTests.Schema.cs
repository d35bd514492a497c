using Dapper;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Data.Internal;
using MlModel.Dsl.Data.Tests.Support;

namespace MlModel.Dsl.Data.Tests;

public abstract partial class RepositoryTests
{
    private static async Task<List<int>> SchemaRowsAsync(TestDatabase database)
    {
        await using var connection = await database.OpenAsync();
        return [.. await connection.QueryAsync<int>("SELECT version FROM mlmodel_schema ORDER BY version")];
    }

    private static async Task<bool> TableExistsAsync(TestDatabase database, string table)
    {
        await using var connection = await database.OpenAsync();
        try
        {
            await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM " + table);
            return true;
        }
        catch (System.Data.Common.DbException)
        {
            return false;
        }
    }

    [Test]
    public async Task A_database_left_at_migration_1_is_upgraded_when_opened()
    {
        await using var old = await Database.CreateSiblingAsync();
        var oldRepository = TestDatabase.Core(old.CreateRepository());
        await oldRepository.MigrateAsync(target: 1, CancellationToken.None);
        (await SchemaRowsAsync(old)).Should().Equal(1);
        (await TableExistsAsync(old, "mlmodel_audit")).Should().BeFalse();

        // A model and its counter written by the old release, straight into the v1 tables.
        var created = oldRepository.Dialect.Time(DbTime.Normalize(T0));
        await using (var connection = await old.OpenAsync())
        {
            await connection.ExecuteAsync(
                "INSERT INTO mlmodel_models (user_name, name, version, analysis_tool, created, modified) VALUES ('root', 'legacy', 1, 'tf', @Created, @Created)",
                new { Created = created });
            await connection.ExecuteAsync("INSERT INTO mlmodel_version_counters (user_name, name, last_version) VALUES ('root', 'legacy', 1)");
        }

        var repository = old.CreateRepository();
        await repository.InitializeAsync();

        (await SchemaRowsAsync(old)).Should().Equal(1, 2, 3, 4, 5, 6);
        (await TableExistsAsync(old, "mlmodel_audit")).Should().BeTrue();
        var legacy = await repository.GetAsync("root", "legacy", null);
        legacy!.Created.Should().Be(T0);
        (await repository.AllocateVersionAsync("root", "legacy")).Should().Be(2);
        await repository.AppendAuditAsync(Samples.Audit("import", 2, T0, name: "legacy"));
        await repository.SaveConnectorAsync(new ConnectorInfo("c", "local", new Dictionary<string, string>()));
        (await repository.GetHistoryAsync("root", "legacy", null)).Should().ContainSingle();
    }

    [Test]
    public async Task Connectors_stored_before_owners_existed_are_owned_by_no_one_and_shared_after_the_upgrade()
    {
        await using var old = await Database.CreateSiblingAsync();
        var oldRepository = TestDatabase.Core(old.CreateRepository());
        await oldRepository.MigrateAsync(target: 4, CancellationToken.None);
        // Rows as the release before owners wrote them (migration 3's columns only).
        await using (var connection = await old.OpenAsync())
        {
            await connection.ExecuteAsync("INSERT INTO mlmodel_connectors (id, type, settings) VALUES ('179', 's3', '{\"bucket\":\"models\"}')");
            await connection.ExecuteAsync("INSERT INTO mlmodel_connectors (id, type, settings) VALUES ('files', 'local', '{\"root\":\"/data\"}')");
        }

        var repository = old.CreateRepository();
        await repository.InitializeAsync();

        (await SchemaRowsAsync(old)).Should().Equal(1, 2, 3, 4, 5, 6);
        (await repository.ListConnectorsAsync()).Select(c => (c.Id, c.Owner, c.Shared, c.Settings.Count))
            .Should().Equal(("179", null, true, 1), ("files", null, true, 1));
        // The column's default is for the rows that were there: a new connector is shared only when saved so.
        await repository.SaveConnectorAsync(new ConnectorInfo("new", "local", new Dictionary<string, string> { ["root"] = "/r" }) { Owner = "demo" });
        (await repository.GetConnectorAsync("new"))!.Should().Match<ConnectorInfo>(c => c.Owner == "demo" && !c.Shared);
        await using (var connection = await old.OpenAsync())
        {
            (await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM mlmodel_connectors WHERE owner_name IS NULL")).Should().Be(2);
        }
    }

    [Test]
    public async Task A_version_stored_before_signatures_existed_has_none_after_the_upgrade_and_can_be_given_one()
    {
        await using var old = await Database.CreateSiblingAsync();
        var oldRepository = TestDatabase.Core(old.CreateRepository());
        await oldRepository.MigrateAsync(target: 5, CancellationToken.None);
        var created = oldRepository.Dialect.Time(DbTime.Normalize(T0));
        await using (var connection = await old.OpenAsync())
        {
            await connection.ExecuteAsync(
                "INSERT INTO mlmodel_models (user_name, name, version, analysis_tool, format, created, modified) VALUES ('root', 'before', 1, 'tf', 'saved_model', @Created, @Created)",
                new { Created = created });
        }

        var repository = old.CreateRepository();
        await repository.InitializeAsync();

        (await SchemaRowsAsync(old)).Should().Equal(1, 2, 3, 4, 5, 6);
        var before = await repository.GetAsync("root", "before", 1);
        before!.Signature.Should().BeNull();
        before.GetSignatures().Should().BeEmpty();
        var updated = await repository.UpdateAsync(before with { Signature = Samples.Signature });
        updated.Signature.Should().Be(Samples.Signature);
        (await repository.GetAsync("root", "before", 1))!.GetSignatures().Single().Name.Should().Be("serving_default");
    }

    [Test]
    public async Task Initialising_again_changes_nothing()
    {
        await ImportAsync(Samples.Model());

        await Repository.InitializeAsync();
        await Database.CreateRepository().InitializeAsync();

        (await SchemaRowsAsync(Database)).Should().Equal(1, 2, 3, 4, 5, 6);
        (await Repository.GetAsync("root", "mnist_v1", 1)).Should().NotBeNull();
    }

    [Test]
    public async Task A_repository_used_without_InitializeAsync_creates_the_schema_itself()
    {
        await using var fresh = await Database.CreateSiblingAsync();

        fresh.CreateRepository().List(new ModelFilter()).Should().BeEmpty();
        (await fresh.CreateRepository().AllocateVersionAsync("root", "mnist_v1")).Should().Be(1);

        (await SchemaRowsAsync(fresh)).Should().Equal(1, 2, 3, 4, 5, 6);
    }

    [Test]
    public async Task A_database_from_a_newer_release_is_refused()
    {
        await using var newer = await Database.CreateSiblingAsync();
        await newer.CreateRepository().InitializeAsync();
        await using (var connection = await newer.OpenAsync())
        {
            await connection.ExecuteAsync("INSERT INTO mlmodel_schema (version, applied) VALUES (99, @Applied)",
                new { Applied = TestDatabase.Core(Repository).Dialect.Time(DbTime.Normalize(T0)) });
        }

        var act = () => newer.CreateRepository().InitializeAsync();

        var error = (await act.Should().ThrowAsync<MlModelException>()).Which;
        error.Code.Should().Be(ErrorCodes.Backend);
        error.Message.Should().Contain("schema is at version 99, newer than this library's 6");
    }
}
