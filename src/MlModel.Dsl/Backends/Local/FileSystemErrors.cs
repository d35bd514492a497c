namespace MlModel.Dsl.Backends.Local;

/// <summary>
/// Why a file-system call failed, in words a user can act on ("no space left on device", "the
/// file system is read-only", "/home/u/.mlmodel/store is a file, not a folder"), rather than
/// .NET's text, which names whatever path the call happened to be on (a temporary file) or, for
/// a file in the way, says "Could not find a part of the path". The one place that maps error
/// numbers to messages: the local store, the SQLite repository and the TensorFlow Serving folder
/// all call it.
/// </summary>
/// <remarks>
/// On Unix, .NET gives an <see cref="IOException"/> the C library's errno as its
/// <see cref="Exception.HResult"/> for the errors it has no type of its own for, and an
/// <see cref="UnauthorizedAccessException"/> an inner IOException that carries it; ENOENT and
/// ENOTDIR become a <see cref="DirectoryNotFoundException"/> or <see cref="FileNotFoundException"/>
/// without it. Windows' HRESULTs for the same causes are mapped too.
/// </remarks>
internal static class FileSystemErrors
{
    // The errno values below are the same on Linux and macOS.
    internal const int Eperm = 1;
    internal const int Enoent = 2;
    internal const int Eio = 5;
    internal const int Eacces = 13;
    internal const int Eexist = 17;
    internal const int Enotdir = 20;
    internal const int Eisdir = 21;
    internal const int Enfile = 23;
    internal const int Emfile = 24;
    internal const int Enospc = 28;
    internal const int Erofs = 30;

    // These differ: Linux, then macOS.
    private static readonly int Eagain = OperatingSystem.IsLinux() ? 11 : 35;
    private static readonly int Edquot = OperatingSystem.IsLinux() ? 122 : 69;
    private static readonly int Enametoolong = OperatingSystem.IsLinux() ? 36 : 63;
    private static readonly int Eloop = OperatingSystem.IsLinux() ? 40 : 62;

    // Windows: HRESULT_FROM_WIN32 of ERROR_WRITE_PROTECT, ERROR_HANDLE_DISK_FULL, ERROR_DISK_FULL,
    // ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION.
    private const int WindowsWriteProtect = unchecked((int)0x80070013);
    private const int WindowsHandleDiskFull = unchecked((int)0x80070027);
    private const int WindowsDiskFull = unchecked((int)0x80070070);
    private const int WindowsSharingViolation = unchecked((int)0x80070020);
    private const int WindowsLockViolation = unchecked((int)0x80070021);

    /// <summary>The error number behind <paramref name="exception"/> (errno values), or null when it carries none.</summary>
    public static int? Errno(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case IOException when e.HResult is > 0 and < 4096:
                    return e.HResult;
                case IOException when e.HResult is WindowsDiskFull or WindowsHandleDiskFull:
                    return Enospc;
                case IOException when e.HResult == WindowsWriteProtect:
                    return Erofs;
                case IOException when e.HResult is WindowsSharingViolation or WindowsLockViolation:
                    return Eagain;
                case DirectoryNotFoundException or FileNotFoundException:
                    return Enoent;
                case UnauthorizedAccessException:
                    // .NET's inner exception tells EACCES from EPERM (an immutable file) and EROFS.
                    return (e.InnerException is { } inner ? Errno(inner) : null) ?? Eacces;
            }
        }

        return null;
    }

    /// <summary>Whether <paramref name="exception"/> says another process holds a lock on the file (flock's EWOULDBLOCK).</summary>
    public static bool IsLockConflict(Exception exception) => Errno(exception) == Eagain;

    /// <summary>What <paramref name="errno"/> means, in words; null for an error number this class does not know.</summary>
    public static string? Describe(int errno) => errno switch
    {
        Enospc => "no space left on device",
        Erofs => "the file system is read-only",
        Eacces or Eperm => "permission denied",
        Enotdir => "a part of the path is a file, not a folder",
        Eisdir => "it is a folder, not a file",
        Eexist => "something else already exists there",
        Enoent => "no such file or folder",
        Eio => "input/output error: the disk or the file system failed",
        Enfile or Emfile => "too many open files",
        _ when errno == Edquot => "disk quota exceeded",
        _ when errno == Enametoolong => "a file name is too long",
        _ when errno == Eloop => "too many levels of symbolic links",
        _ when errno == Eagain => "another process holds a lock on it",
        _ => null,
    };

    /// <summary>
    /// Why <paramref name="exception"/> happened, in words. <paramref name="folder"/> is the folder
    /// the failed call needed (the parent of the file it created, or the folder it made): when a
    /// plain file stands where that folder or one above it should be, the answer names it
    /// ("/srv/mlmodel/store is a file, not a folder"). An exception without an error number
    /// (.NET's "the disk was full" when it preallocates a file) is explained by trying to write
    /// in that folder (<see cref="ProbeWrite"/>). Falls back to the exception's own message.
    /// </summary>
    public static string Reason(Exception exception, string? folder = null)
    {
        var errno = Errno(exception);
        if (folder is not null && errno is null or Enoent or Enotdir or Eexist && FileInTheWay(folder) is { } file)
        {
            return $"{file} is a file, not a folder";
        }

        if (errno is { } n && Describe(n) is { } text)
        {
            return text;
        }

        return (errno is null && folder is not null ? ProbeWrite(folder) : null) ?? exception.Message.TrimEnd('.');
    }

    /// <summary>
    /// <see cref="Reason(Exception, string?)"/> for a call on the file <paramref name="file"/>: a
    /// folder where the file should be is named as such (.NET says "access denied").
    /// </summary>
    public static string ReasonForFile(Exception exception, string file) =>
        Directory.Exists(file) ? $"{file} is a folder, not a file" : Reason(exception, Path.GetDirectoryName(Path.GetFullPath(file)));

    /// <summary>
    /// The nearest of <paramref name="folder"/> and its ancestors that exists, when it is not a
    /// folder (a plain file, or a link to one); null when that one is a folder, or nothing exists.
    /// </summary>
    public static string? FileInTheWay(string folder)
    {
        for (var current = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));
             !string.IsNullOrEmpty(current);
             current = Path.GetDirectoryName(current))
        {
            if (Directory.Exists(current))
            {
                return null;
            }

            if (File.Exists(current))
            {
                return current;
            }
        }

        return null;
    }

    /// <summary>
    /// Why nothing can be written in <paramref name="folder"/>, found by trying: creates a hidden
    /// file there, writes a byte to it and removes it. Null when that works (the cause lies
    /// elsewhere). For callers that got a failure without an error number (SQLite's "disk I/O
    /// error"), never on a path that works.
    /// </summary>
    public static string? ProbeWrite(string folder)
    {
        if (FileInTheWay(folder) is { } file)
        {
            return $"{file} is a file, not a folder";
        }

        if (!Directory.Exists(folder))
        {
            return null;
        }

        var probe = Path.Combine(folder, LocalObjectStore.TempPrefix + "probe-" + Guid.NewGuid().ToString("N"));
        var created = false;
        try
        {
            using var handle = File.OpenHandle(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None);
            created = true;
            RandomAccess.Write(handle, [0], 0);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Errno(e) is { } n ? Describe(n) : null;
        }
        finally
        {
            if (created)
            {
                try
                {
                    File.Delete(probe);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Hidden from the store's listings by its name, like any interrupted write.
                }
            }
        }
    }
}
