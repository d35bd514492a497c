using System.Formats.Tar;
using MlModel.Dsl.IntegrationTests.Support;

namespace MlModel.Dsl.IntegrationTests.Execution;

/// <summary>A model of many small files: the per-file memory of import and export is what grows with them.</summary>
public sealed class ManyFilesTests
{
    private const int Files = 20_000;

    [Test]
    public async Task A_model_of_20000_files_round_trips_with_its_manifest_checked()
    {
        using var h = new EngineHarness();
        var pb = await File.ReadAllBytesAsync(Path.Combine(TestPaths.Model("saved_model_half_plus_two_cpu"), "saved_model.pb"));
        using var archive = new MemoryStream();
        await using (var tar = new TarWriter(archive, TarEntryFormat.Pax, leaveOpen: true))
        {
            await tar.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, "m/saved_model.pb") { DataStream = new MemoryStream(pb) });
            for (var i = 0; i < Files; i++)
            {
                var content = BitConverter.GetBytes(i);
                await tar.WriteEntryAsync(new PaxTarEntry(TarEntryType.RegularFile, $"m/variables/f{i:D6}") { DataStream = new MemoryStream(content) });
            }
        }
        h.PutObject("USERS/root/many.tar", archive.ToArray());
        const string import = "mlmodel import analysis_tool=tf kind=k algorithm=deep format=saved_model connector_id=local";
        (await h.RunAsync($"{import} name=m path=USERS/root/many.tar")).Single()[0].Should().Be("ok");

        var exported = new Uri((string)(await h.RunAsync("mlmodel export name=m")).Single()[1]!).LocalPath;
        var names = new List<string>();
        string? manifest = null;
        await using (var reader = new TarReader(File.OpenRead(exported)))
        {
            while (await reader.GetNextEntryAsync() is { } entry)
            {
                names.Add(entry.Name);
                if (entry.Name == "MANIFEST.sha256")
                {
                    using var text = new StreamReader(entry.DataStream!);
                    manifest = await text.ReadToEndAsync();
                }
            }
        }
        names.Should().HaveCount(Files + 2).And.OnlyHaveUniqueItems();
        manifest!.Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().HaveCount(Files + 1);

        // Re-imported, the manifest is checked rather than stored as a model file, and the next export is the same.
        h.PutObject("USERS/root/again.tar", await File.ReadAllBytesAsync(exported));
        (await h.RunAsync($"{import} name=m2 path=USERS/root/again.tar")).Single()[0].Should().Be("ok");
        h.StoredFiles().Should().NotContain(f => f.EndsWith("MANIFEST.sha256", StringComparison.Ordinal));
    }
}
