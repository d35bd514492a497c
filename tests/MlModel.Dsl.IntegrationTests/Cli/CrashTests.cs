using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using MlModel.Dsl.IntegrationTests.Support;

namespace MlModel.Dsl.IntegrationTests.Cli;

/// <summary>
/// kill -9 at every named point of the write paths (<see cref="FaultPoints"/>): a child mlmodel
/// process is armed through MLMODEL_FAULT_POINT and kills itself there, deterministically. After
/// the kill, what the user can see must be whole (every version list shows has its files); after
/// <c>check repair=true</c>, an independent checker (raw SQL, the file system and the config text,
/// none of the library's code) finds rows, files and config in agreement, no temporary file, and
/// the next import gets a version number never handed out before.
/// </summary>
[NonParallelizable]
public class CrashTests
{
    private const int Killed = 137; // 128 + SIGKILL, as .NET reports a child killed by a signal

    private TempFolder _home = null!;
    private int _highestVersion;

    [SetUp]
    public void SetUp()
    {
        _home = new TempFolder();
        var objects = _home.Combine("objects", "USERS", "root");
        Directory.CreateDirectory(objects);
        File.Copy(Path.Combine(TestPaths.RepoRoot, "samples", "models", "half_plus_two.tar"), Path.Combine(objects, "m.tar"));
        _highestVersion = 0;
    }

    [TearDown]
    public void TearDown() => _home.Dispose();

    private const string Import = "mlmodel import name=m analysis_tool=tf kind=regression algorithm=deep format=saved_model connector_id=local path=USERS/root/m.tar";

    public static IEnumerable<TestCaseData> Points()
    {
        // point, commands before, the command killed at the point
        yield return Case(FaultPoints.Points.ImportFileWritten + "#2", [], Import);
        yield return Case(FaultPoints.Points.ImportFilesDurable, [], Import);
        yield return Case(FaultPoints.Points.ImportRowInserted, [], Import);
        yield return Case(FaultPoints.Points.ExportArchiveWriting, [Import], "mlmodel export name=m");
        yield return Case(FaultPoints.Points.ExportArchiveWritten, [Import], "mlmodel export name=m");
        yield return Case(FaultPoints.Points.DeleteMarked, [Import, "mlmodel export name=m"], "mlmodel delete name=m version=1");
        yield return Case(FaultPoints.Points.DeleteFilesRemoved, [Import], "mlmodel delete name=m version=1");
        yield return Case(FaultPoints.Points.DeployPublished, [Import], "mlmodel deploy name=m label=stable");
        yield return Case(FaultPoints.Points.ConfigTempWritten, [Import], "mlmodel deploy name=m");
        yield return Case(FaultPoints.Points.DeployConfigWritten, [Import], "mlmodel deploy name=m label=stable");
        yield return Case(FaultPoints.Points.DeployConfigWritten, [Import, "mlmodel deploy name=m version=1 label=stable", Import], "mlmodel deploy name=m version=2");
        yield return Case(FaultPoints.Points.StopConfigWritten, [Import, "mlmodel deploy name=m label=stable"], "mlmodel stop name=m");
        yield return Case(FaultPoints.Points.StopUnpublished, [Import, "mlmodel deploy name=m"], "mlmodel stop name=m");
        yield return Case(FaultPoints.Points.ConfigTempWritten, [Import, "mlmodel deploy name=m"], "mlmodel stop name=m");
        yield return Case(FaultPoints.Points.RepairAction, [Import, Import, "mlmodel deploy name=m version=2", "delete-files 1", "orphan ghost"], "mlmodel check repair=true");
        yield return Case(FaultPoints.Points.RepairAction + "#2", [Import, "orphan ghost", "orphan other"], "mlmodel check repair=true");

        static TestCaseData Case(string point, string[] before, string killed) =>
            new TestCaseData(point, before, killed).SetArgDisplayNames(point, killed.Split(' ')[1] + (before.Length == 0 ? "" : $" after {before.Length} step(s)"));
    }

