using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MlModel.Dsl.Predict.Benchmarks;

// The predict benchmark (issue 14, item 7): half_plus_two over 100,000 and 1,000,000 rows against
// the fake TensorFlow Serving, MlModel.Dsl's serving predict stage (and its predictor alone) against
// a raw HttpClient program, same batches, same server, same run. See README.md.
//   run    [--rows 100000,1000000] [--batch 256] [--concurrency 4] [--rounds 5] [--sides raw,ours,stage,stage-text,stage-new-rows] [--warmup 100000] [--warmup-seconds 3] [--gen0size 0x1000000|default]
//   deploy --home DIR           import and deploy half_plus_two in a new home DIR, print its serving name and version (to run the server and a side by hand, under a profiler say)
//   stage-cost [--rows 1000000] [--rounds 10] [--forms numeric,text]   the predict stage's own CPU per row, in this process (no server)
//   server --config FILE --model NAME --version N   the fake server in this process (the driver starts it)
//   side <name> --server URL --home DIR --model NAME --version N --rows N --batch B --concurrency C --warmup W --warmup-seconds S   one side, one run (the driver starts it)
var options = Options.Parse(args.Skip(1));
return args.FirstOrDefault() switch
{
    "server" => await FakeServerProcess.RunAsync(options),
    "stage-cost" => await StageCost.RunAsync(options),
    "deploy" when options.Get("home", "").Length > 0 => await DeployAsync(options.Get("home", "")),
    "side" when args.Length > 1 => await SideProcess.RunAsync(args[1], Options.Parse(args.Skip(2))),
    "run" or null => await Driver.RunAsync(options),
    _ => Usage(),
};

static async Task<int> DeployAsync(string home)
{
    var (servingName, version) = await BenchHome.DeployAsync(home);
    Console.WriteLine($"{servingName} {version} {BenchHome.ConfigFile(home)}");
    return 0;
}

static int Usage()
{
    Console.Error.WriteLine("usage: run [--rows 100000,1000000] [--batch 256] [--concurrency 4] [--rounds 5] [--sides raw,ours,stage,stage-text,stage-new-rows] [--warmup 100000] [--warmup-seconds 3] [--gen0size 0x1000000|default]");
    return 2;
}

