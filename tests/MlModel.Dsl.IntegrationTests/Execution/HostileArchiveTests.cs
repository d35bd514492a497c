using System.IO.Compression;
using System.Text;
using MlModel.Dsl.IntegrationTests.Support;

namespace MlModel.Dsl.IntegrationTests.Execution;

/// <summary>
/// Archives that are damaged or made to harm, imported end to end (a SQLite file, a local store):
/// each is refused with <c>invalid_archive</c> and a message that names the entry, and leaves
/// nothing behind, its version number included.
/// </summary>
public class HostileArchiveTests
{
    private const string Import = "mlmodel import name=m analysis_tool=tf kind=regression algorithm=deep format=saved_model connector_id=local";
    private const string Prefix = "mlmodel import: 'USERS/root/bad.tar' is not a valid SavedModel archive: ";

    private EngineHarness _h = null!;

    [SetUp]
    public void SetUp() => _h = new EngineHarness(o => o.ArchiveLimits = new ArchiveLimits { MaxExpandedBytes = 8 << 20, MaxEntries = 50 });

    [TearDown]
    public void TearDown() => _h.Dispose();

    /// <summary>samples/models/half_plus_two.tar, as GNU tar wrote it: headers at 0, 512, 1024, 2048 (saved_model.pb, 12,107 bytes), 14848, 15360, 16384; the end at 17408.</summary>
    private static byte[] Sample() => File.ReadAllBytes(Path.Combine(TestPaths.RepoRoot, "samples", "models", "half_plus_two.tar"));

    private static byte[] Flip(byte[] archive, int at)
    {
        var copy = (byte[])archive.Clone();
        copy[at] ^= 0xff;
        return copy;
    }

