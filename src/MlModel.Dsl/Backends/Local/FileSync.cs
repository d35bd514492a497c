using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace MlModel.Dsl.Backends.Local;

/// <summary>
/// Durability calls that .NET does not offer: starting a file's writeback early (Linux's
/// <c>sync_file_range</c>), syncing a folder's entries (a folder cannot be opened as a
/// <see cref="FileStream"/>) and syncing a whole file system (Linux's <c>syncfs</c>). Files themselves are synced with <see cref="RandomAccess.FlushToDisk"/>.
/// </summary>
internal static class FileSync
{
    /// <summary>Bytes written between two starts of writeback (see <see cref="WritebackWindow"/>).</summary>
    internal const long WritebackStep = 8L << 20;

    private const uint SyncFileRangeWrite = 2; // SYNC_FILE_RANGE_WRITE: queue the dirty pages for writing, do not wait
    private const int Eperm = 1;
    private const int Enoent = 2;
    private const int Eintr = 4;
    private const int Eexist = 17;

    // O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, as every Linux architecture .NET runs on numbers them.
    private const int LinuxCreateNewForWriting = 0x1 | 0x40 | 0x80 | 0x80000;

    // rw-rw-rw- less the umask, as .NET and tar create files.
    private const int DefaultCreateMode = 0x1B6;
    private const int Eacces = 13;
    private const int Einval = 22;

    private static volatile bool _writebackUnsupported = !OperatingSystem.IsLinux();

    /// <summary>
    /// Queues the dirty pages of <paramref name="count"/> bytes from <paramref name="offset"/>
    /// (0: to the end) for writing, without waiting: the disk then works while the caller goes on,
    /// and the fsync that must follow has less left to do. Best effort; errors surface at that fsync.
    /// </summary>
    public static void StartWriteback(SafeFileHandle file, long offset, long count)
    {
        if (_writebackUnsupported)
        {
            return;
        }

        try
        {
            _ = sync_file_range(file, offset, count, SyncFileRangeWrite);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            _writebackUnsupported = true;
        }
    }

    /// <summary>
    /// Flushes a folder's entries (the names created, renamed or removed in it) to disk, so that a
    /// renamed or created file can be found after a crash. Nothing to do on Windows, where a folder
    /// cannot be flushed and NTFS journals its metadata; file systems that cannot sync a folder
    /// (EINVAL) or that will not open it for reading (EACCES) are passed over, as PostgreSQL does.
    /// </summary>
    /// <exception cref="IOException">The folder cannot be opened or synced.</exception>
    public static void SyncFolder(string folder)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var path = Encoding.UTF8.GetBytes(folder + "\0");
        int fd;
        do
        {
            fd = open(path, OpenReadOnlyCloseOnExec);
        }
        while (fd < 0 && Marshal.GetLastPInvokeError() == Eintr);

        if (fd < 0)
        {
            var error = Marshal.GetLastPInvokeError();
            if (error == Eacces)
            {
                return;
            }

            throw Error("open", error);
        }

