// Storage benchmark: a 1 GiB object (by default) into and out of LocalObjectStore and
// S3ObjectStore, against baselines that move the same bytes (cp; the raw AWS SDK). Each scenario
// runs in a fresh child process so that its peak memory (VmHWM) is its own. See README.md.
using System.Diagnostics;
using System.Globalization;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Amazon.S3.Transfer;
using MlModel.Dsl.Backends.Local;
using MlModel.Dsl.Storage.S3;

var options = BenchOptions.Parse(args);
if (options.Child is { } scenario)
{
    return await Child.RunAsync(scenario, options);
}

return await Parent.RunAsync(options);

internal sealed record BenchOptions(long SizeMiB, int Runs, string Dir, string? Child, IReadOnlyList<string> Scenarios, string? Bucket, int? Parts)
{
    public long Bytes => SizeMiB * 1024 * 1024;
    public string Source => Path.Combine(Dir, "source.bin");
    public string StoreRoot => Path.Combine(Dir, "store");
    public string OutFile => Path.Combine(Dir, "out.bin");
    public string CpTarget => Path.Combine(Dir, "cp-target.bin");

    public static readonly string[] Local = ["cp", "cp+sync", "dd", "local-put", "local-write", "cp-read", "dd-read", "local-get", "dd-null", "local-read"];
    public static readonly string[] S3 = ["raw-putobject", "raw-transfer", "s3-put", "s3-put-unknown", "s3-write", "raw-get", "s3-get"];

    public static BenchOptions Parse(string[] args)
    {
        long size = 1024;
        var runs = 3;
        var dir = Path.Combine(Path.GetTempPath(), "mlmodel-storage-bench");
        string? child = null;
        string? bucket = null;
        int? parts = null;
        var scenarios = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--size-mib": size = long.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--runs": runs = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--dir": dir = Path.GetFullPath(args[++i]); break;
                case "--child": child = args[++i]; break;
                case "--bucket": bucket = args[++i]; break;
                case "--parts": parts = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "local": scenarios.AddRange(Local); break;
                case "s3": scenarios.AddRange(S3); break;
                case "all": scenarios.AddRange(Local); scenarios.AddRange(S3); break;
                default:
                    if (!Local.Contains(args[i]) && !S3.Contains(args[i]))
                    {
                        throw new ArgumentException($"unknown argument '{args[i]}'; scenarios: local, s3, all, {string.Join(", ", Local.Concat(S3))}");
                    }

                    scenarios.Add(args[i]);
                    break;
            }
        }

        if (scenarios.Count == 0)
        {
            scenarios.AddRange(Local);
            scenarios.AddRange(S3);
        }

        return new BenchOptions(size, runs, dir, child, scenarios, bucket, parts);
    }
}

internal static class S3Env
{
    public static string Endpoint => Require("MLMODEL_TEST_S3_ENDPOINT");
    public static string AccessKey => Require("MLMODEL_TEST_S3_ACCESS_KEY");
    public static string SecretKey => Require("MLMODEL_TEST_S3_SECRET_KEY");

    /// <summary>Optional shell command run after each S3 scenario to reclaim deleted objects at once (Ceph defers it by hours).</summary>
    public static string? GcCommand => Environment.GetEnvironmentVariable("MLMODEL_BENCH_S3_GC");

