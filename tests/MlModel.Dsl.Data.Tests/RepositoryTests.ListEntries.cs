using MlModel.Dsl.Backends;
using MlModel.Dsl.Data.Tests.Support;

namespace MlModel.Dsl.Data.Tests;

// ListEntries is what `mlmodel list` reads: the 17 list fields, by Dapper on PostgreSQL and by
// SQLite's C API on SQLite (SqliteListReader). Whatever the path, it must agree with List.
public abstract partial class RepositoryTests
{
    [TestCaseSource(nameof(Filters))]
    public async Task ListEntries_agree_with_List_for_each_filter(ModelFilter filter)
    {
        await InsertCatalogueAsync();

        var entries = Repository.ListEntries(filter).ToList();

        entries.Should().Equal(Repository.List(filter).Select(ModelListEntry.From));
    }

    [Test]
    public async Task ListEntries_read_nulls_empty_long_repeated_and_non_ASCII_values_exactly()
    {
        // Consecutive rows that repeat, differ in the last byte, go null and come back: the
        // SQLite reader reuses the previous row's string when the bytes are equal, so its
        // memory of the previous row must never leak into the next.
        var longText = string.Concat(Enumerable.Repeat("긴 설명 long ", 40)); // > 256 UTF-8 bytes
        string?[] descriptions =
        [
            longText, longText, longText + "!", null, longText, "", "", null, null, "😀 emoji", "😀 emojj",
            "a", "b", "a", new string('x', 256), new string('x', 256), new string('x', 255) + "y",
        ];
        var inserted = new List<ModelVersion>();
        for (var i = 0; i < descriptions.Length; i++)
        {
            inserted.Add(await ImportAsync(Samples.Model(name: "repeat") with
            {
                Description = descriptions[i],
                Kind = i % 3 == 0 ? null : "classification",
                Query = i % 2 == 0 ? "model x | fit" : null,
                Serving = i % 4 == 1,
                DataModelName = i == 5 ? "마지막" : null,
                Created = Samples.Created.AddSeconds(i).AddTicks(i * 10),
                Modified = Samples.Created.AddDays(i).AddTicks(7_654_320),
            }));
        }

        var entries = Repository.ListEntries(new ModelFilter(Name: "repeat")).ToList();

        entries.Select(e => e.Description).Should().Equal(descriptions);
        entries.Should().Equal(inserted.Select(ModelListEntry.From));
        entries.Should().OnlyContain(e => e.Created.Kind == DateTimeKind.Utc && e.Modified.Kind == DateTimeKind.Utc);
    }

    [Test]
    public async Task ListEntries_are_lazy_and_an_abandoned_enumeration_gives_its_connection_back()
    {
        for (var i = 0; i < 3; i++)
        {
            await ImportAsync(Samples.Model());
        }

        // More abandoned enumerations than the test pool holds (20): a leaked statement or
        // connection would exhaust it.
        for (var i = 0; i < 60; i++)
        {
            Repository.ListEntries(new ModelFilter()).Take(1).Should().HaveCount(1);
        }

        using (var open = Repository.ListEntries(new ModelFilter()).GetEnumerator())
        {
            open.MoveNext().Should().BeTrue();
            await ImportAsync(Samples.Model());
            open.MoveNext().Should().BeTrue();
        }
        Repository.ListEntries(new ModelFilter()).Should().HaveCount(4);
    }
}
