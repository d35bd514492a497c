using System.Formats.Tar;
using System.Security.Cryptography;
using MlModel.Dsl.IntegrationTests.Support;

namespace MlModel.Dsl.IntegrationTests.Execution;

/// <summary>
/// Import through a write batch: the files are committed (made durable) before the row is
/// inserted; a failed commit fails the import and leaves no row and no files. Also models of
/// many files and of large files, whose hashes are computed on another thread, both ways.
/// </summary>
public class DurableImportTests
{
    private const string Import = "mlmodel import name=m analysis_tool=tf kind=regression algorithm=deep format=saved_model connector_id=local";

    private EngineHarness _h = null!;

    [SetUp]
    public void SetUp() => _h = new EngineHarness();

    [TearDown]
    public void TearDown() => _h.Dispose();

    [Test]
    public async Task A_commit_that_fails_fails_the_import_with_no_row_and_no_files()
    {
        // 3 MiB of variables after saved_model.pb: progress is reported while they are read, after
        // saved_model.pb has been written; removing it then makes the batch's commit fail.
        _h.PutObject("USERS/root/m.tar", Archives.Of(
            Archives.File("saved_model.pb", Archives.SavedModelPb),
            Archives.File("variables/variables.data-00000-of-00001", RandomBytes(3 << 20, 1)),
            Archives.File("variables/variables.index", "index")));
        var stored = Path.Combine(_h.Store, "models", "root", "m", "1", "saved_model.pb");
        var removed = false;
        var progress = new Inline<TransferProgress>(p =>
        {
            if (!removed && p.Bytes > 2 << 20 && File.Exists(stored))
            {
                File.Delete(stored);
                removed = true;
            }
        });

        var act = () => _h.Engine.ExecuteAsync(MlModelParser.Parse($"{Import} path=USERS/root/m.tar"), EngineHarness.Root, progress);

        var error = (await act.Should().ThrowAsync<MlModelException>()).Which.Error;
        removed.Should().BeTrue();
        error.Code.Should().Be("backend");
        error.Message.Should().Be(
            "mlmodel import: the files of version 1 of 'm' could not be made durable: could not sync object " +
            $"'models/root/m/1/saved_model.pb' in local:{_h.Store}: it was removed before its write batch was committed");
        _h.StoredFiles().Should().BeEmpty("the import deletes what it wrote");
        (await _h.RunAsync("mlmodel list")).Should().BeEmpty("no row is inserted for files that are not durable");
        var history = (await _h.RunAsync("mlmodel history name=m")).Single();
        history[6].Should().Be("error");
    }

    [Test]
    public async Task A_failure_after_many_files_were_written_leaves_nothing_behind()
    {
        var entries = new List<TarEntry> { Archives.File("saved_model.pb", Archives.SavedModelPb) };
        entries.AddRange(Enumerable.Range(0, 200).Select(i => (TarEntry)Archives.File($"variables/shard-{i:D4}", RandomBytes(5000 + i, i))));
        entries.Add(Archives.Entry(TarEntryType.SymbolicLink, "variables/evil", "/etc/passwd"));
        _h.PutObject("USERS/root/m.tar", Archives.Of([.. entries]));

        var act = () => _h.RunAsync($"{Import} path=USERS/root/m.tar");

        (await act.Should().ThrowAsync<MlModelException>()).Which.Error.Code.Should().Be("invalid_archive");
        _h.StoredFiles().Should().BeEmpty("neither the files written nor their temporary files stay");
        Directory.Exists(Path.Combine(_h.Store, "models")).Should().BeFalse("the emptied folders go too");
        (await _h.RunAsync("mlmodel list")).Should().BeEmpty();
    }

    [Test]
    public async Task A_model_of_many_files_in_many_folders_round_trips_through_export()
    {
        using var folder = new TempFolder();
        File.Copy(Path.Combine(TestPaths.Model("saved_model_half_plus_two_cpu"), "saved_model.pb"), folder.Combine("saved_model.pb"));
        for (var i = 0; i < 400; i++)
        {
            var dir = folder.Combine("variables", $"d{i % 9}", $"e{i % 4}");
            Directory.CreateDirectory(dir);
            await File.WriteAllBytesAsync(Path.Combine(dir, $"f{i}.bin"), RandomBytes(i * 37, i));
        }
        _h.PutObject("USERS/root/many.tar", Archives.FromFolder(folder.Path, "many"));

        (await _h.RunAsync($"{Import} path=USERS/root/many.tar")).Single()[0].Should().Be("ok");
        Hashes(folder.Path).Should().Equal(Hashes(Path.Combine(_h.Store, "models", "root", "m", "1", "many")));
        _h.StoredFiles().Should().NotContain(f => f.Contains(".mlmodel-tmp-", StringComparison.Ordinal));

        var url = new Uri((string)(await _h.RunAsync("mlmodel export name=m")).Single()[1]!);
        using var unpacked = new TempFolder();
        await using (var tar = File.OpenRead(url.LocalPath))
        {
            await TarFile.ExtractToDirectoryAsync(tar, unpacked.Path, overwriteFiles: false);
        }
        File.Delete(unpacked.Combine("MANIFEST.sha256"));
        Hashes(unpacked.Path).Should().Equal(Hashes(folder.Path));
    }