    private static string Require(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException($"{name} is not set: run scripts/services.sh start and source its services.env");

    public static AmazonS3Client RawClient() => new(new BasicAWSCredentials(AccessKey, SecretKey), new AmazonS3Config
    {
        ServiceURL = Endpoint,
        ForcePathStyle = true,
        AuthenticationRegion = "us-east-1",
        RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
        ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
    });

    public static S3ObjectStore Store(string bucket, int? parts)
    {
        var options = new S3StoreOptions
        {
            ServiceUrl = Endpoint,
            Bucket = bucket,
            AccessKey = AccessKey,
            SecretKey = SecretKey,
        };
        if (parts is { } n)
        {
            options.MaxConcurrentParts = n;
        }

        return new S3ObjectStore(options);
    }
}

internal static class Parent
{
    public static async Task<int> RunAsync(BenchOptions options)
    {
        Directory.CreateDirectory(options.Dir);
        await EnsureSourceAsync(options);
        var needsS3 = options.Scenarios.Any(s => BenchOptions.S3.Contains(s));
        string? bucket = null;
        AmazonS3Client? raw = null;
        if (needsS3)
        {
            raw = S3Env.RawClient();
            bucket = "mlmodel-bench-" + Guid.NewGuid().ToString("N")[..12];
            await raw.PutBucketAsync(bucket);
        }

        var results = new List<(string Scenario, double Seconds, long HwmKb, long RssBeforeKb)>();
        try
        {
            // Round-robin: run 1 of every scenario, then run 2, ..., so that a change of machine
            // load over time biases no scenario against its baseline.
            for (var run = 1; run <= options.Runs; run++)
            {
                foreach (var scenario in options.Scenarios)
                {
                    // Every run writes a file that does not exist yet and starts with no dirty pages
                    // and no pending discards: otherwise a run pays for the write-back of the one
                    // before it (cp leaves 1 GiB dirty) or for freeing the file it replaces (on a
                    // file system mounted with `discard`, freeing 1 GiB stalls the next writes).
                    File.Delete(options.OutFile);
                    if (scenario is "cp" or "cp+sync" or "dd" or "local-put" or "local-write")
                    {
                        File.Delete(options.CpTarget);
                        var stored = Path.Combine(options.StoreRoot, "bench", "object.bin");
                        if (File.Exists(stored))
                        {
                            File.Delete(stored);
                        }
                    }

                    await Shell("sync");
                    await Task.Delay(TimeSpan.FromSeconds(2));
                    var result = scenario is "cp" or "cp+sync" or "dd" or "cp-read" or "dd-read" or "dd-null"
                        ? await CopyAsync(scenario, options)
                        : await ChildAsync(scenario, options, bucket);
                    results.Add((scenario, result.Seconds, result.HwmKb, result.RssBeforeKb));
                    Console.Error.WriteLine(FormattableString.Invariant(
                        $"  {scenario,-15} run {run}: {result.Seconds,7:F2} s  {options.SizeMiB / result.Seconds,8:F1} MiB/s  peak {result.HwmKb / 1024.0,6:F1} MB"));
                    if (scenario is "raw-putobject" or "raw-transfer" or "s3-put" or "s3-put-unknown" or "s3-write")
                    {
                        await ReclaimAsync();
                    }
                }
            }
        }
        finally
        {
            if (raw is not null)
            {
                try
                {
                    await raw.DeleteObjectAsync(bucket, ObjectKeyName);
                    await raw.DeleteBucketAsync(bucket);
                }
                catch (AmazonS3Exception e)
                {
                    Console.Error.WriteLine($"could not remove bucket {bucket}: {e.Message}");
                }

                raw.Dispose();
                await ReclaimAsync();
            }

            File.Delete(options.OutFile);
            File.Delete(options.CpTarget);
            if (Directory.Exists(options.StoreRoot))
            {
                Directory.Delete(options.StoreRoot, recursive: true);
            }
        }

        Console.WriteLine();
        Console.WriteLine(FormattableString.Invariant($"Object: {options.SizeMiB} MiB; median of {options.Runs} run(s); CPU: {CpuModel()}; {Environment.ProcessorCount} cores"));
        Console.WriteLine();
        Console.WriteLine("| scenario | median s | MiB/s | peak RSS MB (max) | RSS before MB |");
        Console.WriteLine("|---|---:|---:|---:|---:|");
        foreach (var group in results.GroupBy(r => r.Scenario))
        {
            var seconds = group.Select(r => r.Seconds).Order().ToList();
            var median = seconds[seconds.Count / 2];
            var hwm = group.Max(r => r.HwmKb);
            var before = group.Max(r => r.RssBeforeKb);
            Console.WriteLine(FormattableString.Invariant(
                $"| {group.Key} | {median:F2} | {options.SizeMiB / median:F1} | {(hwm > 0 ? (hwm / 1024.0).ToString("F1", CultureInfo.InvariantCulture) : "n/a (cp)")} | {(before > 0 ? (before / 1024.0).ToString("F1", CultureInfo.InvariantCulture) : "")} |"));
        }

        return 0;
    }

    private const string ObjectKeyName = "bench/object.bin";

