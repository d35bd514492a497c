using System.Diagnostics;
using System.Globalization;
using MlModel.Dsl.Serving.TensorFlow;
using MlModel.Dsl.Serving.TensorFlow.Publishing;

// Times publishing a 1 GiB SavedModel-shaped folder (a few large files) into a TF Serving base
// path: hard links and streaming copy through VersionPublisher, a whole DeployAsync, and
// `cp -al` / `cp -r` of the same folder, in the same run.
// Usage: dotnet run -c Release --project bench/Serving [-- <work dir> <runs> <MiB>]
var work = args.Length > 0 ? args[0] : Path.Combine(Path.GetTempPath(), "mlmodel-serving-bench");
var runs = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
var mib = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 1024;

if (Directory.Exists(work))
{
    Directory.Delete(work, recursive: true);
}

var source = Path.Combine(work, "store", "model");
Console.WriteLine($"Generating a {mib} MiB model in {source} ...");
Generate(source, mib);
var files = ServingFile.FromDirectory(source);
Console.WriteLine($"{files.Count} files, {files.Sum(f => f.Length) / (1024.0 * 1024):0} MiB; {runs} runs each, median shown");
Console.WriteLine();

var results = new List<(string Name, double Median, double Min, double Max)>();
var iteration = 0;

await Time("VersionPublisher hard links", async target =>
{
    var r = await new VersionPublisher(target).PublishAsync("m", 1, files);
    Check(r.HardLinked == files.Count, "expected hard links");
});
await Time("VersionPublisher copy (fsync each file)", async target =>
{
    var r = await new VersionPublisher(target, PublishMode.CopyOnly).PublishAsync("m", 1, files);
    Check(r.Copied == files.Count, "expected copies");
});
await Time("VersionPublisher copy (no fsync)", async target =>
    await new VersionPublisher(target, PublishMode.CopyOnly, flushToDisk: false).PublishAsync("m", 1, files));
await Time("TensorFlowServing.DeployAsync (hard links + config, no REST)", async target =>
{
    using var tfs = new TensorFlowServing(new TensorFlowServingOptions { ServingRoot = target, ConfigFile = Path.Combine(target, "models.config") });
    await tfs.DeployAsync("m", 1, "stable", files);
});
await Time("cp -al", target => Shell("cp", "-al", source, Path.Combine(target, "1")));
await Time("cp -r", target => Shell("cp", "-r", source, Path.Combine(target, "1")));
await Time("cp -r && sync", async target =>
{
    await Shell("cp", "-r", source, Path.Combine(target, "1"));
    await Shell("sync");
});

Console.WriteLine();
Console.WriteLine($"| method | median ms | min ms | max ms |");
Console.WriteLine($"|---|---:|---:|---:|");
foreach (var (name, median, min, max) in results)
{
    Console.WriteLine($"| {name} | {median:0.0} | {min:0.0} | {max:0.0} |");
}

Directory.Delete(work, recursive: true);
return 0;

async Task Time(string name, Func<string, Task> action)
{
    var times = new List<double>();
    for (var i = 0; i < runs; i++)
    {
        var target = Path.Combine(work, "serving-" + (iteration++).ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(target);
        await Shell("sync"); // start each run with no dirty pages from the previous one
        var clock = Stopwatch.StartNew();
        await action(target);
        times.Add(clock.Elapsed.TotalMilliseconds);
        Directory.Delete(target, recursive: true);
    }

    times.Sort();
    results.Add((name, times[times.Count / 2], times[0], times[^1]));
    Console.WriteLine($"{name}: {string.Join(", ", times.Select(t => t.ToString("0.0", CultureInfo.InvariantCulture)))} ms");
}

static async Task Shell(string file, params string[] arguments)
{
    using var process = Process.Start(new ProcessStartInfo(file, arguments))!;
    await process.WaitForExitAsync();
    Check(process.ExitCode == 0, $"{file} failed");
}

static void Check(bool condition, string message)
{
    if (!condition)
    {
        throw new InvalidOperationException(message);
    }
}

static void Generate(string folder, int mib)
{
    Directory.CreateDirectory(Path.Combine(folder, "variables"));
    Directory.CreateDirectory(Path.Combine(folder, "assets"));
    var random = new Random(42);
    var block = new byte[1 << 20];
    random.NextBytes(block);
    File.WriteAllBytes(Path.Combine(folder, "saved_model.pb"), block[..(256 * 1024)]);
    File.WriteAllBytes(Path.Combine(folder, "variables", "variables.index"), block[..4096]);
    File.WriteAllText(Path.Combine(folder, "assets", "vocab.txt"), "a\nb\n");
    const int shards = 4;
    for (var s = 0; s < shards; s++)
    {
        using var stream = File.Create(Path.Combine(folder, "variables", $"variables.data-{s:00000}-of-{shards:00000}"));
        for (var i = 0; i < mib / shards; i++)
        {
            block[0] = (byte)i; // not all blocks identical
            stream.Write(block);
        }
    }
}
