using System.Formats.Tar;
using System.Security.Cryptography;
using MlModel.Dsl.IntegrationTests.Support;

namespace MlModel.Dsl.IntegrationTests.Execution;

public class ImportExportTests
{
    private EngineHarness _h = null!;

    [SetUp]
    public void SetUp() => _h = new EngineHarness(o => o.ArchiveLimits = new ArchiveLimits { MaxExpandedBytes = 8 << 20, MaxEntries = 50 });

    [TearDown]
    public void TearDown() => _h.Dispose();

    private const string Import = "mlmodel import name=m analysis_tool=tf kind=regression algorithm=deep connector_id=local";

    [TestCase(null, false)]
    [TestCase("half_plus_two", false)]
    [TestCase("half_plus_two", true)]
    [TestCase(".", false)]
    public async Task A_real_saved_model_imports_from_the_root_or_a_single_top_folder_plain_or_gzipped(string? top, bool gzip)
    {
        var key = _h.PutObject("USERS/root/model.tar", Archives.FromFolder(TestPaths.Model("saved_model_half_plus_two_cpu"), top, gzip));
        var result = await _h.RunAsync($"{Import} format=saved_model path={key}");
        result.Fields.Select(f => f.Name).Should().Equal("result", "name", "version");
        result.Single().Should().Equal("ok", "m", 1);

        var files = _h.StoredFiles();
        files.Should().Contain(f => f.EndsWith("saved_model.pb", StringComparison.Ordinal));
        files.Should().Contain(f => f.EndsWith("variables/variables.index", StringComparison.Ordinal));
        files.Should().Contain(f => f.EndsWith("assets/foo.txt", StringComparison.Ordinal));
    }

    [Test]
    public async Task Versions_go_up_by_one_and_are_not_reused_after_a_delete()
    {
        (await _h.ImportHalfPlusTwoAsync("m")).Should().Be(1);
        (await _h.ImportHalfPlusTwoAsync("m")).Should().Be(2);
        await _h.RunAsync("mlmodel delete name=m version=2");
        (await _h.ImportHalfPlusTwoAsync("m")).Should().Be(3);
    }

    [Test]
    public async Task Export_then_import_gives_an_identical_model()
    {
        await _h.ImportHalfPlusTwoAsync("m", top: null);
        var export = (await _h.RunAsync("mlmodel export name=m")).Single();
        export[0].Should().Be("ok");
        export[2].Should().Be(3600);
        var url = new Uri((string)export[1]!);
        url.Scheme.Should().Be("file");
        var tar = await File.ReadAllBytesAsync(url.LocalPath);

        // GNU tar reads it, and sha256sum accepts its manifest.
        using var unpacked = new TempFolder();
        await File.WriteAllBytesAsync(unpacked.Combine("x.tar"), tar);
        Run("tar", $"-xf x.tar", unpacked.Path).Should().Be(0);
        Run("sha256sum", "--quiet -c MANIFEST.sha256", unpacked.Path).Should().Be(0);

        _h.PutObject("USERS/root/export.tar", tar);
        (await _h.RunAsync($"{Import.Replace("name=m", "name=m2", StringComparison.Ordinal)} format=saved_model path=USERS/root/export.tar")).Single()[0].Should().Be("ok");
        Hashes(_h.Store, "models/root/m/1/").Should().Equal(Hashes(_h.Store, "models/root/m2/1/"));
    }

    [Test]
    public async Task Export_of_a_corrupted_model_file_fails_and_writes_no_archive()
    {
        await _h.ImportHalfPlusTwoAsync("m", top: null);
        var victim = Path.Combine(_h.Store, "models", "root", "m", "1", "variables", "variables.data-00000-of-00001");
        var bytes = await File.ReadAllBytesAsync(victim);
        bytes[0] ^= 0xff;
        await File.WriteAllBytesAsync(victim, bytes);

        var act = () => _h.RunAsync("mlmodel export name=m");
        var error = (await act.Should().ThrowAsync<MlModelException>()).Which.Error;
        error.Code.Should().Be("integrity");
        error.Message.Should().StartWith("mlmodel export: file 'variables/variables.data-00000-of-00001' of version 1 of 'm' is corrupt: its SHA-256 is ");
        _h.StoredFiles().Should().NotContain(f => f.StartsWith("exports", StringComparison.Ordinal));
    }