        try
        {
            while (fsync(fd) != 0)
            {
                var error = Marshal.GetLastPInvokeError();
                if (error == Eintr)
                {
                    continue;
                }

                if (error == Einval)
                {
                    return;
                }

                throw Error("fsync", error);
            }
        }
        finally
        {
            _ = close(fd);
        }
    }

    /// <summary>
    /// Whether <see cref="SyncFileSystem"/> may stand in for syncing files one by one: Linux 5.8
    /// and later, where <c>syncfs</c> reports the writeback errors of the file system since the
    /// descriptor was opened (before, it returned 0 whatever happened).
    /// </summary>
    public static bool CanSyncFileSystem { get; } = OperatingSystem.IsLinux() && Environment.OSVersion.Version >= new Version(5, 8);

    /// <summary>Opens a folder for <see cref="SyncFileSystem"/>; null when it cannot be opened.</summary>
    public static SafeFolderHandle? OpenFolder(string folder)
    {
        var path = Encoding.UTF8.GetBytes(folder + "\0");
        int fd;
        do
        {
            fd = open(path, OpenReadOnlyCloseOnExec);
        }
        while (fd < 0 && Marshal.GetLastPInvokeError() == Eintr);

        return fd < 0 ? null : new SafeFolderHandle(fd);
    }

    /// <summary>
    /// Writes back everything dirty on the file system of <paramref name="folder"/> (Linux's
    /// <c>syncfs</c>: what <c>sync</c> does, for one file system): one call instead of one fsync
    /// per file and folder, and one journal commit instead of many.
    /// </summary>
    /// <exception cref="IOException">A writeback on that file system failed since the folder was opened.</exception>
    public static void SyncFileSystem(SafeFolderHandle folder)
    {
        while (syncfs(folder) != 0)
        {
            var error = Marshal.GetLastPInvokeError();
            if (error != Eintr)
            {
                throw Error("syncfs", error);
            }
        }
    }

    /// <summary>
    /// Creates <paramref name="path"/> for writing, failing if anything exists there: null then.
    /// On Linux a plain <c>open(O_CREAT|O_EXCL)</c>; .NET's <see cref="File.OpenHandle"/> adds an
    /// fstat and an flock (and its release) to every file, three more calls per file of a model of
    /// 10,000 files. Elsewhere <see cref="File.OpenHandle"/>.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="UnauthorizedAccessException">Permission denied.</exception>
    /// <exception cref="IOException">Any other failure.</exception>
    public static SafeFileHandle? CreateNew(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            try
            {
                return File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
            }
            catch (IOException) when (new FileInfo(path).Attributes != (FileAttributes)(-1))
            {
                return null;
            }
        }

        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        int fd;
        do
        {
            fd = open(bytes, LinuxCreateNewForWriting, DefaultCreateMode);
        }
        while (fd < 0 && Marshal.GetLastPInvokeError() == Eintr);

        if (fd >= 0)
        {
            return new SafeFileHandle(fd, ownsHandle: true);
        }

        var error = Marshal.GetLastPInvokeError();
        if (error == Eexist)
        {
            return null;
        }

        var message = $"could not create '{path}': {Marshal.GetPInvokeErrorMessage(error)} (errno {error})";
        throw error switch
        {
            Enoent => new DirectoryNotFoundException(message),
            // The inner exception carries the errno, as .NET's own do (FileSystemErrors reads it).
            Eacces or Eperm => new UnauthorizedAccessException(message, new IOException(message, error)),
            _ => new IOException(message, error),
        };
    }

    /// <summary>
    /// Gives the file <paramref name="source"/> the name <paramref name="destination"/>, unless
    /// something has that name already: false then, and <paramref name="source"/> stays where it
    /// is. On Unix <c>link</c> (which never replaces) and then the unlink of
    /// <paramref name="source"/>; .NET's <see cref="File.Move(string, string, bool)"/> without
    /// overwrite checks first and then renames, and a concurrent creator can slip in between.
    /// On Windows that Move, which is <c>MoveFileEx</c> without replace; on a file system
    /// without hard links (<c>link</c> fails otherwise than EEXIST) that Move too, as .NET does.
    /// </summary>
    /// <exception cref="IOException">Any failure but an existing destination.</exception>
    public static bool TryPublishNew(string source, string destination)
    {
        if (!OperatingSystem.IsWindows())
        {
            var from = Encoding.UTF8.GetBytes(source + "\0");
            var to = Encoding.UTF8.GetBytes(destination + "\0");
            int error;
            do
            {
                if (link(from, to) == 0)
                {
                    File.Delete(source);
                    return true;
                }

                error = Marshal.GetLastPInvokeError();
            }
            while (error == Eintr);

            if (error == Eexist)
            {
                return false;
            }
        }

        try
        {
            File.Move(source, destination, overwrite: false);
            return true;
        }
        catch (IOException) when (Path.Exists(destination))
        {
            return false;
        }
    }

    private static IOException Error(string call, int errno) =>
        new($"{call} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})", errno);

    // O_RDONLY is 0 everywhere; O_CLOEXEC (no leak into a child process started meanwhile) differs.
    private static int OpenReadOnlyCloseOnExec => OperatingSystem.IsLinux() ? 0x80000 : OperatingSystem.IsMacOS() ? 0x1000000 : 0;

    // "libc" is resolved by the runtime to the C library of the platform (glibc, musl, libSystem).
    [DllImport("libc", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int sync_file_range(SafeFileHandle fd, long offset, long nbytes, uint flags);

    [DllImport("libc", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int open(byte[] path, int flags);

    // open's mode is a variadic argument: an int passed as the third one, as C does on Linux's ABIs.
    [DllImport("libc", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int open(byte[] path, int flags, int mode);

    [DllImport("libc", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int fsync(int fd);

    [DllImport("libc", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int link(byte[] oldPath, byte[] newPath);

    [DllImport("libc", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int syncfs(SafeFolderHandle fd);

    /// <summary>A folder opened read-only (a file descriptor), closed when released.</summary>
    internal sealed class SafeFolderHandle : SafeHandleMinusOneIsInvalid
    {
        public SafeFolderHandle()
            : base(ownsHandle: true)
        {
        }

        internal SafeFolderHandle(int fd)
            : base(ownsHandle: true) => SetHandle(fd);

        protected override bool ReleaseHandle() => close((int)handle) == 0;
    }

    [DllImport("libc", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int close(int fd);
}

/// <summary>
/// Starts the writeback of a file being written every <see cref="FileSync.WritebackStep"/> bytes,
/// so that writing a large object to disk overlaps with producing it instead of all waiting for
/// the final fsync (the kernel would otherwise hold up to a tenth of the memory dirty). With
/// <c>smallFiles</c> false, a file shorter than that step is left alone (see the write batch).
/// </summary>
internal struct WritebackWindow(bool enabled, bool smallFiles = true)
{
    private readonly bool _enabled = enabled;
    private readonly bool _smallFiles = smallFiles;
    private long _started;

    /// <summary>Call after each write; <paramref name="position"/> is the end of what was written.</summary>
    public void Advance(SafeFileHandle file, long position)
    {
        if (_enabled && position - _started >= FileSync.WritebackStep)
        {
            FileSync.StartWriteback(file, _started, position - _started);
            _started = position;
        }
    }

    /// <summary>Starts the writeback of whatever is left, up to the end of the file.</summary>
    public readonly void Finish(SafeFileHandle file)
    {
        if (_enabled && (_smallFiles || _started > 0))
        {
            FileSync.StartWriteback(file, _started, 0);
        }
    }
}