    private static async Task EnsureSourceAsync(BenchOptions options)
    {
        if (File.Exists(options.Source) && new FileInfo(options.Source).Length == options.Bytes)
        {
            return;
        }

        Console.Error.WriteLine($"writing {options.SizeMiB} MiB of pseudo-random bytes to {options.Source}");
        var random = new Random(42);
        var chunk = new byte[1 << 20];
        await using var file = new FileStream(options.Source, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        for (long i = 0; i < options.SizeMiB; i++)
        {
            random.NextBytes(chunk);
            await file.WriteAsync(chunk);
        }
    }

    private static async Task<(double Seconds, long HwmKb, long RssBeforeKb)> CopyAsync(string scenario, BenchOptions options)
    {
        // cp from the source into the store folder (cp, cp+sync: the upload baselines; the local
        // store also fsyncs), and cp of the stored file out (cp-read: the download baseline).
        string from = options.Source, to = options.CpTarget;
        if (scenario is "cp-read" or "dd-read" or "dd-null")
        {
            if (!File.Exists(options.CpTarget))
            {
                File.Copy(options.Source, options.CpTarget);
            }

            from = options.CpTarget;
            to = options.OutFile;
        }

        File.Delete(to);
        var watch = Stopwatch.StartNew();
        if (scenario == "dd")
        {
            // The streaming baseline: read and write through a 1 MiB buffer, then fsync, as a
            // WriteAsync producer must (cp copies in the kernel, copy_file_range).
            await Shell("dd", $"if={from}", $"of={to}", "bs=1M", "conv=fsync", "status=none");
        }
        else if (scenario == "dd-read")
        {
            // Download baseline through a user-space buffer into a file: local-get's sink.
            await Shell("dd", $"if={from}", $"of={to}", "bs=1M", "status=none");
        }
        else if (scenario == "dd-null")
        {
            // Read baseline with no sink: local-read's.
            await Shell("dd", $"if={from}", "of=/dev/null", "bs=1M", "status=none");
        }
        else
        {
            await Shell("cp", from, to);
        }

        if (scenario == "cp+sync")
        {
            await Shell("sync", to);
        }

        watch.Stop();
        return (watch.Elapsed.TotalSeconds, 0, 0);
    }

    private static async Task Shell(string program, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(program, arguments) { UseShellExecute = false })!;
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} failed with {process.ExitCode}");
        }
    }

    private static async Task<(double Seconds, long HwmKb, long RssBeforeKb)> ChildAsync(string scenario, BenchOptions options, string? bucket)
    {
        var self = Environment.ProcessPath!;
        var arguments = new List<string>();
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            arguments.Add(typeof(Parent).Assembly.Location);
        }

        arguments.AddRange(["--child", scenario, "--size-mib", options.SizeMiB.ToString(CultureInfo.InvariantCulture), "--dir", options.Dir]);
        if (bucket is not null)
        {
            arguments.AddRange(["--bucket", bucket]);
        }

        if (options.Parts is { } parts)
        {
            arguments.AddRange(["--parts", parts.ToString(CultureInfo.InvariantCulture)]);
        }

        var start = new ProcessStartInfo(self, arguments) { UseShellExecute = false, RedirectStandardOutput = true };
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"scenario {scenario} failed (exit {process.ExitCode}): {output}");
        }

        var line = output.Split('\n').Single(l => l.StartsWith("RESULT ", StringComparison.Ordinal));
        var fields = line[7..].Split(' ').Select(f => f.Split('=')).ToDictionary(f => f[0], f => f[1]);
        return (double.Parse(fields["seconds"], CultureInfo.InvariantCulture),
            long.Parse(fields["hwm_kb"], CultureInfo.InvariantCulture),
            long.Parse(fields["rss_before_kb"], CultureInfo.InvariantCulture));
    }

    private static async Task ReclaimAsync()
    {
        if (S3Env.GcCommand is { Length: > 0 } command)
        {
            using var process = Process.Start(new ProcessStartInfo("bash", ["-c", command]) { UseShellExecute = false, RedirectStandardOutput = true })!;
            await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();
        }
    }

    private static string CpuModel()
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
        }
        catch (IOException)
        {
            return "?";
        }
    }
}

internal static class Child
{
    private const string ObjectKey = "bench/object.bin";
    private const int Buffer = 1 << 20;