    [Test]
    public async Task A_large_file_is_hashed_the_same_on_import_and_verified_on_export([Values(4 << 20, (9 << 20) + 7)] int size)
    {
        var data = RandomBytes(size, 2);
        _h.PutObject("USERS/root/big.tar", Archives.Of(Archives.File("saved_model.pb", Archives.SavedModelPb), Archives.File("variables/big.bin", data)));

        (await _h.RunAsync($"{Import} path=USERS/root/big.tar")).Single()[0].Should().Be("ok");

        var url = new Uri((string)(await _h.RunAsync("mlmodel export name=m")).Single()[1]!);
        using var unpacked = new TempFolder();
        await using (var tar = File.OpenRead(url.LocalPath))
        {
            await TarFile.ExtractToDirectoryAsync(tar, unpacked.Path, overwriteFiles: false);
        }
        var manifest = await File.ReadAllTextAsync(unpacked.Combine("MANIFEST.sha256"));
        manifest.Should().Contain($"{Convert.ToHexStringLower(SHA256.HashData(data))}  variables/big.bin\n");
        (await File.ReadAllBytesAsync(unpacked.Combine("variables", "big.bin"))).Should().Equal(data);
    }

    [Test]
    public async Task A_corrupted_large_file_fails_the_export_and_writes_no_archive()
    {
        _h.PutObject("USERS/root/big.tar", Archives.Of(Archives.File("saved_model.pb", Archives.SavedModelPb), Archives.File("variables/big.bin", RandomBytes(6 << 20, 3))));
        await _h.RunAsync($"{Import} path=USERS/root/big.tar");
        var victim = Path.Combine(_h.Store, "models", "root", "m", "1", "variables", "big.bin");
        await using (var file = new FileStream(victim, FileMode.Open, FileAccess.ReadWrite))
        {
            file.Position = 5 << 20;
            var b = file.ReadByte();
            file.Position = 5 << 20;
            file.WriteByte((byte)(b ^ 0xff));
        }

        var act = () => _h.RunAsync("mlmodel export name=m");

        var error = (await act.Should().ThrowAsync<MlModelException>()).Which.Error;
        error.Code.Should().Be("integrity");
        error.Message.Should().StartWith("mlmodel export: file 'variables/big.bin' of version 1 of 'm' is corrupt: its SHA-256 is ");
        _h.StoredFiles().Should().NotContain(f => f.StartsWith("exports", StringComparison.Ordinal));
    }

    [Test]
    public async Task A_model_registered_from_a_folder_is_committed_before_its_row()
    {
        using var folder = new TempFolder();
        Directory.CreateDirectory(folder.Combine("metadata"));
        Directory.CreateDirectory(folder.Combine("data"));
        await File.WriteAllTextAsync(folder.Combine("metadata", "part-00000"), """{"class":"org.apache.spark.ml.classification.LogisticRegressionModel","paramMap":{"maxIter":10}}""");
        await File.WriteAllBytesAsync(folder.Combine("data", "part-00000.snappy.parquet"), Archives.ParquetFrame(5 << 20, 4));

        var model = await _h.Engine.Models.RegisterAsync(
            new ModelRegistration { Name = "lr", AnalysisTool = "spark", Kind = "classification", Format = "spark" },
            EngineHarness.Root, folder.Path);

        model.Algorithm.Should().Be("LogisticRegressionModel");
        Hashes(folder.Path).Should().Equal(Hashes(Path.Combine(_h.Store, "models", "root", "lr", "1")));
    }

    private static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static List<string> Hashes(string dir) =>
        Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(dir, f) + " " + Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))))
            .Order(StringComparer.Ordinal).ToList();

    /// <summary>An IProgress that runs on the reporting thread (Progress&lt;T&gt; would post to the pool).</summary>
    private sealed class Inline<T>(Action<T> action) : IProgress<T>
    {
        public void Report(T value) => action(value);
    }
}
