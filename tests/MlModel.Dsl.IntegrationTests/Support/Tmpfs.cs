using System.Diagnostics;

namespace MlModel.Dsl.IntegrationTests.Support;

/// <summary>
/// A small tmpfs mounted on a folder for one test: a real full disk (<see cref="Fill"/>) and a
/// real read-only file system (<see cref="MakeReadOnly"/>), which root (as the tests run, here
/// and in CI) cannot get from file permissions. Needs mount(8) and the right to mount, which the
/// test machines and CI have; without them the test fails and says so. Unmounted on
/// <see cref="Dispose"/> (lazily when something still holds it open); mounts left by a test
/// process that died are unmounted by the next one.
/// </summary>
internal sealed class Tmpfs : IDisposable
{
    // The source name tells our mounts apart, and which process made them.
    private const string SourcePrefix = "mlmodel-test-";

    private static readonly Lock SweepGate = new();
    private static bool _swept;

    private bool _mounted;

    /// <summary>Mounts a tmpfs of <paramref name="sizeKiB"/> KiB on <paramref name="folder"/>, creating it.</summary>
    public Tmpfs(string folder, int sizeKiB = 2048)
    {
        SweepDeadMounts();
        Path = System.IO.Path.GetFullPath(folder);
        Directory.CreateDirectory(Path);
        Run("mount", "-t", "tmpfs", "-o", $"size={sizeKiB}k,mode=0755", SourcePrefix + Environment.ProcessId, Path);
        _mounted = true;
    }

    public string Path { get; }

    /// <summary>Remounts read-only: every write fails with EROFS.</summary>
    public void MakeReadOnly() => Run("mount", "-o", "remount,ro", Path);

    /// <summary>Remounts read-write.</summary>
    public void MakeWritable() => Run("mount", "-o", "remount,rw", Path);

    /// <summary>Fills the file system to the last byte with a file <c>.filler</c>: the next write that needs a block fails with ENOSPC.</summary>
    public void Fill()
    {
        var chunk = new byte[64 * 1024];
        using var filler = new FileStream(System.IO.Path.Combine(Path, ".filler"), FileMode.Append, FileAccess.Write, FileShare.None, 1);
        var size = chunk.Length;
        while (size > 0)
        {
            try
            {
                filler.Write(chunk, 0, size);
            }
            catch (IOException e) when (e.HResult == 28)
            {
                size /= 2; // down to the last few bytes
            }
        }
    }

    public void Dispose()
    {
        if (!_mounted)
        {
            return;
        }
        _mounted = false;
        Unmount(Path);
    }

    private static void Unmount(string path)
    {
        if (!TryRun("umount", path))
        {
            // Something in this process still holds a file open there (a pooled connection):
            // detach it now, the kernel frees it when the last file closes.
            Run("umount", "-l", path);
        }
    }

    /// <summary>Unmounts the tmpfs mounts of test processes that are gone (killed before their Dispose ran).</summary>
    private static void SweepDeadMounts()
    {
        lock (SweepGate)
        {
            if (_swept)
            {
                return;
            }
            _swept = true;
        }
        foreach (var line in File.ReadLines("/proc/mounts"))
        {
            var fields = line.Split(' ');
            if (fields.Length < 2 || !fields[0].StartsWith(SourcePrefix, StringComparison.Ordinal)
                || !int.TryParse(fields[0].AsSpan(SourcePrefix.Length), out var pid) || IsAlive(pid))
            {
                continue;
            }
            // /proc/mounts escapes spaces and the like as octal; our test folders have none.
            TryRun("umount", "-l", fields[1]);
        }
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static void Run(params string[] args)
    {
        var (code, error) = Execute(args);
        if (code != 0)
        {
            throw new InvalidOperationException(
                $"'{string.Join(' ', args)}' failed ({code}): {error.Trim()}. These tests mount a small tmpfs to get a real full or " +
                "read-only file system; they need root and mount(8), as the test machines and CI have.");
        }
    }

    private static bool TryRun(params string[] args) => Execute(args).Code == 0;

    private static (int Code, string Error) Execute(string[] args)
    {
        var start = new ProcessStartInfo(args[0]) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in args.Skip(1))
        {
            start.ArgumentList.Add(arg);
        }
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, $"cannot run {args[0]}: {e.Message}");
        }
        using var _ = process;
        var error = process.StandardError.ReadToEnd();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, error);
    }
}