    [TestCaseSource(nameof(Points))]
    public async Task A_kill_at_the_point_loses_nothing_and_repair_leaves_nothing(string point, string[] before, string killed)
    {
        foreach (var step in before)
        {
            await StepAsync(step);
        }

        // Old enough that repair acts on what the steps left (orphans, damage).
        Backdate(_home.Combine("store"));
        var (code, _, error) = await RunAsync(killed, point);
        code.Should().Be(Killed, $"the process must die at {point} (stderr: {error})");

        // Nothing lost: every version the user can see is whole.
        Checker.VisibleVersionsAreWhole(_home.Path);

        // Repair, once the grace period is over for everything the kill left.
        Backdate(_home.Combine("store"));
        Backdate(_home.Combine("serving"));
        var (repairCode, repairOut, repairErr) = await RunAsync("mlmodel check repair=true");
        repairCode.Should().Be(0, repairErr);
        var (checkCode, checkOut, checkErr) = await RunAsync("mlmodel check", format: "csv");
        checkCode.Should().Be(0, checkErr);
        // What repair leaves for a person: a version marked ERROR for files it lost (re-import or delete it).
        checkOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Where(line => !line.StartsWith("missing_file,", StringComparison.Ordinal) && !line.StartsWith("corrupt_file,", StringComparison.Ordinal))
            .Should().BeEmpty($"a second check finds nothing to repair; repair said:\n{repairOut}");

        Checker.Consistent(_home.Path);

        // Versions are never reused: the next import gets a number above every one seen.
        var highest = _highestVersion;
        var next = await ImportAsync();
        next.Should().BeGreaterThan(highest);
        Checker.Consistent(_home.Path);
    }

    [Test]
    public async Task Twelve_processes_racing_on_one_home_lose_nothing_and_serve_no_ghost()
    {
        for (var i = 0; i < 3; i++)
        {
            await ImportAsync();
        }
        // A mix an administrator and two users' scripts might run at once, on the same versions.
        string[] commands =
        [
            "mlmodel deploy name=m version=1", "mlmodel delete name=m version=1", "mlmodel export name=m version=1",
            "mlmodel deploy name=m version=2 label=stable", "mlmodel stop name=m version=2", "mlmodel delete name=m version=2",
            "mlmodel deploy name=m version=3", "mlmodel export name=m version=3", "mlmodel delete name=m version=3",
            Import, "mlmodel check repair=true", "mlmodel stop name=m",
        ];
        var runs = await Task.WhenAll(commands.Select(c => RunAsync(c)));
        for (var i = 0; i < runs.Length; i++)
        {
            // Each ends with an answer or a clear refusal (exit 1), never a crash or a usage error.
            runs[i].Code.Should().BeOneOf([0, 1], $"{commands[i]}: {runs[i].Err}");
            if (runs[i].Code == 1)
            {
                runs[i].Err.Should().StartWith("mlmodel ", commands[i]);
            }
        }
        Checker.VisibleVersionsAreWhole(_home.Path);
        // Export URLs answered ok point at files that exist, unless their version was deleted after the export finished.
        foreach (var (run, i) in runs.Select((r, i) => (r, i)).Where(x => x.r.Code == 0 && commands[x.i].Contains("export", StringComparison.Ordinal)))
        {
            var version = commands[i][^1..];
            var deleted = runs[Array.IndexOf(commands, $"mlmodel delete name=m version={version}")].Code == 0;
            File.Exists(_home.Combine("store", "exports", "root", "m", version, $"m_v{version}_export.tar")).Should().Be(!deleted, commands[i]);
        }

        Backdate(_home.Combine("store"));
        Backdate(_home.Combine("serving"));
        (await RunAsync("mlmodel check repair=true")).Code.Should().Be(0);
        Checker.Consistent(_home.Path);
    }

