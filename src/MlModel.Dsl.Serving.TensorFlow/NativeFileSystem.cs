using System.Runtime.InteropServices;

namespace MlModel.Dsl.Serving.TensorFlow;

/// <summary>libc calls the BCL does not expose: link(2) for hard links, fsync(2) of a directory.</summary>
internal static partial class NativeFileSystem
{
    private const int ReadOnly = 0; // O_RDONLY

    /// <summary>errno EXDEV: source and target are on different file systems.</summary>
    public const int CrossDevice = 18;

    /// <summary>Creates the hard link <paramref name="target"/> to <paramref name="source"/>; returns 0 or the errno.</summary>
    public static int TryHardLink(string source, string target)
    {
        if (OperatingSystem.IsWindows())
        {
            return -1;
        }

        try
        {
            return Link(source, target) == 0 ? 0 : Marshal.GetLastPInvokeError();
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return -1;
        }
    }

    /// <summary>Flushes a directory's entries (a rename in it) to disk; best effort, Unix only.</summary>
    public static void TryFsyncDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        try
        {
            var fd = Open(directory, ReadOnly);
            if (fd < 0)
            {
                return;
            }

            _ = Fsync(fd);
            _ = Close(fd);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // No libc: durability of the directory entry is then left to the OS.
        }
    }

    [LibraryImport("libc", EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Link(string oldPath, string newPath);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
