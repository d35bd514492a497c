using System.Buffers;

namespace MlModel.Dsl.Backends.Local;

// Writing: puts and streamed writes through a temporary file renamed into place, and the syncs that make them durable.
public sealed partial class LocalObjectStore
{
    /// <inheritdoc />
    public Task PutAsync(string key, Stream content, long? length, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        if (length < 0)
        {
            throw new MlModelException(ErrorCodes.InvalidValue, $"the length of object '{ObjectKeyRules.Printable(key)}' must not be negative");
        }

        if (WholeFileSource(content, length) is { } source && TryCopyFile(key, source, (FileStream)content, cancellationToken))
        {
            return Task.CompletedTask;
        }

        return WriteFileAsync(key, (file, ct) => CopyIntoAsync(key, content, length, file.SafeFileHandle, Durable, smallFiles: true, ct), cancellationToken);
    }

    /// <summary>
    /// Copies <paramref name="content"/> to the start of a new, empty file, checking the declared
    /// length; with <paramref name="startWriteback"/>, starting the file's writeback every few MiB
    /// and at the end (a file shorter than a few MiB only with <paramref name="smallFiles"/>), for a
    /// sync to follow. Failures of the file are MlModel errors, those of the content travel as they are.
    /// </summary>
    private async Task CopyIntoAsync(string key, Stream content, long? length, Microsoft.Win32.SafeHandles.SafeFileHandle file, bool startWriteback, bool smallFiles, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            var writeback = new WritebackWindow(startWriteback, smallFiles);
            long total = 0;
            int read;
            while ((read = await content.ReadAsync(buffer.AsMemory(0, BufferSize), cancellationToken)) > 0)
            {
                try
                {
                    // A direct, synchronous write: see BlockingFileStream.
                    FileWrites.Write(file, buffer.AsSpan(0, read), total);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw Failed("write", key, e);
                }

                total += read;
                if (total > length)
                {
                    break;
                }

                writeback.Advance(file, total);
            }

            if (length is { } expected && total != expected)
            {
                throw LengthMismatch(key, expected, total);
            }

            writeback.Finish(file);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <inheritdoc />
    public Task WriteAsync(string key, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(write);
        return WriteFileAsync(key, async (file, ct) =>
        {
            var buffered = new BlockingFileStream(file, leaveOpen: true, startWriteback: Durable);
            var written = false;
            try
            {
                await using (var guarded = new NonClosingStream(buffered, e => WriteFailed(key, e)))
                {
                    await write(guarded, ct);
                }

                try
                {
                    buffered.Flush();
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw WriteFailed(key, e);
                }

                written = true;
            }
            finally
            {
                if (!written)
                {
                    buffered.Abandon();
                }

                buffered.Dispose();
            }
        }, cancellationToken);
    }

    /// <summary>Where a plain write of <paramref name="key"/> goes: the file, its folder, and a fresh temporary name beside it.</summary>
    private (string Path, string Folder, string Temp) PrepareWrite(string key)
    {
        var path = Resolve(key);
        if (Directory.Exists(path))
        {
            throw FolderConflict(key, null);
        }

        var folder = Path.GetDirectoryName(path)!;
        return (path, folder, Path.Combine(folder, TempPrefix + Guid.NewGuid().ToString("N")));
    }

    private async Task WriteFileAsync(string key, Func<FileStream, CancellationToken, Task> fill, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var (path, folder, temp) = PrepareWrite(key);
        var changedFolders = new HashSet<string>(StringComparer.Ordinal) { folder };
        var file = OpenTemp(key, folder, temp, changedFolders);
        var moved = false;
        try
        {
            // The filler reports failures of the file as MlModel errors; its other exceptions
            // (the caller's source or callback failing, cancellation) travel as they are.
            await fill(file, cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                file.Flush(flushToDisk: Durable);
                await file.DisposeAsync();
                cancellationToken.ThrowIfCancellationRequested();
                File.Move(temp, path, overwrite: true);
                moved = true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw Directory.Exists(path) ? FolderConflict(key, e) : Failed("write", key, e);
            }

            SyncFolders(key, changedFolders);
        }
        finally
        {
            if (!moved)
            {
                try
                {
                    await file.DisposeAsync();
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Closing a file that is being thrown away.
                }

                TryDelete(temp);
            }
        }
    }

    /// <summary>
    /// For a whole regular file on Linux (a <see cref="FileStream"/> at position 0, its length as
    /// declared), the path through which the kernel can copy it: <c>/proc/self/fd/N</c>, which is
    /// the open file itself even if its name has changed since. Null otherwise: the bytes are then
    /// streamed through a buffer.
    /// </summary>
    private static string? WholeFileSource(Stream content, long? length)
    {
        if (!OperatingSystem.IsLinux() || content is not FileStream file || !file.CanRead || !file.CanSeek)
        {
            return null;
        }

        try
        {
            if (file.Position != 0 || (length is { } declared && declared != file.Length))
            {
                return null;
            }

            var descriptor = $"/proc/self/fd/{file.SafeFileHandle.DangerousGetHandle()}";
            return File.Exists(descriptor) ? descriptor : null;
        }
        catch (Exception e) when (e is IOException or NotSupportedException or UnauthorizedAccessException or ObjectDisposedException)
        {
            return null;
        }
    }

    /// <summary>
    /// <see cref="PutAsync"/> of a whole file: File.Copy, which Linux carries out in the kernel
    /// (copy_file_range: about three times faster here than reading and writing through a buffer,
    /// bench/Storage), into the temporary file, then fsync and rename as for every write. The
    /// source stream is left at its end, as if it had been read. False, with nothing written, when
    /// the file cannot be opened a second time (the caller holds it with FileShare.None): the
    /// caller then streams it.
    /// </summary>
    private bool TryCopyFile(string key, string source, FileStream content, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var (path, folder, temp) = PrepareWrite(key);
        var changedFolders = new HashSet<string>(StringComparer.Ordinal) { folder };
        var moved = false;
        try
        {
            // Created first, as for every write (and for the mode a new file gets here); File.Copy
            // then replaces its content and would give it the source's mode.
            UnixFileMode? mode = null;
            using (var created = OpenTemp(key, folder, temp, changedFolders))
            {
                if (!OperatingSystem.IsWindows())
                {
                    mode = File.GetUnixFileMode(created.SafeFileHandle);
                }
            }

            try
            {
                File.Copy(source, temp, overwrite: true);
            }
            catch (IOException) when (File.Exists(source))
            {
                return false; // locked by its owner's FileShare: stream it instead
            }

            if (mode is { } newFileMode && !OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(temp, newFileMode);
            }

            if (Durable)
            {
                using var copied = new FileStream(temp, FileMode.Open, FileAccess.Write, FileShare.None, bufferSize: 1);
                copied.Flush(flushToDisk: true);
            }

            cancellationToken.ThrowIfCancellationRequested();
            File.Move(temp, path, overwrite: true);
            moved = true;
            SyncFolders(key, changedFolders);
            content.Seek(0, SeekOrigin.End);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Directory.Exists(path) ? FolderConflict(key, e) : Failed("write", key, e);
        }
        finally
        {
            if (!moved)
            {
                TryDelete(temp);
            }
        }
    }

    private MlModelException FolderConflict(string key, Exception? inner) =>
        new(ErrorCodes.Conflict,
            $"cannot write object '{ObjectKeyRules.Printable(key)}' in {Description}: other objects are stored under '{ObjectKeyRules.Printable(key)}/'", inner);

    /// <summary>The error for a failure of the file system while writing <paramref name="key"/>.</summary>
    internal MlModelException WriteFailed(string key, Exception e) => Failed("write", key, e);

    /// <summary>
    /// Syncs the folders whose entries a write changed (the object's own, and the parents of the
    /// folders it created), so that the object can be found after a crash, not only its bytes.
    /// </summary>
    private void SyncFolders(string key, IEnumerable<string> folders)
    {
        if (!Durable)
        {
            return;
        }

        foreach (var folder in folders)
        {
            try
            {
                FileSync.SyncFolder(folder);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw Failed("sync the folder of", key, e);
            }
        }
    }

    /// <summary>
    /// Creates <paramref name="folder"/> and its missing ancestors, adding the parent of each one it
    /// creates to <paramref name="changedFolders"/> (a new folder is an entry of its parent).
    /// </summary>
    private static void CreateFolder(string folder, ISet<string> changedFolders)
    {
        for (var current = folder; !Directory.Exists(current); )
        {
            var parent = Path.GetDirectoryName(current);
            if (parent is null)
            {
                break;
            }

            changedFolders.Add(parent);
            current = parent;
        }

        Directory.CreateDirectory(folder);
    }

    /// <summary>
    /// Creates the temporary file of a write in <paramref name="folder"/>, creating the folder unless
    /// <paramref name="existingFolders"/> (a batch's) says it was made already.
    /// </summary>
    private FileStream OpenTemp(string key, string folder, string temp, ISet<string> changedFolders, HashSet<string>? existingFolders = null) =>
        CreateNew(key, folder, temp, changedFolders, existingFolders, static path => new FileStream(path, new FileStreamOptions
        {
            // Unbuffered: writers copy in large blocks or through BlockingFileStream's pooled buffer.
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Share = FileShare.None,
            BufferSize = 0,
            Options = FileOptions.None,
        }));

    /// <summary>
    /// Creates a new file <paramref name="file"/> in <paramref name="folder"/> with <paramref name="open"/>
    /// (which must fail if it exists), creating the folder unless <paramref name="existingFolders"/>
    /// says it was made already; failures become the store's errors.
    /// </summary>
    private T CreateNew<T>(string key, string folder, string file, ISet<string> changedFolders, HashSet<string>? existingFolders, Func<string, T> open)
    {
        // A concurrent DeletePrefix may remove the (then empty) folder between its creation and
        // the creation of the file: create both again a few times.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                if (existingFolders is null || !existingFolders.Contains(folder))
                {
                    CreateFolder(folder, changedFolders);
                    existingFolders?.Add(folder);
                }

                return open(file);
            }
            catch (DirectoryNotFoundException) when (attempt < 5)
            {
                // Folder removed concurrently: again.
                existingFolders?.Remove(folder);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                if (ParentIsFile(folder))
                {
                    throw new MlModelException(ErrorCodes.Conflict,
                        $"cannot write object '{ObjectKeyRules.Printable(key)}' in {Description}: a part of its path is itself an object", e);
                }

                throw Failed("write", key, e);
            }
        }
    }

    private bool ParentIsFile(string folder)
    {
        for (var current = folder; current.Length > _root.Length; current = Path.GetDirectoryName(current)!)
        {
            if (File.Exists(current))
            {
                return true;
            }
        }

        return false;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: the temporary file is hidden from listings and reads either way.
        }
    }
}