    private async Task StepAsync(string step)
    {
        if (step.StartsWith("delete-files ", StringComparison.Ordinal))
        {
            // Damage for repair to find: a version's files removed behind the registry's back.
            var folder = _home.Combine("store", "models", "root", "m", step["delete-files ".Length..]);
            foreach (var f in Directory.EnumerateFiles(folder, "*.pb", SearchOption.AllDirectories))
            {
                File.Delete(f);
            }
            return;
        }
        if (step.StartsWith("orphan ", StringComparison.Ordinal))
        {
            var orphan = _home.Combine("store", "models", "root", step["orphan ".Length..], "1", "x.bin");
            Directory.CreateDirectory(Path.GetDirectoryName(orphan)!);
            await File.WriteAllTextAsync(orphan, "left by an import that died");
            return;
        }
        if (step == Import)
        {
            await ImportAsync();
            return;
        }
        var (code, _, error) = await RunAsync(step);
        code.Should().Be(0, $"{step}: {error}");
    }

    private async Task<int> ImportAsync()
    {
        var (code, output, error) = await RunAsync(Import, format: "csv");
        code.Should().Be(0, error);
        var version = int.Parse(output.Split('\n')[1].Split(',')[2], CultureInfo.InvariantCulture);
        _highestVersion = Math.Max(_highestVersion, version);
        return version;
    }