    public static async Task<int> RunAsync(string scenario, BenchOptions options)
    {
        var bucket = options.Bucket ?? "";
        File.Delete(options.OutFile);
        // Set-up outside the timed part: clients, stores, the source file opened.
        var local = new LocalObjectStore(options.StoreRoot);
        using var s3 = BenchOptions.S3.Contains(scenario) ? S3Env.Store(bucket, options.Parts) : null;
        using var raw = BenchOptions.S3.Contains(scenario) ? S3Env.RawClient() : null;
        if (s3 is not null)
        {
            await s3.StatAsync("warm-up"); // the first request opens the connection and loads the SDK
        }

        GC.Collect();
        var rssBefore = ProcStatus("VmRSS");
        var watch = Stopwatch.StartNew();
        switch (scenario)
        {
            case "local-put":
                await using (var source = OpenSource(options))
                {
                    await local.PutAsync(ObjectKey, source, options.Bytes);
                }

                break;
            case "local-write":
                await local.WriteAsync(ObjectKey, async (stream, ct) =>
                {
                    await using var source = OpenSource(options);
                    await source.CopyToAsync(stream, Buffer, ct);
                });
                break;
            case "local-get":
                await CopyOutAsync(await local.OpenReadAsync(ObjectKey), options);
                break;
            case "local-read":
                await using (var read = await local.OpenReadAsync(ObjectKey))
                {
                    await read.CopyToAsync(Stream.Null, Buffer);
                }

                break;
            case "raw-putobject":
                await raw!.PutObjectAsync(new PutObjectRequest { BucketName = bucket, Key = ObjectKey, FilePath = options.Source });
                break;
            case "raw-transfer":
                using (var transfer = new TransferUtility(raw!))
                {
                    await transfer.UploadAsync(new TransferUtilityUploadRequest
                    {
                        BucketName = bucket,
                        Key = ObjectKey,
                        FilePath = options.Source,
                        PartSize = 16 * 1024 * 1024,
                    });
                }

                break;
            case "s3-put":
                await using (var source = OpenSource(options))
                {
                    await s3!.PutAsync(ObjectKey, source, options.Bytes);
                }

                break;
            case "s3-put-unknown":
                await using (var source = OpenSource(options))
                {
                    await s3!.PutAsync(ObjectKey, source, null);
                }

                break;
            case "s3-write":
                await s3!.WriteAsync(ObjectKey, async (stream, ct) =>
                {
                    await using var source = OpenSource(options);
                    await source.CopyToAsync(stream, Buffer, ct);
                });
                break;
            case "raw-get":
                using (var response = await raw!.GetObjectAsync(bucket, ObjectKey))
                {
                    await CopyOutAsync(response.ResponseStream, options);
                }

                break;
            case "s3-get":
                await CopyOutAsync(await s3!.OpenReadAsync(ObjectKey), options);
                break;
            default:
                throw new ArgumentException("unknown scenario " + scenario);
        }

        watch.Stop();
        var stored = s3 is not null ? (await s3.StatAsync(ObjectKey))?.Size : (await local.StatAsync(ObjectKey))?.Size;
        var produced = scenario.EndsWith("get", StringComparison.Ordinal) ? new FileInfo(options.OutFile).Length : stored;
        if (scenario == "local-read")
        {
            produced = stored;
        }

        if (produced != options.Bytes)
        {
            Console.WriteLine($"ERROR: {scenario} produced {produced} bytes, not {options.Bytes}");
            return 1;
        }

        if (Environment.GetEnvironmentVariable("MLMODEL_BENCH_GC_INFO") == "1")
        {
            var info = GC.GetGCMemoryInfo(GCKind.Any);
            Console.Error.WriteLine(FormattableString.Invariant(
                $"    gc: allocated {GC.GetTotalAllocatedBytes() / 1048576.0:F1} MB, heap {info.HeapSizeBytes / 1048576.0:F1} MB, committed {info.TotalCommittedBytes / 1048576.0:F1} MB, gen0/1/2 {GC.CollectionCount(0)}/{GC.CollectionCount(1)}/{GC.CollectionCount(2)}"));
        }

        Console.WriteLine(FormattableString.Invariant(
            $"RESULT seconds={watch.Elapsed.TotalSeconds:F4} hwm_kb={ProcStatus("VmHWM")} rss_before_kb={rssBefore}"));
        return 0;
    }

    private static FileStream OpenSource(BenchOptions options) =>
        new(options.Source, new FileStreamOptions
        {
            Mode = FileMode.Open,
            Access = FileAccess.Read,
            Share = FileShare.Read,
            BufferSize = 0,
            Options = FileOptions.Asynchronous | FileOptions.SequentialScan,
        });

    /// <summary>
    /// The download sink, the same for every get scenario: read asynchronously, write with direct
    /// calls (as dd does; .NET's asynchronous file writes are a thread-pool hop per call, which
    /// measured 1.5-2 times slower on Linux and would make the sink the bottleneck).
    /// </summary>
    private static async Task CopyOutAsync(Stream source, BenchOptions options)
    {
        var buffer = new byte[Buffer];
        await using (source)
        await using (var target = new FileStream(options.OutFile, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            Share = FileShare.None,
            BufferSize = 0,
        }))
        {
            int read;
            while ((read = await source.ReadAsync(buffer)) > 0)
            {
                target.Write(buffer, 0, read);
            }
        }
    }

    private static long ProcStatus(string field)
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return long.Parse(line.Split(':', 2)[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }
}
