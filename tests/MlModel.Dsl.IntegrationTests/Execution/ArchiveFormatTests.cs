using System.Security.Cryptography;
using MlModel.Dsl.Backends.Local;
using MlModel.Dsl.Execution.Archives;
using MlModel.Dsl.IntegrationTests.Support;

namespace MlModel.Dsl.IntegrationTests.Execution;

/// <summary>
/// A model arrives as tar, tar.gz, tar.bz2, tar.xz, tar.zst or zip, told apart by content: each
/// container of the real half_plus_two SavedModel imports to the same files. The hostile cases of
/// every container are in <see cref="HostileArchiveTests"/>.
/// </summary>
public class ArchiveFormatTests
{
    private const string Import = "mlmodel import name=m analysis_tool=tf kind=regression algorithm=deep format=saved_model connector_id=local";

    private EngineHarness _h = null!;

    [SetUp]
    public void SetUp() => _h = new EngineHarness(o => o.ArchiveLimits = new ArchiveLimits { MaxExpandedBytes = 8 << 20, MaxEntries = 50 });

    [TearDown]
    public void TearDown() => _h.Dispose();

    private static string Model => TestPaths.Model("saved_model_half_plus_two_cpu");

    private static IEnumerable<TestCaseData> Containers()
    {
        TestCaseData Case(string name, Func<byte[]> archive) => new TestCaseData(archive).SetName("Imports: " + name);

        yield return Case("tar (GNU tar)", Archives.Sample);
        yield return Case("tar.gz", () => Archives.Compress(Archives.Sample(), "gz"));
        yield return Case("tar.gz of three members (pigz)", () => Archives.Compress(Archives.Sample(), "gz", streams: 3));
        yield return Case("tar.bz2 (bzip2)", () => Archives.Fixture("half_plus_two.tar.bz2"));
        yield return Case("tar.bz2 of three streams (pbzip2)", () => Archives.Compress(Archives.Sample(), "bz2", streams: 3));
        yield return Case("tar.xz (xz)", () => Archives.Fixture("half_plus_two.tar.xz"));
        yield return Case("tar.xz of two streams", () => Archives.Fixture("half_plus_two.two-streams.tar.xz"));
        yield return Case("tar.zst (zstd, with its checksum)", () => Archives.Fixture("half_plus_two.tar.zst"));
        yield return Case("tar.zst of three frames (pzstd)", () => Archives.Compress(Archives.Sample(), "zst", streams: 3));
        yield return Case("zip (Info-ZIP)", () => Archives.Fixture("half_plus_two.zip"));
        yield return Case("zip (the runtime's ZipArchive)", () => Archives.ZipFromFolder(Model, "half_plus_two"));
        yield return Case("zip written to a pipe (data descriptors)", () => Archives.ZipFromFolder(Model, "half_plus_two", streamed: true));
        yield return Case("zip (SharpCompress's ZipWriter)", () => Archives.SharpCompressZip(Model, "half_plus_two"));
        yield return Case("zip of files at its root", () => Archives.ZipFromFolder(Model));
    }

    [TestCaseSource(nameof(Containers))]
    public async Task A_saved_model_imports_from_every_container_told_by_its_content(Func<byte[]> archive)
    {
        // No extension to go by: the key says nothing of the format.
        _h.PutObject("USERS/root/model", archive());
        (await _h.RunAsync($"{Import} path=USERS/root/model")).Single().Should().Equal("ok", "m", 1);

        var version = Path.Combine(_h.Store, "models", "root", "m", "1");
        Directory.EnumerateFiles(version, "*", SearchOption.AllDirectories).Should().HaveCount(4);
        var root = Path.GetDirectoryName(Directory.EnumerateFiles(version, "saved_model.pb", SearchOption.AllDirectories).Single())!;
        Hashes(root).Should().Equal(Hashes(Model));
    }

    [Test]
    public async Task A_zip_from_a_source_that_cannot_seek_is_read_from_a_temporary_copy_that_is_always_removed()
    {
        // S3 gives a stream that cannot seek; a zip is read from its end. The copy is made with
        // no name left in the folder, so nothing stays there, whether the import works or not.
        using var spool = new TempFolder();
        using var store = new TempFolder();
        var good = Archives.ZipFromFolder(Model, "half_plus_two");
        var bad = Archives.Zip(Archives.ZipFile("saved_model.pb", "pb"), Archives.ZipFile("../evil", "x"));

        var stored = await ReadAsync(good, spool.Path, store.Path);
        stored.Files.Select(f => f.Path).Should().Contain("saved_model.pb");
        Directory.EnumerateFileSystemEntries(spool.Path).Should().BeEmpty();

        var act = () => ReadAsync(bad, spool.Path, store.Path);
        (await act.Should().ThrowAsync<ArchiveException>()).Which.Message.Should().Be("entry '../evil' climbs out of the archive with '..'");
        Directory.EnumerateFileSystemEntries(spool.Path).Should().BeEmpty();
    }

    [Test]
    public async Task A_zip_larger_than_a_model_within_the_limits_is_refused_before_it_is_copied()
    {
        using var spool = new TempFolder();
        using var store = new TempFolder();
        var zip = Archives.Zip(new Archives.ZipItem("saved_model.pb", new byte[3 << 20], Level: System.IO.Compression.CompressionLevel.NoCompression));
        var act = () => ReadAsync(zip, spool.Path, store.Path, new ArchiveLimits { MaxExpandedBytes = 2 << 20, MaxEntries = 10 });
        (await act.Should().ThrowAsync<ArchiveException>()).Which.Message.Should().StartWith("the zip archive is larger than a model within the limits can be");
        Directory.EnumerateFileSystemEntries(spool.Path).Should().BeEmpty();
    }

    private static async Task<StoredModel> ReadAsync(byte[] zip, string spool, string storeRoot, ArchiveLimits? limits = null)
    {
        var store = new LocalObjectStore(storeRoot);
        await using var batch = store.BeginWriteBatch();
        var reader = new ModelArchiveReader(batch, "models/root/m/1/", ModelFormat.SavedModel, limits ?? new ArchiveLimits()) { SpoolFolder = spool };
        await using var source = Archives.NotSeekable(new MemoryStream(zip));
        return await reader.ReadArchiveAsync(source, zip.Length, null, CancellationToken.None);
    }

    private static List<string> Hashes(string folder) =>
        Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(folder, f).Replace('\\', '/') + " " + Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))))
            .Order(StringComparer.Ordinal).ToList();
}
