using System.Reflection;
using System.Text;
using Dapper;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Data.Internal;
using MlModel.Dsl.Data.Tests.Support;

namespace MlModel.Dsl.Data.Tests;

/// <summary>The SQLite list reader's own parts: that it is in use, and its time parsing.</summary>
public sealed class SqliteListReaderTests
{
    [Test]
    public async Task The_direct_C_API_path_is_available_with_the_bundled_SQLite()
    {
        // The shared suite's ListEntries tests cover this path only if it is taken: on the
        // bundled e_sqlite3 (what this library ships with) it must be.
        await using var database = await SqliteTestDatabase.CreateAsync();
        await database.CreateRepository().InitializeAsync();

        SqliteListReader.IsAvailable.Should().BeTrue();
    }

    [Test]
    [NonParallelizable] // ForceDapper is process-wide
    public async Task The_direct_reader_and_the_dapper_path_read_the_same_entries()
    {
        await using var database = await SqliteTestDatabase.CreateAsync();
        var repository = database.CreateRepository();
        await ImportAsync(repository, Samples.Model("root", "a", 1));
        await ImportAsync(repository, Samples.Bare("bob", "모델", 1) with { Description = "설명 'quoted' \n line", Serving = true });
        await ImportAsync(repository, Samples.Model("root", "a", 2) with { Feature = null, Label = "" });
        foreach (var filter in new[] { new ModelFilter(), new ModelFilter(User: "root"), new ModelFilter(Name: "모델"), new ModelFilter(Serving: true) })
        {
            var direct = repository.ListEntries(filter).ToList();
            List<ModelListEntry> dapper;
            SqliteListReader.ForceDapper = true;
            try
            {
                dapper = repository.ListEntries(filter).ToList();
            }
            finally
            {
                SqliteListReader.ForceDapper = false;
            }
            direct.Should().NotBeEmpty();
            direct.Should().Equal(dapper, filter.ToString());
        }
    }

    [Test]
    public async Task Times_stored_in_another_form_are_still_read()
    {
        await using var database = await SqliteTestDatabase.CreateAsync();
        var repository = database.CreateRepository();
        await ImportAsync(repository, Samples.Model());
        await using (var connection = await database.OpenAsync())
        {
            // As another tool might write them: ISO 8601 with a T and an offset.
            await connection.ExecuteAsync("UPDATE mlmodel_models SET created = '2024-02-29T21:04:05+09:00', modified = '2024-03-01 00:00:00'");
        }

        var entry = repository.ListEntries(new ModelFilter()).Single();

        entry.Created.Should().Be(new DateTime(2024, 2, 29, 12, 4, 5, DateTimeKind.Utc));
        entry.Modified.Should().Be(new DateTime(2024, 3, 1, 0, 0, 0, DateTimeKind.Utc));
        entry.Should().Be(repository.List(new ModelFilter()).Select(ModelListEntry.From).Single());
    }

    [TestCase("2020-03-23 17:11:02.123456", 2020, 3, 23, 17, 11, 2, 1_234_560)]
    [TestCase("0001-01-01 00:00:00.000000", 1, 1, 1, 0, 0, 0, 0)]
    [TestCase("9999-12-31 23:59:59.999999", 9999, 12, 31, 23, 59, 59, 9_999_990)]
    [TestCase("2024-02-29 00:00:00.000001", 2024, 2, 29, 0, 0, 0, 10)]
    public void The_repository_s_own_time_form_is_parsed_without_a_string(string text, int y, int mo, int d, int h, int mi, int s, long ticks)
    {
        SqliteListReader.TryParseStored(Encoding.ASCII.GetBytes(text), out var time).Should().BeTrue();

        time.Should().Be(new DateTime(y, mo, d, h, mi, s, DateTimeKind.Utc).AddTicks(ticks));
        time.Kind.Should().Be(DateTimeKind.Utc);
        time.Should().Be(DbTime.FromDb(text));
    }

    [TestCase("2020-03-23 17:11:02.12345")]
    [TestCase("2020-03-23T17:11:02.123456")]
    [TestCase("2020-13-23 17:11:02.123456")]
    [TestCase("2023-02-29 17:11:02.123456")]
    [TestCase("2020-03-23 24:11:02.123456")]
    [TestCase("2020-03-23 17:60:02.123456")]
    [TestCase("0000-03-23 17:11:02.123456")]
    [TestCase("2020-03-23 17:11:02.12345a")]
    [TestCase("2020-03-23 17:11:02+09:00:")]
    [TestCase("")]
    public void Other_forms_are_left_to_the_general_parser(string text) =>
        SqliteListReader.TryParseStored(Encoding.ASCII.GetBytes(text), out _).Should().BeFalse();

    [TestCase(typeof(SqliteModelRepository))]
    [TestCase(typeof(PostgresModelRepository))]
    public void The_public_repositories_forward_every_member_including_the_defaulted_ones(Type repository)
    {
        // A default interface member that a wrapper does not forward silently falls back to the
        // default (ListEntries once did: the list then read all 29 columns).
        var map = repository.GetInterfaceMap(typeof(IModelRepository));

        map.TargetMethods.Where(m => m.DeclaringType!.Assembly != repository.Assembly).Select(m => m.Name)
            .Should().BeEmpty($"{repository.Name} must implement every IModelRepository member itself");
        typeof(IModelRepository).GetMethods(BindingFlags.Public | BindingFlags.Instance).Should().Contain(m => m.Name == "ListEntries");
    }

    private static async Task ImportAsync(IModelRepository repository, ModelVersion model)
    {
        var version = await repository.AllocateVersionAsync(model.User, model.Name);
        await repository.InsertAsync(model with { Version = version }, []);
    }
}
