using Dapper;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Data.Tests.Support;
using Npgsql;

namespace MlModel.Dsl.Data.Tests;

/// <summary>
/// The shared suite on PostgreSQL: a database of its own on the server in
/// <c>MLMODEL_TEST_PG</c>. Fails, never skips, when that is not set.
/// </summary>
[TestFixture]
public sealed class PostgresRepositoryTests : RepositoryTests
{
    protected override Task<TestDatabase> CreateDatabaseAsync() => PostgresTestDatabase.CreateAsync();

    private PostgresTestDatabase Postgres => (PostgresTestDatabase)Database;

    [Test]
    public void A_malformed_connection_string_is_an_argument_error_without_the_password()
    {
        var act = () => new PostgresModelRepository($"Host=x;Password={TestDatabase.Secret};Port=notanumber");

        act.Should().Throw<ArgumentException>().Which.Message.Should().NotContain(TestDatabase.Secret);
    }

    [Test]
    public async Task A_wrong_password_is_a_backend_error_without_the_password()
    {
        // A role that needs a password: trust authentication would let anyone in.
        var builder = new NpgsqlConnectionStringBuilder(Postgres.ConnectionString) { Username = "no_such_role_" + Guid.NewGuid().ToString("N")[..8], Password = TestDatabase.Secret };
        await using var repository = new PostgresModelRepository(builder.ConnectionString);

        var error = (await FluentActions.Awaiting(() => repository.InitializeAsync()).Should().ThrowAsync<MlModelException>()).Which;

        error.Code.Should().Be(ErrorCodes.Backend);
        error.Message.Should().StartWith("PostgreSQL model repository at ").And.NotContain(TestDatabase.Secret);
    }

    [Test]
    public async Task Keys_sort_by_code_point_whatever_the_database_collation()
    {
        await using var connection = await Database.OpenAsync();
        var collations = await connection.QueryAsync<string>(
            "SELECT collation_name FROM information_schema.columns WHERE table_name = 'mlmodel_models' AND column_name IN ('user_name', 'name')");

        collations.Should().Equal("C", "C");
    }

    [Test]
    public async Task Migrations_wait_for_the_advisory_lock()
    {
        await using var fresh = await Database.CreateSiblingAsync();
        var freshConnection = await fresh.OpenAsync();
        await using (freshConnection)
        {
            await using var transaction = await freshConnection.BeginTransactionAsync();
            await freshConnection.ExecuteAsync("SELECT pg_advisory_xact_lock(@Key)", new { Key = 0x6D6C6D6F64656CL }, transaction);

            var initialization = Task.Run(() => fresh.CreateRepository().InitializeAsync());
            await Task.Delay(300);
            initialization.IsCompleted.Should().BeFalse("another process holds the schema lock");

            await transaction.CommitAsync();
            await initialization;
        }
        await using var check = await fresh.OpenAsync();
        (await check.QueryAsync<int>("SELECT version FROM mlmodel_schema ORDER BY version")).Should().Equal(1, 2, 3, 4, 5, 6);
    }
}
