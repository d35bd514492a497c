using System.Diagnostics;
using System.Text;
using MlModel.Dsl.Backends.Local;

namespace MlModel.Dsl.Serving.TensorFlow.Config;

/// <summary>
/// The model config file TF Serving polls (--model_config_file with
/// --model_config_file_poll_wait_seconds, tensorflow_serving/g3doc/serving_config.md
/// "Reloading Model Server Configuration"). The server re-reads the whole file on every poll
/// and realises "the new specified config and only the new specified config", so the file
/// must never be seen half-written: every change is written to a temp file in the same
/// folder, flushed to disk and renamed over the config (rename(2) is atomic within a file
/// system). Changes are serialised across processes by a lock file <c>&lt;config&gt;.lock</c>
/// opened with <see cref="FileShare.None"/> (.NET takes an exclusive flock on Unix for it).
/// </summary>
internal sealed class ModelConfigFile
{
    private static readonly UTF8Encoding Utf8NoBom = new(encoderShouldEmitUTF8Identifier: false);

    public ModelConfigFile(string path, TimeSpan lockTimeout)
    {
        Path = System.IO.Path.GetFullPath(path);
        LockPath = Path + ".lock";
        LockTimeout = lockTimeout;
    }

    public string Path { get; }

    public string LockPath { get; }

    public TimeSpan LockTimeout { get; }

    /// <summary>Reads the current config without the lock (writers replace the file atomically). Missing file = empty config.</summary>
    public async Task<ModelServerConfigDocument> ReadAsync(CancellationToken cancellationToken = default)
    {
        var text = await ReadTextAsync(cancellationToken);
        return text is null ? ModelServerConfigDocument.Empty() : ModelServerConfigDocument.Parse(text, Path);
    }

    /// <summary>
    /// Under the cross-process lock: reads the file, applies <paramref name="change"/> to the
    /// document (in place) and, when the text changed, writes it atomically. Returns what
    /// <paramref name="change"/> returned. If <paramref name="change"/> throws, nothing is written.
    /// </summary>
    public async Task<T> UpdateAsync<T>(Func<ModelServerConfigDocument, T> change, CancellationToken cancellationToken = default) =>
        (await UpdateDetailedAsync(change, cancellationToken)).Result;

    /// <summary>Like <see cref="UpdateAsync{T}"/>, also returning the file's text before and the text written (null when nothing was written).</summary>
    public async Task<ConfigUpdate<T>> UpdateDetailedAsync<T>(Func<ModelServerConfigDocument, T> change, CancellationToken cancellationToken = default)
    {
        await using var fileLock = await AcquireLockAsync(cancellationToken);
        var before = await ReadTextAsync(cancellationToken);
        var document = before is null ? ModelServerConfigDocument.Empty() : ModelServerConfigDocument.Parse(before, Path);
        var canonicalBefore = document.ToText();
        var result = change(document);
        var after = document.ToText();
        if (after != canonicalBefore || (before is null && after.Length > 0))
        {
            await WriteAtomicallyAsync(after, cancellationToken);
            return new ConfigUpdate<T>(result, before, after);
        }

        return new ConfigUpdate<T>(result, before, null);
    }

    /// <summary>
    /// Under the lock: if the file still holds exactly <paramref name="expectedCurrent"/> (nobody wrote
    /// since), puts <paramref name="original"/> back byte for byte (comments and all). False otherwise.
    /// </summary>
    public async Task<bool> RestoreIfUnchangedAsync(string expectedCurrent, string original, CancellationToken cancellationToken = default)
    {
        await using var fileLock = await AcquireLockAsync(cancellationToken);
        if (await ReadTextAsync(cancellationToken) != expectedCurrent)
        {
            return false;
        }

        await WriteAtomicallyAsync(original, cancellationToken);
        return true;
    }