/// <summary><c>--name value</c> pairs.</summary>
internal sealed class Options
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    public static Options Parse(IEnumerable<string> args)
    {
        var options = new Options();
        var list = args.ToList();
        for (var i = 0; i + 1 < list.Count; i += 2)
        {
            options._values[list[i].TrimStart('-')] = list[i + 1];
        }

        return options;
    }

    public string Get(string name, string fallback) => _values.TryGetValue(name, out var v) ? v : fallback;

    public long Long(string name, long fallback) => long.Parse(Get(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
}

/// <summary>What one side process reports (one JSON line after <c>RESULT </c>).</summary>
/// <param name="PeakRssBytes">VmHWM at the end: of the timed run alone when <paramref name="PeakRssOfTimedRun"/>, else of the whole process.</param>
/// <param name="PeakManagedBytes">The largest GC.GetTotalMemory(false) sampled during the timed run: live objects and garbage not yet collected.</param>
/// <param name="PeakHeapAfterGcBytes">The largest heap size after a collection (GCMemoryInfo.HeapSizeBytes) sampled during the timed run.</param>
internal sealed record SideResult(string Side, long Rows, int BatchSize, int Concurrency, double Seconds, double RowsPerSecond,
    double CpuSeconds, long PeakRssBytes, bool PeakRssOfTimedRun, long PeakManagedBytes, long PeakHeapAfterGcBytes, double AllocatedBytesPerRow, double Checksum, long Mismatches)
{
    /// <summary>The server's CPU time over the timed run (the driver measures it).</summary>
    public double ServerCpuSeconds { get; set; }

    /// <summary>The round the driver ran it in (0-based): sides of one round ran one after the other.</summary>
    public int Round { get; set; }

    /// <summary>How long the warm-up took.</summary>
    public double WarmupSeconds { get; init; }

    /// <summary>Methods the JIT compiled during the timed run (few: the run was on final code).</summary>
    public long CompiledDuringRun { get; init; }

    /// <summary>Garbage collections during the timed run (of any generation).</summary>
    public int Collections { get; init; }

    /// <summary>The time the runtime was paused for them.</summary>
    public double GcPauseSeconds { get; init; }
}

/// <summary><c>side</c>: one side, one timed run, in this process.</summary>
internal static class SideProcess
{
    public static async Task<int> RunAsync(string name, Options options)
    {
        if (!Sides.All.TryGetValue(name, out var side))
        {
            await Console.Error.WriteLineAsync($"unknown side '{name}'; known: {string.Join(", ", Sides.All.Keys)}");
            return 2;
        }

        var workload = new Workload(new Uri(options.Get("server", "http://127.0.0.1:8501/")), options.Get("model", "root_half_plus_two"), (int)options.Long("version", 1),
            options.Long("rows", 100_000), (int)options.Long("batch", 256), (int)options.Long("concurrency", 4))
        {
            Home = options.Get("home", ""),
        };

        // Warm-up, not timed: connections, and the JIT. The library's code is not precompiled, so
        // it goes through tier 0 and instrumented tiers before its final tier-1 code, and the runtime
        // promotes methods in the background, later the more new code keeps arriving: a warm-up of a
        // fixed few seconds left hundreds of the hot path's methods to be recompiled inside the timed
        // run. Runs of --warmup rows are repeated for at least --warmup-seconds and until a run
        // compiles (almost) nothing new, for at most a minute.
        var warmupClock = Stopwatch.StartNew();
        long compiledBefore, compiledAfter;
        do
        {
            compiledBefore = System.Runtime.JitInfo.GetCompiledMethodCount();
            await side(workload with { Rows = options.Long("warmup", 100_000) }, CancellationToken.None);
            await Task.Delay(200); // the background tiering's delay
            compiledAfter = System.Runtime.JitInfo.GetCompiledMethodCount();
        }
        while ((warmupClock.Elapsed.TotalSeconds < options.Long("warmup-seconds", 3) || compiledAfter - compiledBefore > 10) && warmupClock.Elapsed.TotalSeconds < 60);

        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using var self = Process.GetCurrentProcess();
        var cpu = self.TotalProcessorTime;
        // Peak RSS from here on: writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0+).
        var hwmReset = TryResetPeakRss();
        Console.WriteLine("WARM");

        long peakManaged = 0, peakHeapAfterGc = 0;
        using var sampler = new Timer(_ =>
        {
            Max(ref peakManaged, GC.GetTotalMemory(false));
            Max(ref peakHeapAfterGc, GC.GetGCMemoryInfo().HeapSizeBytes);
        }, null, 0, 10);
        var compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        var collections = GC.CollectionCount(0);
        var paused = GC.GetTotalPauseDuration();
        var clock = Stopwatch.StartNew();
        var totals = await side(workload, CancellationToken.None);
        clock.Stop();
        var allocatedPerRow = (GC.GetTotalAllocatedBytes(precise: true) - allocated) / (double)workload.Rows;
        await sampler.DisposeAsync();

        self.Refresh();
        var result = new SideResult(name, totals.Rows, workload.BatchSize, workload.Concurrency, clock.Elapsed.TotalSeconds,
            totals.Rows / clock.Elapsed.TotalSeconds, (self.TotalProcessorTime - cpu).TotalSeconds, self.PeakWorkingSet64, hwmReset, Interlocked.Read(ref peakManaged),
            Interlocked.Read(ref peakHeapAfterGc), allocatedPerRow, totals.Checksum, totals.Mismatches)
        {
            WarmupSeconds = warmupClock.Elapsed.TotalSeconds,
            CompiledDuringRun = System.Runtime.JitInfo.GetCompiledMethodCount() - compiled,
            Collections = GC.CollectionCount(0) - collections,
            GcPauseSeconds = (GC.GetTotalPauseDuration() - paused).TotalSeconds,
        };
        Console.WriteLine("RESULT " + JsonSerializer.Serialize(result));
        return totals.Rows == workload.Rows && totals.Mismatches == 0 ? 0 : 1;
    }

    private static void Max(ref long peak, long value)
    {
        long seen;
        while (value > (seen = Interlocked.Read(ref peak)) && Interlocked.CompareExchange(ref peak, value, seen) != seen)
        {
        }
    }

    private static bool TryResetPeakRss()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}

/// <summary><c>run</c>: starts the server, runs every side for every row count in rounds (alternating which side goes first), prints the figures.</summary>
internal static class Driver
{
    public static async Task<int> RunAsync(Options options)
    {
        var rowCounts = options.Get("rows", "100000,1000000").Split(',').Select(r => long.Parse(r, CultureInfo.InvariantCulture)).ToArray();
        var sides = options.Get("sides", "raw,ours,stage,stage-text,stage-new-rows").Split(',');
        var rounds = (int)options.Long("rounds", 5);
        var batch = options.Long("batch", 256);
        var concurrency = options.Long("concurrency", 4);
        var warmup = options.Long("warmup", 100_000);
        var warmupSeconds = options.Long("warmup-seconds", 3);
        // The GC's gen0 budget follows the L3 cache: on this VM, which reports 260 MiB, over 100 MB of
        // garbage piles up before the first collection, and a run's peak memory says more about how
        // much it allocated than about what it holds. The sides run with the same fixed budget
        // (DOTNET_GCgen0size) unless --gen0size default: 16 MB, the cap the CLI sets on its own
        // (System.GC.Gen0MaxBudget in samples/MlModel.Cli) for the same reason. A smaller one
        // (4 MB: --gen0size 0x400000) makes every side collect more often, the ones that allocate
        // the most (the stage's output rows) the most: docs/performance.md shows both.
        var gen0size = options.Get("gen0size", "0x1000000");

        Console.WriteLine($"# predict benchmark, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
        Console.WriteLine($"# {Machine()}");
        Console.WriteLine($"# batch {batch} rows, {concurrency} batches in flight, warm-up runs of {warmup} rows for at least {warmupSeconds} s, {rounds} rounds, "
            + $"GC gen0 budget {(gen0size == "default" ? "the runtime's default" : gen0size)}; load average {LoadAverage()}");

        // The model as users have it: imported and deployed by the engine in a home of its own,
        // the server started on the config that deploy wrote.
        var home = Path.Combine(Path.GetTempPath(), "mlmodel-predict-bench-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        try
        {
            var (servingName, version) = await BenchHome.DeployAsync(home);
            Console.WriteLine($"# {BenchHome.ModelName} version {version} deployed as {servingName} in {home}");
            return await RunAsync(rowCounts, sides, rounds, batch, concurrency, warmup, warmupSeconds, gen0size, home, servingName, version);
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }

    private static async Task<int> RunAsync(long[] rowCounts, string[] sides, int rounds, long batch, long concurrency, long warmup, long warmupSeconds,
        string gen0size, string home, string servingName, int version)
    {
        using var server = Start(null, "server", "--config", BenchHome.ConfigFile(home), "--model", servingName, "--version", version.ToString(CultureInfo.InvariantCulture));
        var line = await server.StandardOutput.ReadLineAsync();
        if (line is null || !line.StartsWith("LISTENING ", StringComparison.Ordinal))
        {
            await Console.Error.WriteLineAsync("the server did not start: " + line + await server.StandardError.ReadToEndAsync());
            return 1;
        }

        var address = line["LISTENING ".Length..];
        var results = new List<SideResult>();
        var failed = false;
        try
        {
            for (var round = 0; round < rounds; round++)
            {
                foreach (var rows in rowCounts)
                {
                    foreach (var side in round % 2 == 0 ? sides : sides.Reverse())
                    {
                        using var process = Start(gen0size == "default" ? null : gen0size, "side", side, "--server", address, "--home", home, "--model", servingName,
                            "--version", version.ToString(CultureInfo.InvariantCulture), "--rows", rows.ToString(CultureInfo.InvariantCulture),
                            "--batch", batch.ToString(CultureInfo.InvariantCulture), "--concurrency", concurrency.ToString(CultureInfo.InvariantCulture),
                            "--warmup", warmup.ToString(CultureInfo.InvariantCulture), "--warmup-seconds", warmupSeconds.ToString(CultureInfo.InvariantCulture));
                        // The server's CPU time from the side's "WARM" (warm-up done) to its "RESULT".
                        var output = new System.Text.StringBuilder();
                        string? resultLine = null;
                        TimeSpan serverCpu = default;
                        while (await process.StandardOutput.ReadLineAsync() is { } outputLine)
                        {
                            output.AppendLine(outputLine);
                            server.Refresh();
                            if (outputLine == "WARM")
                            {
                                serverCpu = server.TotalProcessorTime;
                            }
                            else if (outputLine.StartsWith("RESULT ", StringComparison.Ordinal))
                            {
                                serverCpu = server.TotalProcessorTime - serverCpu;
                                resultLine = outputLine;
                            }
                        }

                        var errors = await process.StandardError.ReadToEndAsync();
                        await process.WaitForExitAsync();
                        if (process.ExitCode != 0 || resultLine is null)
                        {
                            await Console.Error.WriteLineAsync($"side {side} ({rows} rows) failed, exit {process.ExitCode}: {output}{errors}");
                            failed = true;
                            continue;
                        }

                        var result = JsonSerializer.Deserialize<SideResult>(resultLine["RESULT ".Length..])!;
                        result.ServerCpuSeconds = serverCpu.TotalSeconds;
                        result.Round = round;
                        results.Add(result);
                        Console.WriteLine($"round {round + 1} {side,-10} {rows,9:N0} rows: {result.RowsPerSecond,9:N0} rows/s  {result.Seconds,6:F2} s  "
                            + $"CPU {Micro(result.CpuSeconds, rows),5:F2} µs/row (server {Micro(result.ServerCpuSeconds, rows),5:F2})  "
                            + $"peak RSS {Mb(result.PeakRssBytes),6:F1} MB{(result.PeakRssOfTimedRun ? "" : " (whole process)")}  managed peak {Mb(result.PeakManagedBytes),5:F1} MB  "
                            + $"heap after GC {Mb(result.PeakHeapAfterGcBytes),5:F1} MB  {result.AllocatedBytesPerRow,6:F0} B/row allocated  "
                            + $"{result.Collections} GCs paused {result.GcPauseSeconds * 1000:F1} ms  "
                            + $"(warm-up {result.WarmupSeconds:F1} s, {result.CompiledDuringRun} methods compiled during the run)");
                    }
                }
            }
        }
        finally
        {
            server.StandardInput.Close();
            await server.WaitForExitAsync();
            Console.WriteLine((await server.StandardError.ReadToEndAsync()).Trim());
        }

        foreach (var rows in rowCounts)
        {
            if (results.Where(r => r.Rows == rows).Select(r => r.Checksum).Distinct().Count() > 1)
            {
                await Console.Error.WriteLineAsync($"the sides disagree on the outputs of {rows} rows");
                failed = true;
            }
        }

        Console.WriteLine();
        Console.WriteLine($"load average at the end: {LoadAverage()}");
        Console.WriteLine();
        // "vs raw, paired": each round's rows/s over the raw program's in the same round (run just
        // before or after it), the median of those ratios: less moved by the machine's load drifting
        // over the minutes of a run than the ratio of the medians.
        Console.WriteLine("| rows | side | rows/s (median) | min | max | vs raw | vs raw, paired | client CPU per row | server CPU per row | GCs, pause | peak RSS | managed heap peak | heap after GC, peak | allocated per row |");
        Console.WriteLine("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var rows in rowCounts)
        {
            var raw = Median(results.Where(r => r.Rows == rows && r.Side == "raw").Select(r => r.RowsPerSecond));
            foreach (var side in sides)
            {
                var runs = results.Where(r => r.Rows == rows && r.Side == side).ToList();
                if (runs.Count == 0)
                {
                    continue;
                }

                var median = Median(runs.Select(r => r.RowsPerSecond));
                var paired = runs.Select(r => (r, results.FirstOrDefault(b => b.Rows == rows && b.Side == "raw" && b.Round == r.Round)))
                    .Where(p => p.Item2 is not null).Select(p => p.r.RowsPerSecond / p.Item2!.RowsPerSecond).ToList();
                Console.WriteLine($"| {rows:N0} | {side} | {median:N0} | {runs.Min(r => r.RowsPerSecond):N0} | {runs.Max(r => r.RowsPerSecond):N0} | "
                    + $"{(raw > 0 ? (median / raw).ToString("P1", CultureInfo.InvariantCulture) : "-")} | "
                    + $"{(paired.Count > 0 ? Median(paired).ToString("P1", CultureInfo.InvariantCulture) : "-")} | "
                    + $"{Micro(Median(runs.Select(r => r.CpuSeconds)), rows):F2} µs | {Micro(Median(runs.Select(r => r.ServerCpuSeconds)), rows):F2} µs | "
                    + $"{Median(runs.Select(r => (double)r.Collections)):F0}, {Median(runs.Select(r => r.GcPauseSeconds)) * 1000:F1} ms | "
                    + $"{Mb(Median(runs.Select(r => (double)r.PeakRssBytes))):F1} MB | "
                    + $"{Mb(Median(runs.Select(r => (double)r.PeakManagedBytes))):F1} MB | {Mb(Median(runs.Select(r => (double)r.PeakHeapAfterGcBytes))):F1} MB | "
                    + $"{Median(runs.Select(r => r.AllocatedBytesPerRow)):F0} B |");
            }
        }

        if (rowCounts.Length > 1)
        {
            Console.WriteLine();
            foreach (var side in sides)
            {
                var small = Median(results.Where(r => r.Rows == rowCounts[0] && r.Side == side).Select(r => (double)r.PeakRssBytes));
                var large = Median(results.Where(r => r.Rows == rowCounts[^1] && r.Side == side).Select(r => (double)r.PeakRssBytes));
                Console.WriteLine($"{side}: peak RSS at {rowCounts[^1]:N0} rows is {large / small:P1} of that at {rowCounts[0]:N0}");
            }
        }

        return failed ? 1 : 0;
    }

    private static Process Start(string? gen0size, params string[] args)
    {
        var host = Environment.ProcessPath!;
        var info = new ProcessStartInfo(host)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (gen0size is not null)
        {
            info.Environment["DOTNET_GCgen0size"] = gen0size;
        }

        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            info.ArgumentList.Add(typeof(Driver).Assembly.Location);
        }

        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return Process.Start(info)!;
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? 0 : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static double Mb(double bytes) => bytes / (1024 * 1024);

    private static double Micro(double seconds, long rows) => seconds * 1e6 / rows;

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

    private static string Machine()
    {
        var cpu = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim()
            : null;
        return $"{cpu ?? "unknown CPU"}, {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}";
    }
}
