using MlModel.Dsl.IntegrationTests.Support;

namespace MlModel.Dsl.IntegrationTests.Execution;

/// <summary>Promises the output makes, kept: an export's expiry, a table's whole text, a home that is where it was said to be.</summary>
public class PromiseTests
{
    [Test]
    public async Task An_export_past_its_expiry_is_removed_by_the_next_export_and_by_check_repair()
    {
        using var h = new EngineHarness();
        await h.ImportHalfPlusTwoAsync("m");
        await h.ImportHalfPlusTwoAsync("m");
        await h.RunAsync("mlmodel export name=m version=1");
        var v1 = Path.Combine(h.Store, "exports", "root", "m", "1", "m_v1_export.tar");
        File.Exists(v1).Should().BeTrue();

        File.SetLastWriteTimeUtc(v1, DateTime.UtcNow.AddHours(-2));
        await h.RunAsync("mlmodel export name=m version=2");
        File.Exists(v1).Should().BeFalse("its URL said it expires after 3600 s");
        File.Exists(Path.Combine(h.Store, "exports", "root", "m", "2", "m_v2_export.tar")).Should().BeTrue();

        var v2 = Path.Combine(h.Store, "exports", "root", "m", "2", "m_v2_export.tar");
        File.SetLastWriteTimeUtc(v2, DateTime.UtcNow.AddHours(-2));
        var report = (await h.RunAsync("mlmodel check")).Single();
        report.Should().Equal(new object?[] { "expired_export", "root", "m", 2, $"1 export(s), {new FileInfo(v2).Length:N0} bytes, older than the download URL's expiry (3600 s)", "none" });
        (await h.RunAsync("mlmodel check repair=true")).Single()[5].Should().Be("deleted");
        File.Exists(v2).Should().BeFalse();
        (await h.RunAsync("mlmodel check")).Should().BeEmpty();
    }

    [Test]
    public void A_wrapped_table_shows_a_long_cell_whole_on_more_lines_of_its_row()
    {
        var detail = "the serving config serves version 2, the registry says it is off; run mlmodel stop name=m version=2 to take it out";
        using var result = new ResultSet(
            [new ResultField("problem", FieldType.String), new ResultField("detail", FieldType.String), new ResultField("action", FieldType.String)],
            [["serving_drift", detail, "none"], ["temp_files", "short", "deleted"]]);
        var writer = new StringWriter();
        ResultWriter.WriteTable(result, writer, 40, wrap: true);
        var lines = writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);

        lines.Should().HaveCountGreaterThan(5, "the long detail takes several lines of its row");
        lines.Max(l => l.Length).Should().BeLessThan(80);
        string.Join(" ", lines.Skip(2).SkipLast(1).Select(l => l.Split('|')[1].Trim())).Should().Contain(detail, "nothing is cut");
        lines[^1].Should().Be("(2 rows)");
        ResultWriter.ToTable(result, 40).Should().Contain("…", "without wrap, the table still cuts");
    }
}
