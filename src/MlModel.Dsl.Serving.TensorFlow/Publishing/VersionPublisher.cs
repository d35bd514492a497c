using System.Buffers;
using System.Globalization;
using MlModel.Dsl.Backends.Local;

namespace MlModel.Dsl.Serving.TensorFlow.Publishing;

/// <summary>How files get into the version directory.</summary>
internal enum PublishMode
{
    /// <summary>Hard link local files on the same file system, stream-copy the rest.</summary>
    Auto,

    /// <summary>Always stream-copy (benchmarks, or sources that may change in place).</summary>
    CopyOnly,
}

/// <summary>What a publish did.</summary>
internal sealed record PublishResult(string VersionPath, int HardLinked, int Copied, long Bytes);

/// <summary>
/// Puts a version's files at <c>&lt;root&gt;/&lt;name&gt;/&lt;version&gt;/</c> so TF Serving never sees a
/// half-written version. TF Serving's file system source lists the children of the model's
/// base_path and skips those whose names do not parse as an int64
/// (file_system_storage_path_source.cc, IndexChildrenByVersion: "strings that cannot be parsed
/// as a number are skipped"). So files are first written into a sibling folder
/// <c>.publish-&lt;version&gt;-&lt;id&gt;</c> (not a number) and the folder is then renamed to
/// <c>&lt;version&gt;</c> in one rename(2). Unpublish renames the version folder to a non-numeric
/// <c>.unpublish-...</c> name first, then deletes it.
/// <para>
/// A publish in progress holds <c>.publish-&lt;version&gt;-&lt;id&gt;.lock</c> (FileShare.None). A later
/// publish of the same model deletes the temp folders whose lock it can take: their owner died.
/// </para>
/// </summary>
internal sealed class VersionPublisher(string servingRoot, PublishMode mode = PublishMode.Auto, bool flushToDisk = true)
{
    private const string PublishPrefix = ".publish-";
    private const string UnpublishPrefix = ".unpublish-";
    private const int CopyBufferSize = 1 << 20;

    public string ServingRoot { get; } = Path.GetFullPath(servingRoot);

    public string GetModelBasePath(string servingName) => Path.Combine(ServingRoot, servingName);

    public string GetVersionPath(string servingName, long version) =>
        Path.Combine(GetModelBasePath(servingName), version.ToString(CultureInfo.InvariantCulture));

    public bool IsPublished(string servingName, long version) => Directory.Exists(GetVersionPath(servingName, version));

    /// <summary>Numeric child folders of the model's base path, as TF Serving would see them.</summary>
    public IReadOnlyList<long> GetPublishedVersions(string servingName)
    {
        var basePath = GetModelBasePath(servingName);
        if (!Directory.Exists(basePath))
        {
            return [];
        }

        return Directory.EnumerateDirectories(basePath)
            .Select(Path.GetFileName)
            .Select(n => long.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : -1)
            .Where(v => v >= 0)
            .Order()
            .ToList();
    }

