using System.Diagnostics;

namespace MlModel.Dsl.Serving.TensorFlow.Tests;

/// <summary>Locates TF Serving's own test SavedModels (see the fixtures README).</summary>
internal static class Fixtures
{
    private const string Folder = "tensorflow-serving-testdata";

    private static readonly Lazy<string> RootLazy = new(Locate);

    /// <summary>The fixtures folder: <c>tests/fixtures/tensorflow-serving-testdata</c> of the repo, else a <c>shared/fixtures</c> beside it, else /work/shared/fixtures.</summary>
    public static string Root => RootLazy.Value;

    /// <summary>A real SavedModel (y = 0.5x + 2): saved_model.pb, variables/, assets/foo.txt.</summary>
    public static string HalfPlusTwo => Path.Combine(Root, "saved_model_half_plus_two_cpu", "00000123");

    /// <summary>A legacy session-bundle export with no saved_model.pb: TF Serving fails to load it.</summary>
    public static string BadHalfPlusTwo => Path.Combine(Root, "bad_half_plus_two", "00000123");

    /// <summary>TF Serving's REST handler test as data: <c>tests/fixtures/tensorflow-serving-rest</c> (see its README).</summary>
    public static string Rest => Path.Combine(Root, "..", "tensorflow-serving-rest") is var sibling && Directory.Exists(sibling)
        ? sibling
        : throw new InvalidOperationException("Cannot find tests/fixtures/tensorflow-serving-rest beside " + Root);

    private static string Locate()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            foreach (var candidate in new[]
            {
                Path.Combine(dir.FullName, "tests", "fixtures", Folder),
                Path.Combine(dir.FullName, "shared", "fixtures", Folder),
            })
            {
                if (Directory.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        var fallback = Path.Combine("/work/shared/fixtures", Folder);
        if (Directory.Exists(fallback))
        {
            return fallback;
        }

        throw new InvalidOperationException($"Cannot find the {Folder} fixtures (tests/fixtures/{Folder} in the repo).");
    }
}

/// <summary>A temp folder deleted at dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mlmodel-tfs-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

internal static class Unix
{
    /// <summary>(inode, link count) of a file, from stat(1): the BCL has no inode API.</summary>
    public static (long Inode, int Links) Stat(string path)
    {
        var psi = new ProcessStartInfo("stat", ["-c", "%i %h", path]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(psi)!;
        var output = process.StandardOutput.ReadToEnd().Trim();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"stat {path} failed: {process.StandardError.ReadToEnd()}");
        }

        var parts = output.Split(' ');
        return (long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
    }
}
