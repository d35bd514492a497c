using MlModel.Dsl.Backends;
using MlModel.Dsl.Data.Tests.Support;

namespace MlModel.Dsl.Data.Tests;

public abstract partial class RepositoryTests
{
    // Users and names whose code-point order differs from a linguistic one ("B" < "a", digits
    // before letters, Hangul after ASCII): list order must be the same on every database.
    private static readonly (string User, string Name, string Tool, bool Serving)[] Catalogue =
    [
        ("root", "mnist_v1", "tf", true),
        ("root", "B-model", "spark", false),
        ("root", "a.model", "tf", false),
        ("root", "모델", "tf", true),
        ("demo", "mnist_v1", "tf", false),
        ("demo", "9lives", "sklearn", false),
        ("Admin", "x", "r", true),
        ("데모", "모델", "spark", false),
    ];

    private async Task<List<ModelVersion>> InsertCatalogueAsync()
    {
        var inserted = new List<ModelVersion>();
        // Two versions each, inserted newest name first, so insertion order is not list order.
        foreach (var (user, name, tool, serving) in Catalogue.Reverse())
        {
            for (var v = 0; v < 2; v++)
            {
                inserted.Add(await ImportAsync(Samples.Model(user, name) with { AnalysisTool = tool, Serving = serving && v == 1 }));
            }
        }
        return inserted;
    }

    private static List<ModelVersion> Ordered(IEnumerable<ModelVersion> models) =>
        [.. models.OrderBy(m => m.User, StringComparer.Ordinal).ThenBy(m => m.Name, StringComparer.Ordinal).ThenBy(m => m.Version)];

    [Test]
    public async Task List_returns_everything_ordered_by_user_name_and_version()
    {
        var inserted = await InsertCatalogueAsync();

        var listed = Repository.List(new ModelFilter()).ToList();

        listed.Should().BeEquivalentTo(Ordered(inserted), o => o.WithStrictOrdering());
        listed.Select(m => m.User).Distinct().Should().Equal("Admin", "demo", "root", "데모");
    }

    public static IEnumerable<TestCaseData> Filters()
    {
        yield return new TestCaseData(new ModelFilter(User: "root")).SetArgDisplayNames("user");
        yield return new TestCaseData(new ModelFilter(Name: "mnist_v1")).SetArgDisplayNames("name");
        yield return new TestCaseData(new ModelFilter(AnalysisTool: "spark")).SetArgDisplayNames("analysis_tool");
        yield return new TestCaseData(new ModelFilter(Serving: true)).SetArgDisplayNames("serving on");
        yield return new TestCaseData(new ModelFilter(Serving: false)).SetArgDisplayNames("serving off");
        yield return new TestCaseData(new ModelFilter(User: "root", AnalysisTool: "tf")).SetArgDisplayNames("user and tool");
        yield return new TestCaseData(new ModelFilter(User: "root", Name: "모델", AnalysisTool: "tf", Serving: true)).SetArgDisplayNames("all four");
        yield return new TestCaseData(new ModelFilter(User: "nobody")).SetArgDisplayNames("no match");
        yield return new TestCaseData(new ModelFilter(User: "%")).SetArgDisplayNames("wildcard is literal");
    }

    [TestCaseSource(nameof(Filters))]
    public async Task List_applies_each_filter(ModelFilter filter)
    {
        var inserted = await InsertCatalogueAsync();
        var expected = Ordered(inserted.Where(m =>
            (filter.User is null || m.User == filter.User)
            && (filter.Name is null || m.Name == filter.Name)
            && (filter.AnalysisTool is null || m.AnalysisTool == filter.AnalysisTool)
            && (filter.Serving is null || m.Serving == filter.Serving)));

        var listed = Repository.List(filter).ToList();

        listed.Should().BeEquivalentTo(expected, o => o.WithStrictOrdering());
    }

    [Test]
    public async Task List_streams_ten_thousand_rows_without_holding_them()
    {
        const int Rows = 10_000;
        // Fat rows (about 8 KB of UTF-16 each): holding them all would take 80 MB.
        var evaluation = "[" + string.Join(", ", Enumerable.Repeat(Samples.Evaluation[1..^1], 20)) + "]";
        await TestDatabase.Core(Repository).InsertManyAsync(Enumerable.Range(0, Rows).Select(i =>
            (Samples.Model(name: $"m{i / 100:D3}", version: i % 100 + 1) with { Evaluation = evaluation, Description = $"row {i}" },
             (IReadOnlyList<ModelFile>)[])));

        var count = 0;
        var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        long heapAtFirst = 0, heapAtLast = 0;
        ModelVersion? previous = null;
        foreach (var model in Repository.List(new ModelFilter(User: "root")))
        {
            if (previous is not null)
            {
                (string.CompareOrdinal(previous.Name, model.Name) < 0
                    || (previous.Name == model.Name && previous.Version < model.Version)).Should().BeTrue("rows come ordered");
            }
            previous = model;
            count++;
            if (count == 1_000)
            {
                heapAtFirst = GC.GetTotalMemory(forceFullCollection: true);
            }
            else if (count == Rows)
            {
                heapAtLast = GC.GetTotalMemory(forceFullCollection: true);
            }
        }

        count.Should().Be(Rows);
        // Buffered, all 10,000 rows (about 80 MB) would be live from the first one on.
        (heapAtFirst - heapBefore).Should().BeLessThan(4 * 1024 * 1024, "the first thousand rows must not bring the rest with them");
        (heapAtLast - heapBefore).Should().BeLessThan(4 * 1024 * 1024, "rows already read must not stay on the heap");
    }

    [Test]
    public async Task List_is_lazy_and_an_abandoned_enumeration_gives_its_connection_back()
    {
        for (var i = 0; i < 5; i++)
        {
            await ImportAsync(Samples.Model());
        }

        // More abandoned enumerations than the test pool holds (20): a leak would exhaust it.
        for (var i = 0; i < 60; i++)
        {
            Repository.List(new ModelFilter()).Take(2).Should().HaveCount(2);
            using var enumerator = Repository.List(new ModelFilter()).GetEnumerator();
            enumerator.MoveNext().Should().BeTrue();
        }

        // Writes go on while a reader is open (WAL on SQLite, MVCC on PostgreSQL).
        using (var open = Repository.List(new ModelFilter()).GetEnumerator())
        {
            open.MoveNext().Should().BeTrue();
            await ImportAsync(Samples.Model());
            open.MoveNext().Should().BeTrue();
        }
        Repository.List(new ModelFilter()).Should().HaveCount(6);
    }
}