    private static void Backdate(string folder)
    {
        if (!Directory.Exists(folder))
        {
            return;
        }
        var old = DateTime.UtcNow.AddHours(-2);
        foreach (var f in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
        {
            File.SetLastWriteTimeUtc(f, old);
        }
    }

    private async Task<(int Code, string Out, string Err)> RunAsync(string command, string? faultPoint = null, string format = "table")
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "mlmodel.dll");
        var info = new ProcessStartInfo("dotnet", [dll, "--home", _home.Path, "--no-progress", "--format", format, "-c", command])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.Environment.Remove(FaultPoints.EnvironmentVariable);
        if (faultPoint is not null)
        {
            info.Environment[FaultPoints.EnvironmentVariable] = faultPoint;
        }
        using var p = Process.Start(info)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await p.WaitForExitAsync(timeout.Token);
        return (p.ExitCode, await stdout, await stderr);
    }

    /// <summary>
    /// The independent checker: reads the SQLite file with plain SQL, the store and serving folders
    /// with the file system, and models.config as text. It shares no code with the library.
    /// </summary>
    private static class Checker
    {
        private sealed record Row(string User, string Name, int Version, string State, bool Serving, string? Label, string? StorageKey, List<(string Path, long Size, string Sha)> Files);

        private static List<Row> Rows(string home)
        {
            var rows = new List<Row>();
            var builder = new SqliteConnectionStringBuilder { DataSource = Path.Combine(home, "mlmodel.db"), Mode = SqliteOpenMode.ReadOnly, Pooling = false };
            using var connection = new SqliteConnection(builder.ConnectionString);
            connection.Open();
            using var models = connection.CreateCommand();
            models.CommandText = "SELECT id, user_name, name, version, state, serving, serving_label, storage_key FROM mlmodel_models ORDER BY id";
            var ids = new List<(long Id, Row Row)>();
            using (var r = models.ExecuteReader())
            {
                while (r.Read())
                {
                    ids.Add((r.GetInt64(0), new Row(r.GetString(1), r.GetString(2), r.GetInt32(3), r.IsDBNull(4) ? "" : r.GetString(4),
                        r.GetInt64(5) == 1, r.IsDBNull(6) ? null : r.GetString(6), r.IsDBNull(7) ? null : r.GetString(7), [])));
                }
            }
            foreach (var (id, row) in ids)
            {
                using var files = connection.CreateCommand();
                files.CommandText = "SELECT path, size, sha256 FROM mlmodel_model_files WHERE model_id = $id";
                files.Parameters.AddWithValue("$id", id);
                using var r = files.ExecuteReader();
                while (r.Read())
                {
                    row.Files.Add((r.GetString(0), r.GetInt64(1), r.GetString(2)));
                }
                rows.Add(row);
            }
            return rows;
        }

        private static void Whole(string home, Row row)
        {
            row.Files.Should().NotBeEmpty($"version {row.Version} has a manifest");
            foreach (var (path, size, sha) in row.Files)
            {
                var file = Path.Combine(home, "store", row.StorageKey!, path);
                File.Exists(file).Should().BeTrue($"version {row.Version} ({row.State}) is visible, so its file {path} must be there");
                new FileInfo(file).Length.Should().Be(size);
                Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file))).Should().Be(sha, path);
            }
        }

        public static void VisibleVersionsAreWhole(string home)
        {
            foreach (var row in Rows(home).Where(r => r.State == "DONE"))
            {
                Whole(home, row);
            }
        }

        public static void Consistent(string home)
        {
            var rows = Rows(home);
            rows.Should().NotContain(r => r.State == "DELETING", "repair finishes deletes");
            foreach (var row in rows.Where(r => r.State == "DONE"))
            {
                Whole(home, row);
            }

            // Files: every version folder has its row; nothing temporary anywhere.
            var store = Path.Combine(home, "store");
            foreach (var kind in new[] { "models", "exports" })
            {
                var root = Path.Combine(store, kind);
                if (!Directory.Exists(root))
                {
                    continue;
                }
                foreach (var folder in Directory.EnumerateDirectories(root).SelectMany(Directory.EnumerateDirectories).SelectMany(Directory.EnumerateDirectories))
                {
                    var parts = Path.GetRelativePath(root, folder).Split(Path.DirectorySeparatorChar);
                    rows.Should().Contain(r => r.User == parts[0] && r.Name == parts[1] && r.Version.ToString(CultureInfo.InvariantCulture) == parts[2],
                        $"{kind}/{string.Join('/', parts)} belongs to a version");
                }
            }
            var temporary = Directory.Exists(store)
                ? Directory.EnumerateFileSystemEntries(store, "*", SearchOption.AllDirectories).Where(f => Path.GetFileName(f).StartsWith(".mlmodel-tmp-", StringComparison.Ordinal)).ToList()
                : [];
            temporary.Should().BeEmpty("repair removes what killed writes left");

            // Config against rows: served versions and labels, both ways; folders exactly those.
            var serving = Path.Combine(home, "serving");
            var config = File.Exists(Path.Combine(serving, "models.config")) ? File.ReadAllText(Path.Combine(serving, "models.config")) : "";
            var configured = new HashSet<(string, int)>();
            var labels = new HashSet<(string, string, int)>();
            foreach (Match model in Regex.Matches(config, @"config \{(.*?)\n  \}", RegexOptions.Singleline))
            {
                var name = Regex.Match(model.Groups[1].Value, @"name: '([^']*)'").Groups[1].Value;
                foreach (Match v in Regex.Matches(model.Groups[1].Value, @"versions: (\d+)"))
                {
                    configured.Add((name, int.Parse(v.Groups[1].Value, CultureInfo.InvariantCulture)));
                }
                foreach (Match l in Regex.Matches(model.Groups[1].Value, @"key: '([^']*)'\s*value: (\d+)"))
                {
                    labels.Add((name, l.Groups[1].Value, int.Parse(l.Groups[2].Value, CultureInfo.InvariantCulture)));
                }
            }
            var served = rows.Where(r => r.Serving).Select(r => (r.User + "_" + r.Name, r.Version)).ToHashSet();
            configured.Should().BeEquivalentTo(served, "the config serves exactly what the registry serves");
            labels.Should().BeEquivalentTo(rows.Where(r => r.Serving && r.Label is not null).Select(r => (r.User + "_" + r.Name, r.Label!, r.Version)));
            var folders = Directory.Exists(serving)
                ? Directory.EnumerateDirectories(serving).SelectMany(d => Directory.EnumerateDirectories(d).Select(v => (Path.GetFileName(d), Path.GetFileName(v)))).ToList()
                : [];
            folders.Select(f => f.Item2).Where(v => !v.All(char.IsAsciiDigit)).Should().BeEmpty("no publish or unpublish temporary folder is left");
            folders.Select(f => (f.Item1, int.Parse(f.Item2, CultureInfo.InvariantCulture))).Should().BeEquivalentTo(served, "a version folder exists for each served version only");
            (Directory.Exists(serving) ? Directory.EnumerateFiles(serving, "*.tmp", SearchOption.AllDirectories) : []).Should().BeEmpty("no half-written config is left");
        }
    }
}