    private static byte[] Gzip(byte[] data)
    {
        var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(data);
        }
        return output.ToArray();
    }

    private static IEnumerable<TestCaseData> Hostile()
    {
        TestCaseData Case(string name, byte[] archive, string reason) =>
            new TestCaseData(archive, reason).SetName("Refused: " + name);

        // 8. Every header's checksum, as GNU tar checks it.
        yield return Case("a flipped byte in a file name", Flip(Sample(), 2048 + 17),
            "entry 'half_plus_two/sav\\x9Ad_model.pb' has a corrupt tar header: its checksum does not match (the archive is damaged)");
        yield return Case("a flipped byte in a size field", Flip(Sample(), 2048 + 130),
            "entry 'half_plus_two/saved_model.pb' has a corrupt tar header: its checksum does not match (the archive is damaged)");
        yield return Case("a flipped byte in the unused end of a header", Flip(Sample(), 512 + 511),
            "entry 'half_plus_two/assets/' has a corrupt tar header: its checksum does not match (the archive is damaged)");
        yield return Case("a flipped byte in a PAX extended header's header",
            Corrupt(new RawTar().File("saved_model.pb", "pb").Pax("PaxHeaders/variables/v", ("path", "variables/" + new string('v', 120))).Add("variables/v", data: [1]), headerAt: 1024, offset: 3),
            "entry 'Pax\\xB7eaders/variables/v' has a corrupt tar header: its checksum does not match (the archive is damaged)");
        yield return Case("a flipped byte in a GNU long-name header",
            Corrupt(new RawTar().File("saved_model.pb", "pb").LongName("variables/" + new string('v', 120)).Add("variables/v", data: [1]), headerAt: 1024, offset: 3),
            "entry './.\\xD0@LongLink' has a corrupt tar header: its checksum does not match (the archive is damaged)");
        yield return Case("a flipped byte in the header after a GNU long name, named by it",
            Corrupt(new RawTar().File("saved_model.pb", "pb").LongName("variables/" + new string('v', 120)).Add("variables/v", data: [1]), headerAt: 2048, offset: 3),
            $"entry 'variables/{new string('v', 120)}' has a corrupt tar header: its checksum does not match (the archive is damaged)");
        yield return Case("a header with an empty checksum field (TarReader took it for the end)",
            Blank(new RawTar().File("saved_model.pb", "pb").Add("evil.pb").ToArray(), 1024 + 148, 8),
            "entry 'evil.pb' has a corrupt tar header: its checksum does not match (the archive is damaged)");

        // 9. Everything else an archive can get wrong is invalid_archive, naming the entry.
        yield return Case("a GNU sparse entry", new RawTar().File("saved_model.pb", "pb").Add("variables/sparse.bin", 'S', new byte[512]).ToArray(),
            "entry 'variables/sparse.bin' is a sparse file (as GNU tar --sparse writes them); model archives may hold only plain files and folders");
        yield return Case("a PAX sparse entry (GNU format 1.0)",
            new RawTar().File("saved_model.pb", "pb").Pax("PaxHeaders/sparse", ("GNU.sparse.major", "1"), ("GNU.sparse.minor", "0"), ("GNU.sparse.name", "variables/sparse.bin"), ("GNU.sparse.realsize", "1048576"))
                .Add("GNUSparseFile.0/sparse.bin", data: Encoding.ASCII.GetBytes("1\n0\n512\n")).ToArray(),
            "entry 'variables/sparse.bin' is a sparse file (as GNU tar --sparse writes them); model archives may hold only plain files and folders");
        yield return Case("a file name of 256 bytes", Archives.Of(Archives.File("saved_model.pb", "pb"), Archives.File("assets/" + new string('a', 256), "x")),
            $"entry 'assets/{new string('a', 193)}...' has a file or folder name of 256 bytes; the limit is 255 bytes of UTF-8");
        yield return Case("a Korean file name of 258 bytes", Archives.Of(Archives.File("saved_model.pb", "pb"), Archives.File(new string('모', 86), "x")),
            $"entry '{new string('모', 86)}' has a file or folder name of 258 bytes; the limit is 255 bytes of UTF-8");
        var longPath = string.Join('/', Enumerable.Repeat(new string('p', 250), 4)) + "/" + new string('f', 20);
        yield return Case("a path too long for an object key", Archives.Of(Archives.File("saved_model.pb", "pb"), Archives.File(longPath, "x")),
            $"entry '{longPath[..200]}...' has a path too long to store: its key 'models/root/m/1/...' would take {16 + longPath.Length:N0} bytes; the limit is 1,024 bytes of UTF-8");
        var deep = string.Join('/', Enumerable.Repeat("d", 64)) + "/f";
        yield return Case("a path 65 levels deep", Archives.Of(Archives.File("saved_model.pb", "pb"), Archives.File(deep, "x")),
            $"entry '{deep}' is 65 levels deep; the limit is 64");
        var noise = new byte[4096];
        new Random(7).NextBytes(noise);
        yield return Case("random bytes", noise, "it is not a tar, tar.gz, tar.bz2, tar.xz, tar.zst or zip archive: its first 512 bytes are not a tar header");
        yield return Case("a text file (/etc/services)", Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("tcpmux          1/tcp                           # TCP port service multiplexer\n", 20))),
            "it is not a tar, tar.gz, tar.bz2, tar.xz, tar.zst or zip archive: its first 512 bytes are not a tar header");
        yield return Case("gzip-compressed random bytes", Gzip(noise),
            "its gzip data does not hold a tar archive, or is corrupt: the first 512 bytes it expands to are not a tar header");
        yield return Case("an archive cut inside a file", Sample()[..(2048 + 512 + 100)],
            "entry 'half_plus_two/saved_model.pb' is truncated: the archive ends after 100 of its 12,107 bytes");
        yield return Case("an archive cut inside a header", Sample()[..(2048 + 200)],
            "the archive is truncated: it ends inside the header after entry 'half_plus_two/assets/foo.txt'");
        yield return Case("an archive cut inside the padding of a file", Sample()[..(1024 + 512 + 100)],
            "the archive is truncated: it ends inside entry 'half_plus_two/assets/foo.txt'");
        yield return Case("an archive without the end-of-archive block", Sample()[..17408],
            "the archive is truncated: it ends after entry 'half_plus_two/variables/variables.index' without tar's end-of-archive block");
        var gzipped = Gzip(Sample());
        yield return Case("a gzip cut in half", gzipped[..(gzipped.Length / 2)], "entry 'half_plus_two/saved_model.pb' is truncated: the archive ends after * of its 12,107 bytes");
        yield return Case("a gzip with a wrong CRC", Flip(gzipped, gzipped.Length - 8),
            "the gzip data is corrupt or truncated after entry 'half_plus_two/variables/variables.index'");
        yield return Case("a gzip with a bad header", Flip(gzipped, 3), "the gzip data is corrupt or truncated at its start");
        yield return Case("a malformed PAX record", new RawTar().File("saved_model.pb", "pb").Add("PaxHeaders/x", 'x', Encoding.UTF8.GetBytes("99 path=x\n")).Add("x", data: [1]).ToArray(),
            "entry 'PaxHeaders/x' has a malformed PAX extended header");
        yield return Case("a PAX record given twice", new RawTar().File("saved_model.pb", "pb").Pax("PaxHeaders/x", ("path", "a"), ("path", "b")).Add("x", data: [1]).ToArray(),
            "entry 'PaxHeaders/x' has a PAX extended header that sets 'path' twice");
        yield return Case("a PAX size that is not a number", new RawTar().File("saved_model.pb", "pb").Pax("PaxHeaders/x", ("size", "12x")).Add("x", data: [1]).ToArray(),
            "entry 'PaxHeaders/x' has a corrupt PAX extended header: its size is not a number");
        yield return Case("a PAX extended header over 1 MiB", new RawTar().File("saved_model.pb", "pb").Pax("PaxHeaders/x", ("comment", new string('c', 1 << 20))).Add("x", data: [1]).ToArray(),
            "entry 'PaxHeaders/x' has an extended header of 1,048,593 bytes; the limit is 1,048,576");
        yield return Case("a mode field that is not a number", new RawTar().File("saved_model.pb", "pb").Add("variables/v", data: [1], edit: h => "zzzzzzz\0"u8.CopyTo(h.AsSpan(100))).ToArray(),
            "entry 'variables/v' has a tar header that cannot be read (the archive is damaged or not made by a tar program)");
        yield return Case("a folder with data", new RawTar().File("saved_model.pb", "pb").Add("variables/", '5', edit: h => "00000001000\0"u8.CopyTo(h.AsSpan(124))).ToArray(),
            "entry 'variables/' has a corrupt tar header: it declares 512 bytes of data, which its type ('5') cannot have");
        yield return Case("a name that is not UTF-8", new RawTar().File("saved_model.pb", "pb").Add([(byte)'c', (byte)'a', (byte)'f', 0xe9, (byte)'.', (byte)'t'], data: [1]).ToArray(),
            "entry 'caf\\xE9.t' has a name that is not valid UTF-8");

        // The same checks in every container (issue "As IRIS is really used", 4).
        var climbing = Archives.Of(Archives.File("saved_model.pb", "pb"), Archives.File("../evil", "x"));
        foreach (var (format, label) in new[] { ("gz", "gzip"), ("bz2", "bzip2"), ("zst", "zstd") })
        {
            var good = Archives.Compress(Sample(), format);
            yield return Case($"tar.{format}: an entry climbing out with ..", Archives.Compress(climbing, format), "entry '../evil' climbs out of the archive with '..'");
            yield return Case($"tar.{format}: a bomb", Archives.Bomb(format, 64L << 20), "the archive expands to more than the limit of 8,388,608 bytes");
            // gzip stops where its data stops; bzip2 and zstd say so (bzip2 at its start: one block holds the whole tar).
            yield return Case($"tar.{format}: cut in half", good[..(good.Length / 2)], format == "gz"
                ? "entry 'half_plus_two/saved_model.pb' is truncated: the archive ends after * of its 12,107 bytes"
                : $"the {label} data is corrupt or truncated at its start");
            yield return Case($"tar.{format}: noise after the magic bytes", [.. good[..4], .. noise], $"the {label} data is corrupt or truncated at its start");
        }
        // One bzip2 block holds the whole tar: its CRC is checked at its end, after the first header.
        yield return Case("tar.bz2: a flipped byte", Flip(Archives.Fixture("half_plus_two.tar.bz2"), 1000),
            "its bzip2 data does not hold a tar archive, or is corrupt: the first 512 bytes it expands to are not a tar header");
        yield return Case("tar.zst: a flipped byte", Flip(Archives.Fixture("half_plus_two.tar.zst"), 1000),
            "entry 'half_plus_two/variables/' has a corrupt tar header: its checksum does not match (the archive is damaged)");
        // zstd checks the data when its frame has a checksum, as the zstd tool writes by default.
        yield return Case("tar.zst: a wrong checksum", Flip(Archives.Fixture("half_plus_two.tar.zst"), Archives.Fixture("half_plus_two.tar.zst").Length - 1),
            "the zstd data is corrupt or truncated after entry 'half_plus_two/variables/variables.index'");
        var xzCheck = Archives.Fixture("half_plus_two.tar.xz");
        yield return Case("tar.xz: a wrong check in its index", Flip(xzCheck, xzCheck.Length - 20), "the xz data is corrupt or truncated after entry 'half_plus_two/variables/variables.index'");
        var xz = Archives.Fixture("half_plus_two.tar.xz");
        yield return Case("tar.xz: an entry climbing out with ..", Archives.Fixture("climbing_out.tar.xz"), "entry '../evil' climbs out of the archive with '..'");
        yield return Case("tar.xz: a bomb", Archives.Fixture("bomb.tar.xz"), "the archive expands to more than the limit of 8,388,608 bytes");
        yield return Case("tar.xz: cut in half", xz[..(xz.Length / 2)], "the xz data is corrupt or truncated in entry 'half_plus_two/saved_model.pb'");
        yield return Case("tar.xz: a flipped byte", Flip(xz, 1000), "the xz data is corrupt or truncated in entry 'half_plus_two/saved_model.pb'");
        yield return Case("tar.xz: noise after the magic bytes", [.. xz[..6], .. noise], "the xz data is corrupt or truncated at its start");

        var zipPb = Archives.ZipFile("saved_model.pb", "pb");
        yield return Case("zip: an entry climbing out with ..", Archives.Zip(zipPb, Archives.ZipFile("variables/../../evil", "x")),
            "entry 'variables/../../evil' climbs out of the archive with '..'");
        yield return Case("zip: an absolute path", Archives.Zip(Archives.ZipFile("/etc/cron.d/evil", "x"), zipPb),
            "entry '/etc/cron.d/evil' has an absolute or unsafe path");
        yield return Case("zip: a Windows path", Archives.Zip(zipPb, Archives.ZipFile("variables\\..\\..\\evil", "x")),
            "entry 'variables\\..\\..\\evil' has an absolute or unsafe path");
        yield return Case("zip: a symbolic link", Archives.Zip(zipPb, new Archives.ZipItem("variables", "/etc"u8.ToArray(), UnixMode: 0xA1FF)),
            "entry 'variables' is a symbolic link; model archives may hold only files and folders");
        yield return Case("zip: a FIFO", Archives.Zip(zipPb, new Archives.ZipItem("pipe", [], UnixMode: 0x11B6)),
            "entry 'pipe' is a device file, FIFO or socket; model archives may hold only files and folders");
        yield return Case("zip: duplicate names", Archives.Zip(zipPb, Archives.ZipFile("saved_model.pb", "again")),
            "the archive holds 'saved_model.pb' twice");
        yield return Case("zip: a file and a folder of one name", Archives.Zip(zipPb, Archives.ZipFile("variables", "x"), Archives.ZipFile("variables/v", "y")),
            "'variables' is both a file and a folder in the archive");
        yield return Case("zip: a bomb", Archives.Zip(new Archives.ZipItem("saved_model.pb", new byte[64 << 20])),
            "the archive expands to more than the limit of 8,388,608 bytes");
        yield return Case("zip: a bomb that lies about its size",
            Archives.PatchZipHeaders(Archives.PatchZipHeaders(Archives.Zip(new Archives.ZipItem("saved_model.pb", new byte[64 << 20])), 0x04034b50, 22, 100), 0x02014b50, 24, 100),
            "entry 'saved_model.pb' holds more data than the 100 bytes the zip's central directory gives it: the archive is damaged or crafted");
        yield return Case("zip: a stored file that lies about its size",
            Archives.PatchZipHeaders(Archives.PatchZipHeaders(Archives.Zip(new Archives.ZipItem("saved_model.pb", new byte[5000], Level: System.IO.Compression.CompressionLevel.NoCompression)), 0x04034b50, 22, 100), 0x02014b50, 24, 100),
            "entry 'saved_model.pb' holds more data than the 100 bytes the zip's central directory gives it: the archive is damaged or crafted");
        yield return Case("zip: a file shorter than it says",
            Archives.PatchZipHeaders(Archives.PatchZipHeaders(Archives.Zip(new Archives.ZipItem("saved_model.pb", new byte[5000])), 0x04034b50, 22, 6000), 0x02014b50, 24, 6000),
            "entry 'saved_model.pb' is truncated: its data ends after 5,000 of its 6,000 bytes");
        yield return Case("zip: a wrong CRC-32",
            Archives.PatchZipHeaders(Archives.PatchZipHeaders(Archives.Zip(zipPb), 0x04034b50, 14, 1234), 0x02014b50, 16, 1234),
            "entry 'saved_model.pb' is corrupt: its CRC-32 is *, the zip says 000004d2");
        yield return Case("zip: another name in the local header",
            ReplaceFirst(Archives.Zip(zipPb, Archives.ZipFile("assets/a.txt", "x")), "assets/a.txt"u8.ToArray(), "assets/b.txt"u8.ToArray()),
            "entry 'assets/a.txt' has another name in its local header ('assets/b.txt'): the archive is damaged or crafted");
        yield return Case("zip: an encrypted entry", Archives.PatchZipHeaders(Archives.PatchZipHeaders(Archives.Zip(zipPb), 0x04034b50, 6, 1, width: 2), 0x02014b50, 8, 1, width: 2),
            "entry 'saved_model.pb' is encrypted; model archives may not be");
        yield return Case("zip: a name with ESC", Archives.Zip(zipPb, Archives.ZipFile("assets/a\u001b[2Jb.txt", "x")),
            "entry 'assets/a\\u001B[2Jb.txt' has a control character in its name");
        yield return Case("zip: a name that is not UTF-8", Archives.Replace(Archives.Zip(zipPb, Archives.ZipFile("assets/caf#.txt", "x")), "caf#"u8.ToArray(), [(byte)'c', (byte)'a', (byte)'f', 0xe9]),
            "entry 'assets/caf\\xE9.txt' has a name that is not valid UTF-8");
        yield return Case("zip: a file name of 256 bytes", Archives.Zip(zipPb, Archives.ZipFile("assets/" + new string('a', 256), "x")),
            $"entry 'assets/{new string('a', 193)}...' has a file or folder name of 256 bytes; the limit is 255 bytes of UTF-8");
        yield return Case("zip: too many entries", Archives.Zip([zipPb, .. Enumerable.Range(0, 60).Select(i => Archives.ZipFile($"f{i}", "x"))]),
            "the archive has more than the limit of 50 entries");
        var goodZip = Archives.Fixture("half_plus_two.zip");
        yield return Case("zip: cut in half", goodZip[..(goodZip.Length / 2)],
            "it is not a valid zip archive: its central directory cannot be read (the archive is truncated or damaged)");
        yield return Case("zip: noise after the magic bytes", [.. goodZip[..4], .. noise],
            "it is not a valid zip archive: its central directory cannot be read (the archive is truncated or damaged)");
        yield return Case("zip: a flipped byte in compressed data", Flip(goodZip, 1000),
            "the zip data is corrupt or truncated in entry 'half_plus_two/saved_model.pb'");
        yield return Case("zip: empty", [(byte)'P', (byte)'K', 5, 6, .. new byte[18]], "the archive is empty: it holds no files");

        // 10. Control characters in names, shown escaped.
        foreach (var (what, c, shown) in new[]
        {
            ("ESC", "\u001b", "\\u001B"), ("CR", "\r", "\\u000D"), ("LF", "\n", "\\u000A"), ("TAB", "\t", "\\u0009"),
            ("BEL", "\a", "\\u0007"), ("DEL", "\u007f", "\\u007F"), ("C1 CSI", "\u009b", "\\u009B"),
        })
        {
            yield return Case($"a name with {what}", Archives.Of(Archives.File("saved_model.pb", "pb"), Archives.File($"assets/a{c}[2Jb.txt", "x")),
                $"entry 'assets/a{shown}[2Jb.txt' has a control character in its name");
        }
    }

    [TestCaseSource(nameof(Hostile))]
    public async Task Hostile_archives_are_invalid_archive_naming_the_entry_and_leave_nothing(byte[] archive, string reason)
    {
        _h.PutObject("USERS/root/bad.tar", archive);
        var act = () => _h.RunAsync($"{Import} path=USERS/root/bad.tar");
        var error = (await act.Should().ThrowAsync<MlModelException>()).Which.Error;
        error.Code.Should().Be("invalid_archive");
        error.Message.Should().Match(Prefix + reason);
        error.Message.Should().NotContain(_h.Home, "error text never shows the server's paths");

        _h.StoredFiles().Should().BeEmpty("a refused archive writes no files");
        (await _h.RunAsync("mlmodel list")).Should().BeEmpty("a refused archive leaves no row");
        _h.PutObject("USERS/root/good.tar", Sample());
        (await _h.RunAsync($"{Import} path=USERS/root/good.tar")).Single().Should().Equal(["ok", "m", 1], "the refused import gave its version number back");
    }

    [Test]
    public async Task Any_flipped_byte_in_any_header_is_refused()
    {
        var sample = Sample();
        int[] headers = [0, 512, 1024, 2048, 14848, 15360, 16384];
        var random = new Random(8);
        foreach (var header in headers)
        {
            for (var i = 0; i < 6; i++)
            {
                var at = header + random.Next(512);
                _h.PutObject("USERS/root/bad.tar", Flip(sample, at));
                var act = () => _h.RunAsync($"{Import} path=USERS/root/bad.tar");
                var error = (await act.Should().ThrowAsync<MlModelException>($"byte {at} was flipped")).Which.Error;
                error.Code.Should().Be("invalid_archive");
                error.Message.Should().MatchRegex("(has a corrupt tar header|is not a tar)", $"byte {at} was flipped");
            }
        }
        _h.StoredFiles().Should().BeEmpty();
    }

    [Test]
    public async Task Headers_with_the_historic_signed_checksum_are_read()
    {
        // Some old tars summed the header's bytes as signed chars; GNU tar accepts either sum.
        // A name in Korean has bytes over 0x7F, where the two sums differ.
        _h.PutObject("USERS/root/signed.tar", new RawTar()
            .Add("모델/", '5', signedChecksum: true)
            .Add("모델/saved_model.pb", data: Archives.SavedModelPb, signedChecksum: true)
            .ToArray());
        (await _h.RunAsync($"{Import} path=USERS/root/signed.tar")).Single().Should().Equal("ok", "m", 1);
        _h.StoredFiles().Should().Contain(Path.Combine("models", "root", "m", "1", "모델", "saved_model.pb"));
    }

    [Test]
    public async Task Names_at_the_limits_are_accepted()
    {
        var longest = new string('a', 255);
        var korean = new string('모', 85); // 255 bytes of UTF-8
        var deepest = string.Join('/', Enumerable.Repeat("d", 63)) + "/f";
        _h.PutObject("USERS/root/limits.tar", Archives.Of(
            Archives.File("saved_model.pb", Archives.SavedModelPb), Archives.File("assets/" + longest, "x"), Archives.File("assets/" + korean, "y"), Archives.File(deepest, "z")));
        (await _h.RunAsync($"{Import} path=USERS/root/limits.tar")).Single().Should().Equal("ok", "m", 1);
        _h.StoredFiles().Should().Contain(Path.Combine("models", "root", "m", "1", "assets", longest))
            .And.Contain(Path.Combine("models", "root", "m", "1", "assets", korean))
            .And.Contain(Path.Combine(["models", "root", "m", "1", .. deepest.Split('/')]));
    }

    [TestCase("gnu")]
    [TestCase("pax")]
    [TestCase("ustar")]
    public async Task Archives_of_gnu_tar_with_long_names_are_read(string format)
    {
        // GNU tar writes a name over 100 bytes as a GNU long-name header (gnu), a PAX path
        // (pax), or split into the ustar prefix (ustar): every one of them is checked and read.
        using var folder = new TempFolder();
        CopyFolder(TestPaths.Model("saved_model_half_plus_two_cpu"), folder.Combine("half_plus_two"));
        var longName = "assets/" + new string('l', 90) + "/" + new string('n', 60) + ".txt";
        Directory.CreateDirectory(Path.GetDirectoryName(folder.Combine("half_plus_two", longName))!);
        await File.WriteAllTextAsync(folder.Combine("half_plus_two", longName), "long");
        using var tar = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("tar", $"--format={format} -cf m.tar half_plus_two") { WorkingDirectory = folder.Path })!;
        await tar.WaitForExitAsync();
        tar.ExitCode.Should().Be(0);

        _h.PutObject("USERS/root/gnu.tar", await File.ReadAllBytesAsync(folder.Combine("m.tar")));
        (await _h.RunAsync($"{Import} path=USERS/root/gnu.tar")).Single().Should().Equal("ok", "m", 1);
        _h.StoredFiles().Should().Contain(Path.Combine(["models", "root", "m", "1", "half_plus_two", .. longName.Split('/')]));
    }

    private static void CopyFolder(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    /// <summary>The archive with one byte of one header flipped after its checksum was written.</summary>
    private static byte[] Corrupt(RawTar tar, int headerAt, int offset) => Flip(tar.ToArray(), headerAt + offset);

    private static byte[] ReplaceFirst(byte[] data, byte[] from, byte[] to)
    {
        var copy = (byte[])data.Clone();
        to.CopyTo(copy, copy.AsSpan().IndexOf(from));
        return copy;
    }

    private static byte[] Blank(byte[] archive, int at, int length)
    {
        var copy = (byte[])archive.Clone();
        Array.Clear(copy, at, length);
        return copy;
    }
}