    public async Task<PublishResult> PublishAsync(string servingName, long version, IReadOnlyList<ServingFile> files, CancellationToken cancellationToken = default)
    {
        var targets = ValidateFiles(files);
        var basePath = GetModelBasePath(servingName);
        var versionPath = GetVersionPath(servingName, version);
        try
        {
            Directory.CreateDirectory(basePath);
            CleanLeftovers(servingName);
            if (Directory.Exists(versionPath))
            {
                throw new TensorFlowServingException(
                    TensorFlowServingErrorKind.InvalidArgument,
                    $"Version {version} of {servingName} is already published at {versionPath}.");
            }

            var id = Guid.NewGuid().ToString("N");
            var tempName = $"{PublishPrefix}{version.ToString(CultureInfo.InvariantCulture)}-{id}";
            var tempPath = Path.Combine(basePath, tempName);
            await using var ownerLock = new FileStream(tempPath + ".lock", FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1);
            var completed = false;
            try
            {
                Directory.CreateDirectory(tempPath);
                int linked = 0, copied = 0;
                long bytes = 0;
                foreach (var (file, relative) in targets)
                {
                    var target = Path.Combine(tempPath, relative);
                    Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                    if (await PlaceFileAsync(file, target, cancellationToken))
                    {
                        linked++;
                    }
                    else
                    {
                        copied++;
                    }

                    bytes += file.Length;
                }

                if (flushToDisk)
                {
                    foreach (var dir in Directory.EnumerateDirectories(tempPath, "*", SearchOption.AllDirectories).Append(tempPath))
                    {
                        NativeFileSystem.TryFsyncDirectory(dir);
                    }
                }

                cancellationToken.ThrowIfCancellationRequested();
                // The one step TF Serving can observe: a complete folder appears under a numeric name.
                Directory.Move(tempPath, versionPath);
                if (flushToDisk)
                {
                    NativeFileSystem.TryFsyncDirectory(basePath);
                }

                completed = true;
                return new PublishResult(versionPath, linked, copied, bytes);
            }
            finally
            {
                if (!completed)
                {
                    TryDeleteDirectory(tempPath);
                }

                TryDeleteFile(tempPath + ".lock");
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TensorFlowServingException(
                TensorFlowServingErrorKind.Io,
                $"Cannot publish version {version} of {servingName} under {basePath}: {FileSystemErrors.Reason(e, basePath)}.",
                e);
        }
    }

    /// <summary>Removes the version folder (renamed away first, so the server never sees half of it). False if absent.</summary>
    public bool Unpublish(string servingName, long version)
    {
        var versionPath = GetVersionPath(servingName, version);
        if (!Directory.Exists(versionPath))
        {
            return false;
        }

        var doomed = Path.Combine(GetModelBasePath(servingName), $"{UnpublishPrefix}{version.ToString(CultureInfo.InvariantCulture)}-{Guid.NewGuid():N}");
        try
        {
            Directory.Move(versionPath, doomed);
        }
        catch (DirectoryNotFoundException)
        {
            return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TensorFlowServingException(TensorFlowServingErrorKind.Io, $"Cannot remove {versionPath}: {FileSystemErrors.Reason(e, versionPath)}.", e);
        }

        TryDeleteDirectory(doomed);
        return true;
    }

    /// <summary>Deletes temp folders of dead publishes and leftover unpublish folders of <paramref name="servingName"/>.</summary>
    public int CleanLeftovers(string servingName) => FindLeftovers(servingName, remove: true).Count;

    /// <summary>
    /// Temp folders of dead publishes (their owner lock can be taken) and leftover unpublish folders
    /// of <paramref name="servingName"/>, as paths relative to the serving root; deleted when
    /// <paramref name="remove"/>. A publish in progress holds its lock, so it is never listed.
    /// </summary>
    public IReadOnlyList<string> FindLeftovers(string servingName, bool remove)
    {
        var basePath = GetModelBasePath(servingName);
        var found = new List<string>();
        if (!Directory.Exists(basePath))
        {
            return found;
        }

        foreach (var dir in Directory.EnumerateDirectories(basePath))
        {
            var name = Path.GetFileName(dir);
            if (name.StartsWith(UnpublishPrefix, StringComparison.Ordinal))
            {
                found.Add(servingName + "/" + name);
                if (remove)
                {
                    TryDeleteDirectory(dir);
                }
            }
            else if (name.StartsWith(PublishPrefix, StringComparison.Ordinal) && TryTakeOwnerLock(dir + ".lock", out var stale))
            {
                found.Add(servingName + "/" + name);
                using (stale)
                {
                    if (remove)
                    {
                        TryDeleteDirectory(dir);
                        TryDeleteFile(dir + ".lock");
                    }
                }
            }
        }

        // Lock files whose folder is gone (a crash between the two deletes).
        foreach (var lockFile in Directory.EnumerateFiles(basePath, PublishPrefix + "*.lock"))
        {
            if (!Directory.Exists(lockFile[..^".lock".Length]) && TryTakeOwnerLock(lockFile, out var stale))
            {
                found.Add(servingName + "/" + Path.GetFileName(lockFile));
                using (stale)
                {
                    if (remove)
                    {
                        TryDeleteFile(lockFile);
                    }
                }
            }
        }

        return found;
    }

    private static bool TryTakeOwnerLock(string lockPath, out IDisposable? handle)
    {
        try
        {
            handle = new FileStream(lockPath, FileMode.Open, FileAccess.ReadWrite, FileShare.None, 1);
            return true;
        }
        catch (FileNotFoundException)
        {
            // No lock file next to the temp folder: its owner is gone (it creates the lock first).
            handle = null;
            return true;
        }
        catch (IOException)
        {
            handle = null;
            return false; // a live publish holds it
        }
    }

    /// <summary>Hard-links or copies one file; true when hard-linked.</summary>
    private async Task<bool> PlaceFileAsync(ServingFile file, string target, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (mode == PublishMode.Auto && file.LocalPath is { } local && File.Exists(local))
        {
            var length = new FileInfo(local).Length;
            if (length != file.Length)
            {
                throw new TensorFlowServingException(
                    TensorFlowServingErrorKind.Io,
                    $"{file.RelativePath}: the source {local} has {length} bytes, {file.Length} expected.");
            }

            // Same file system → link(2) succeeds; EXDEV (another file system), EPERM (hard links
            // not allowed there), ... → fall back to a copy.
            if (NativeFileSystem.TryHardLink(Path.GetFullPath(local), target) == 0)
            {
                return true;
            }
        }

        await CopyAsync(file, target, cancellationToken);
        return false;
    }

    private async Task CopyAsync(ServingFile file, string target, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(CopyBufferSize);
        try
        {
            await using var source = await file.Open(cancellationToken);
            await using var destination = new FileStream(target, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
                BufferSize = 0, // we write 1 MiB chunks ourselves
                Options = FileOptions.Asynchronous,
                PreallocationSize = file.Length,
            });

            long copied = 0;
            int read;
            while ((read = await source.ReadAsync(buffer.AsMemory(0, CopyBufferSize), cancellationToken)) > 0)
            {
                copied += read;
                if (copied > file.Length)
                {
                    break;
                }

                await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            }

            if (copied != file.Length)
            {
                throw new TensorFlowServingException(
                    TensorFlowServingErrorKind.Io,
                    $"{file.RelativePath}: the source has {(copied > file.Length ? "more than " + file.Length.ToString(CultureInfo.InvariantCulture) : copied.ToString(CultureInfo.InvariantCulture))} bytes, {file.Length} expected.");
            }

            if (flushToDisk)
            {
                destination.Flush(flushToDisk: true);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Checks every relative path stays inside the version folder; returns the OS-relative paths.</summary>
    internal static IReadOnlyList<(ServingFile File, string Relative)> ValidateFiles(IReadOnlyList<ServingFile> files)
    {
        if (files.Count == 0)
        {
            throw new TensorFlowServingException(TensorFlowServingErrorKind.InvalidArgument, "A model version needs at least one file to publish.");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<(ServingFile, string)>(files.Count);
        foreach (var file in files)
        {
            var relative = file.RelativePath;
            var segments = relative.Split('/');
            if (relative.Length == 0
                || relative.Contains('\\', StringComparison.Ordinal)
                || relative.Contains('\0', StringComparison.Ordinal)
                || Path.IsPathRooted(relative)
                || segments.Any(s => s.Length == 0 || s == "." || s == ".."))
            {
                throw new TensorFlowServingException(
                    TensorFlowServingErrorKind.InvalidArgument,
                    $"The file path '{relative}' is not a relative path inside the model version folder.");
            }

            if (file.Length < 0)
            {
                throw new TensorFlowServingException(TensorFlowServingErrorKind.InvalidArgument, $"The file '{relative}' has a negative length.");
            }

            if (!seen.Add(relative))
            {
                throw new TensorFlowServingException(TensorFlowServingErrorKind.InvalidArgument, $"The file '{relative}' is listed twice.");
            }

            result.Add((file, Path.Combine(segments)));
        }

        // A path that is both a file and a folder ("a" and "a/b") cannot be laid out.
        foreach (var path in seen)
        {
            var slash = path.LastIndexOf('/');
            while (slash > 0)
            {
                var parent = path[..slash];
                if (seen.Contains(parent))
                {
                    throw new TensorFlowServingException(TensorFlowServingErrorKind.InvalidArgument, $"'{parent}' is listed both as a file and as a folder.");
                }

                slash = parent.LastIndexOf('/');
            }
        }

        return result;
    }

    private static void TryDeleteDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left for CleanLeftovers on the next publish of this model.
        }
    }

    private static void TryDeleteFile(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