    [Test]
    public async Task Delete_removes_the_row_the_files_and_the_exports()
    {
        await _h.ImportHalfPlusTwoAsync("m");
        await _h.RunAsync("mlmodel export name=m");
        (await _h.RunAsync("mlmodel delete name=m version=1")).Single().Should().Equal("ok");
        _h.StoredFiles().Should().BeEmpty();
        (await _h.RunAsync("mlmodel list")).Should().BeEmpty();
    }

    [Test]
    public async Task A_delete_that_failed_halfway_finishes_when_run_again()
    {
        await _h.ImportHalfPlusTwoAsync("m", top: null);
        // Half done: some files are gone, the row is still there.
        File.Delete(Path.Combine(_h.Store, "models", "root", "m", "1", "saved_model.pb"));
        (await _h.RunAsync("mlmodel delete name=m version=1")).Single().Should().Equal("ok");
        _h.StoredFiles().Should().BeEmpty();
        (await _h.RunAsync("mlmodel list")).Should().BeEmpty();
    }

    [Test]
    public async Task An_h5_model_imports_when_its_hdf5_signature_is_there()
    {
        byte[] h5 = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3];
        _h.PutObject("USERS/root/h5.tar", Archives.Of(Archives.File("model/model.h5", h5)));
        (await _h.RunAsync($"{Import} format=h5 path=USERS/root/h5.tar")).Single()[0].Should().Be("ok");
        var summary = (await _h.RunAsync("mlmodel summary name=m")).ToDictionary(r => (string)r[0]!, r => r[1]);
        summary["filename"].Should().Be("model.h5");
        summary["format"].Should().Be("h5");
    }

    [Test]
    public async Task A_spark_model_takes_algorithm_and_parameter_from_its_metadata()
    {
        const string metadata = """{"class":"org.apache.spark.ml.regression.RandomForestRegressionModel","timestamp":1,"sparkVersion":"3.5.0","uid":"rfr_1","paramMap":{"numTrees":20,"maxDepth":5}}""";
        _h.PutObject("USERS/root/rf.tar", Archives.Of(
            Archives.File("rf/metadata/part-00000", metadata + "\n"),
            Archives.File("rf/metadata/_SUCCESS", ""),
            Archives.File("rf/data/part-00000-1.snappy.parquet", Parquet("data")),
            Archives.File("rf/treesMetadata/part-00000-2.snappy.parquet", Parquet("treesMetadata"))));
        (await _h.RunAsync("mlmodel import name=rf analysis_tool=spark kind=regression connector_id=local path=USERS/root/rf.tar")).Single()[0].Should().Be("ok");
        var summary = (await _h.RunAsync("mlmodel summary name=rf")).ToDictionary(r => (string)r[0]!, r => r[1]);
        summary["algorithm"].Should().Be("RandomForestRegressionModel");
        summary["parameter"].Should().Be("""{"numTrees":20,"maxDepth":5}""");
        summary["format"].Should().Be("spark");
        summary["filename"].Should().Be("metadata");
    }

    private static IEnumerable<TestCaseData> BadArchives()
    {
        var pb = Archives.File("saved_model.pb", "pb");
        TestCaseData Case(string name, byte[] archive, string format, string message) =>
            new TestCaseData(archive, format, message).SetName("Refused: " + name);

        yield return Case("entry climbing out with ..", Archives.Of(pb, Archives.File("../evil", "x")), "saved_model",
            "entry '../evil' climbs out of the archive with '..'");
        yield return Case("absolute path", Archives.Of(Archives.File("/etc/passwd", "x"), pb), "saved_model",
            "entry '/etc/passwd' has an absolute or unsafe path");
        yield return Case("symbolic link", Archives.Of(pb, Archives.Entry(TarEntryType.SymbolicLink, "variables", "/etc")), "saved_model",
            "entry 'variables' is a symbolic link (to '/etc'); model archives may hold only files and folders");
        yield return Case("hard link", Archives.Of(pb, Archives.Entry(TarEntryType.HardLink, "copy.pb", "saved_model.pb")), "saved_model",
            "entry 'copy.pb' is a hard link (to 'saved_model.pb'); model archives may hold only files and folders");
        yield return Case("character device", Archives.Of(pb, Archives.Entry(TarEntryType.CharacterDevice, "null")), "saved_model",
            "entry 'null' is a device file or FIFO; model archives may hold only files and folders");
        yield return Case("fifo", Archives.Of(pb, Archives.Entry(TarEntryType.Fifo, "pipe")), "saved_model",
            "entry 'pipe' is a device file or FIFO; model archives may hold only files and folders");
        yield return Case("duplicate entries", Archives.Of(pb, Archives.File("./saved_model.pb", "again")), "saved_model",
            "the archive holds 'saved_model.pb' twice");
        yield return Case("missing saved_model.pb", Archives.Of(Archives.File("m/variables/variables.index", "x")), "saved_model",
            "the archive holds no saved_model.pb at its root or under a single top folder (found: variables); a SavedModel directory has saved_model.pb with variables/ and assets/");
        yield return Case("h5 format holding a SavedModel", Archives.Of(pb), "h5",
            "format=h5, but the archive holds a SavedModel (saved_model.pb); import it with format=saved_model");
        yield return Case("saved_model format holding an h5", Archives.Of(Archives.File("model.h5", "x")), "saved_model",
            "format=saved_model, but the archive holds an HDF5 model (model.h5) and no saved_model.pb; import it with format=h5");
        yield return Case("h5 without the HDF5 signature", Archives.Of(Archives.File("model.h5", "not hdf5")), "h5",
            "model.h5 is not an HDF5 file: it does not start with the HDF5 signature");
        yield return Case("legacy session bundle (bad_half_plus_two)", Archives.FromFolder(TestPaths.Model("bad_half_plus_two"), "bad_half_plus_two"), "saved_model",
            "the archive holds no saved_model.pb (found: checkpoint, export, export.meta): it looks like a legacy TensorFlow session-bundle export, not a SavedModel; re-export it with tf.saved_model.save");
        yield return Case("empty archive", new byte[1024], "saved_model", "the archive is empty: it holds no files");
        yield return Case("zero-byte file", [], "saved_model", "the archive is empty (0 bytes)");
        yield return Case("too many entries", Archives.Of([pb, .. Enumerable.Range(0, 60).Select(i => Archives.File($"f{i}", "x"))]), "saved_model",
            "the archive has more than the limit of 50 entries");
        yield return Case("gzip bomb", Archives.GzipBomb(64L << 20), "saved_model",
            "the archive expands to more than the limit of 8,388,608 bytes");
    }

    [TestCaseSource(nameof(BadArchives))]
    public async Task Bad_archives_are_refused_with_a_clear_error_and_leave_nothing(byte[] archive, string format, string reason)
    {
        _h.PutObject("USERS/root/bad.tar", archive);
        var act = () => _h.RunAsync($"{Import} format={format} path=USERS/root/bad.tar");
        var error = (await act.Should().ThrowAsync<MlModelException>()).Which.Error;
        error.Code.Should().Be("invalid_archive");
        var kind = format switch { "h5" => "HDF5 model", _ => "SavedModel" };
        error.Message.Should().Be($"mlmodel import: 'USERS/root/bad.tar' is not a valid {kind} archive: {reason}");
        await NothingLeftAsync();
    }

    [Test]
    public async Task A_truncated_archive_is_refused_and_leaves_nothing()
    {
        var full = Archives.FromFolder(TestPaths.Model("saved_model_half_plus_two_cpu"));
        _h.PutObject("USERS/root/cut.tar", full[..(full.Length / 2)]);
        var act = () => _h.RunAsync($"{Import} format=saved_model path=USERS/root/cut.tar");
        var error = (await act.Should().ThrowAsync<MlModelException>()).Which.Error;
        error.Code.Should().Be("invalid_archive");
        error.Message.Should().Contain("truncated");
        await NothingLeftAsync();
    }

    [Test]
    public async Task A_failed_import_does_not_use_up_a_version_number()
    {
        // Spec B.4: one up per import; B.8: a failed import leaves nothing, its number included.
        var good = Archives.FromFolder(TestPaths.Model("saved_model_half_plus_two_cpu"));
        _h.PutObject("USERS/root/good.tar", good);
        _h.PutObject("USERS/root/cut.tar", good[..(good.Length / 2)]);
        (await _h.RunAsync($"{Import} format=saved_model path=USERS/root/good.tar")).Single().Should().Equal("ok", "m", 1);
        var act = () => _h.RunAsync($"{Import} format=saved_model path=USERS/root/cut.tar");
        await act.Should().ThrowAsync<MlModelException>();
        (await _h.RunAsync($"{Import} format=saved_model path=USERS/root/good.tar")).Single().Should().Equal("ok", "m", 2);

        // A deleted version's number stays spent all the same.
        await _h.RunAsync("mlmodel delete name=m version=2");
        await act.Should().ThrowAsync<MlModelException>();
        (await _h.RunAsync($"{Import} format=saved_model path=USERS/root/good.tar")).Single().Should().Equal("ok", "m", 3);
    }

    [Test]
    public async Task Random_bytes_are_not_a_tar()
    {
        var noise = new byte[4096];
        new Random(7).NextBytes(noise);
        _h.PutObject("USERS/root/noise.tar", noise);
        var act = () => _h.RunAsync($"{Import} format=saved_model path=USERS/root/noise.tar");
        (await act.Should().ThrowAsync<MlModelException>()).Which.Error.Code.Should().Be("invalid_archive");
        await NothingLeftAsync();
    }

    [Test]
    public async Task A_path_that_does_not_exist_is_named()
    {
        var act = () => _h.RunAsync($"{Import} format=saved_model path=USERS/root/nope.tar");
        (await act.Should().ThrowAsync<MlModelException>()).Which.Error.Should().BeEquivalentTo(new
        {
            Code = "not_found",
            Message = "mlmodel import: connector 'local' has no object 'USERS/root/nope.tar'",
        });
        await NothingLeftAsync();
    }

    [Test]
    public async Task An_unknown_connector_is_named_with_the_known_ones()
    {
        var act = () => _h.RunAsync("mlmodel import name=m analysis_tool=tf kind=k algorithm=deep format=saved_model connector_id=minio path=USERS/root/m.tar");
        (await act.Should().ThrowAsync<MlModelException>()).Which.Error.Should().BeEquivalentTo(new
        {
            Code = "connector",
            Message = "mlmodel import: unknown connector 'minio'; known connectors: local",
        });
    }

    [Test]
    public async Task Through_the_shared_local_connector_a_user_imports_only_from_their_own_folder()
    {
        _h.PutObject("USERS/bob/m.tar", Archives.FromFolder(TestPaths.Model("saved_model_half_plus_two_cpu")));
        var act = () => _h.RunAsync($"{Import} format=saved_model path=USERS/bob/m.tar", EngineHarness.Alice);
        (await act.Should().ThrowAsync<MlModelException>()).Which.Error.Should().BeEquivalentTo(new
        {
            Code = "permission_denied",
            Message = "mlmodel import: user 'alice' may import through the shared connector 'local' only from keys under USERS/alice/, not 'USERS/bob/m.tar'",
        });
        (await _h.RunAsync($"{Import} format=saved_model path=USERS/bob/m.tar", EngineHarness.Bob)).Single()[0].Should().Be("ok");
    }

    [Test]
    public async Task A_failed_import_is_in_the_history_with_its_error()
    {
        _h.PutObject("USERS/root/bad.tar", Archives.Of(Archives.File("x", "y")));
        var act = () => _h.RunAsync($"{Import} format=saved_model path=USERS/root/bad.tar");
        await act.Should().ThrowAsync<MlModelException>();
        var history = await _h.RunAsync("mlmodel history name=m");
        var row = history.Single();
        row[2].Should().Be("import");
        row[6].Should().Be("error");
        ((string)row[7]!).Should().StartWith("mlmodel import: 'USERS/root/bad.tar' is not a valid SavedModel archive");
        ((string)row[8]!).Should().StartWith("mlmodel import name=m analysis_tool=tf");
    }

    /// <summary>A real parquet part of a Spark model (py_rforest_cls), from its <paramref name="folder"/>.</summary>
    private static byte[] Parquet(string folder) =>
        File.ReadAllBytes(Directory.EnumerateFiles(Path.Combine(TestPaths.SparkModel("py_rforest_cls"), folder), "part-00000-*.parquet").Single());

    private async Task NothingLeftAsync()
    {
        _h.StoredFiles().Should().BeEmpty("a failed import leaves no files");
        (await _h.RunAsync("mlmodel list")).Should().BeEmpty("a failed import leaves no row");
    }

    private static List<string> Hashes(string root, string prefix)
    {
        var dir = Path.Combine(root, prefix);
        return Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(dir, f) + " " + Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))))
            .Order(StringComparer.Ordinal).ToList();
    }

    private static int Run(string file, string args, string workingDirectory)
    {
        using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(file, args) { WorkingDirectory = workingDirectory })!;
        p.WaitForExit();
        return p.ExitCode;
    }
}