    /// <summary>
    /// Temporary files of config writes that did not finish (a process killed between writing the
    /// temp file and renaming it), by file name; deleted when <paramref name="remove"/>. Taken under
    /// the lock, so a write in progress is never among them.
    /// </summary>
    public async Task<IReadOnlyList<string>> FindTemporaryFilesAsync(bool remove, CancellationToken cancellationToken = default)
    {
        var folder = System.IO.Path.GetDirectoryName(Path)!;
        if (!Directory.Exists(folder))
        {
            return [];
        }
        await using var fileLock = await AcquireLockAsync(cancellationToken);
        var found = Directory.EnumerateFiles(folder, $".{System.IO.Path.GetFileName(Path)}.*.tmp").Order(StringComparer.Ordinal).ToList();
        if (remove)
        {
            foreach (var file in found)
            {
                TryDelete(file);
            }
        }
        return found.Select(f => System.IO.Path.GetFileName(f)!).ToList();
    }

    private async Task<string?> ReadTextAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await File.ReadAllTextAsync(Path, Utf8NoBom, cancellationToken);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (DirectoryNotFoundException) when (FileSystemErrors.FileInTheWay(Folder) is null)
        {
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Io($"Cannot read the TensorFlow Serving model config {Path}", e, Path);
        }
    }

    private string Folder => System.IO.Path.GetDirectoryName(Path)!;

    /// <summary>A failure of the file system on <paramref name="file"/>, its cause in words (FileSystemErrors).</summary>
    private static TensorFlowServingException Io(string what, Exception e, string file) =>
        new(TensorFlowServingErrorKind.Io, $"{what}: {FileSystemErrors.ReasonForFile(e, file)}.", e);

    private async Task<FileStream> AcquireLockAsync(CancellationToken cancellationToken)
    {
        var folder = Folder;
        try
        {
            Directory.CreateDirectory(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Io($"Cannot create the folder of the TensorFlow Serving model config {folder}", e, folder);
        }

        var clock = Stopwatch.StartNew();
        var delay = TimeSpan.FromMilliseconds(5);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                // FileShare.None: on Unix .NET adds flock(LOCK_EX | LOCK_NB) on the descriptor, which
                // conflicts with every other open description of the file, in this or another process.
                return new FileStream(LockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
            }
            catch (IOException e) when (FileSystemErrors.IsLockConflict(e) && clock.Elapsed < LockTimeout)
            {
                await Task.Delay(delay, cancellationToken);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 100));
            }
            catch (IOException e) when (FileSystemErrors.IsLockConflict(e))
            {
                throw new TensorFlowServingException(
                    TensorFlowServingErrorKind.LockTimeout,
                    $"Timed out after {LockTimeout.TotalSeconds:0.###} s waiting for the lock {LockPath} on the TensorFlow Serving model config; another deploy or stop is holding it.",
                    e);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Not another holder (a read-only or full file system, a folder in the way): waiting would not help.
                throw Io($"Cannot open the lock file {LockPath}", e, LockPath);
            }
        }
    }

    private async Task WriteAtomicallyAsync(string text, CancellationToken cancellationToken)
    {
        var folder = Folder;
        var temp = System.IO.Path.Combine(folder, $".{System.IO.Path.GetFileName(Path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            await using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 4096, FileOptions.Asynchronous))
            {
                var bytes = Utf8NoBom.GetBytes(text);
                await stream.WriteAsync(bytes, cancellationToken);
                stream.Flush(flushToDisk: true);
            }

            FaultPoints.Reach(FaultPoints.Points.ConfigTempWritten);
            // From here on the change is committed: a cancelled token must not leave it half-done.
            File.Move(temp, Path, overwrite: true);
            NativeFileSystem.TryFsyncDirectory(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw Io($"Cannot write the TensorFlow Serving model config {Path}", e, Path);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: a leftover dot-file temp is harmless; TF Serving only reads the config path.
        }
    }
}

/// <summary>The outcome of <see cref="ModelConfigFile.UpdateDetailedAsync{T}"/>.</summary>
/// <param name="Result">What the change returned.</param>
/// <param name="TextBefore">The file's text before (null: no file).</param>
/// <param name="TextWritten">The text written, or null when the change left the config as it was.</param>
internal sealed record ConfigUpdate<T>(T Result, string? TextBefore, string? TextWritten);
