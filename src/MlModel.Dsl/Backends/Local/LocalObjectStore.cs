using System.Buffers;
using System.Runtime.CompilerServices;

namespace MlModel.Dsl.Backends.Local;

/// <summary>
/// An object store in a local folder, the embedded default: each key is a file under the root
/// (<c>models/a/1/saved_model.pb</c> → <c>&lt;root&gt;/models/a/1/saved_model.pb</c>).
/// </summary>
/// <remarks>
/// <para>Keys that could leave the root are refused with <see cref="ErrorCodes.InvalidValue"/>:
/// <c>..</c> and <c>.</c> segments, absolute paths, backslashes, empty segments, NUL, and keys
/// whose path goes through a symbolic link that points out of the root. Symbolic links that stay
/// inside the root are followed; listings report linked files but do not descend into linked
/// folders (no cycles, no duplicates).</para>
/// <para>Writes go to a hidden temporary file (<c>.mlmodel-tmp-*</c>) in the target folder, are
/// flushed to disk and then renamed over the target: an object appears whole or not at all, and
/// a failed or cancelled write leaves nothing behind. Key segments starting with
/// <c>.mlmodel-tmp-</c> are reserved.</para>
/// <para>A key cannot be both an object and a folder of other objects (<c>a</c> and <c>a/b</c>),
/// unlike S3; writing such a key fails with <see cref="ErrorCodes.Conflict"/>.</para>
/// <para>A write batch (<see cref="BeginWriteBatch"/>) syncs nothing until its commit, which then
/// syncs every file it wrote and every folder it changed; it writes new objects in place, so a
/// reader may see one half written before its put returns (a failed put deletes it).</para>
/// </remarks>
public sealed partial class LocalObjectStore : ILocalFileStore
{
    /// <summary>Prefix of the temporary files of writes in progress; never listed, reserved in keys.</summary>
    internal const string TempPrefix = ".mlmodel-tmp-";

    /// <summary>Buffer size of file streams and copies: large sequential I/O, bounded memory.</summary>
    internal const int BufferSize = 1 << 20;

    private const int MaxLinkDepth = 40;

    private readonly string root;
    private string? realRoot;

    /// <summary>Creates a store over <paramref name="rootFolder"/>; the folder is created on the first write.</summary>
    /// <param name="rootFolder">The root folder; relative paths are resolved against the current directory.</param>
    public LocalObjectStore(string rootFolder)
    {
        if (string.IsNullOrWhiteSpace(rootFolder) || rootFolder.Contains('\0', StringComparison.Ordinal))
        {
            throw new MlModelException(ErrorCodes.InvalidValue, "the root folder of a local object store must be a path");
        }

        root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(rootFolder));
        if (root.Length == 0)
        {
            root = Path.GetFullPath(rootFolder);
        }
    }

    /// <summary>The absolute root folder.</summary>
    public string RootFolder => root;

    /// <summary>
    /// Whether a write returns (and a write batch commits) only once its bytes and its name are on
    /// disk (fsync of the file and of its folder); default true. False leaves the writeback to the
    /// kernel, as tar and cp do (PostgreSQL's tools call it <c>--no-sync</c>): much faster on a slow
    /// disk, but an operating-system crash or a power loss in the next half minute or so can lose
    /// or truncate the newest objects (a crash of the process cannot). An import's SHA-256
    /// manifest still tells: <c>mlmodel check</c> reports such files as missing or corrupt, and
    /// deploy and export refuse them.
    /// </summary>
    public bool Durable { get; init; } = true;

    /// <inheritdoc />
    public string Description => "local:" + root;

    /// <inheritdoc />
    public override string ToString() => Description;

    /// <inheritdoc />
    public Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default) =>
        OpenReadAsync(key, null, cancellationToken);

    /// <summary>
    /// <see cref="OpenReadAsync(string, CancellationToken)"/> for one of many reads under the same
    /// folders (an export): <paramref name="verifiedFolders"/> remembers the folders whose path has
    /// been checked for links out of the root, so that each is checked once per operation rather
    /// than once per file. A link swapped in meanwhile is no more a risk than one swapped in between
    /// a check and the open that follows it, which a path-based check cannot exclude either.
    /// </summary>
    public Task<Stream> OpenReadAsync(string key, ISet<string>? verifiedFolders, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var path = Resolve(key, verifiedFolders);
        try
        {
            // Unbuffered: BlockingFileStream's pooled buffer replaces FileStream's own (see there).
            Stream stream = new BlockingFileStream(new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.Open,
                Access = FileAccess.Read,
                Share = FileShare.Read | FileShare.Delete,
                BufferSize = 0,
                Options = FileOptions.SequentialScan,
            }));
            return Task.FromResult(stream);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw NotFound(key);
        }
        catch (UnauthorizedAccessException) when (Directory.Exists(path))
        {
            throw NotFound(key); // a folder of other objects, not an object
        }
        catch (IOException) when (!File.Exists(path))
        {
            throw NotFound(key); // a part of the path is a file (ENOTDIR)
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Failed("read", key, e);
        }
    }

    /// <inheritdoc />
    public Task<ObjectInfo?> StatAsync(string key, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var path = Resolve(key);
        try
        {
            var info = new FileInfo(path);
            if (info.Exists)
            {
                return Task.FromResult<ObjectInfo?>(new ObjectInfo(key, info.Length, info.LastWriteTimeUtc));
            }

            ThrowIfRootIsNotAFolder($"stat object '{ObjectKeyRules.Printable(key)}'");
            return Task.FromResult<ObjectInfo?>(null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Failed("stat", key, e);
        }
    }

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

    /// <inheritdoc />
    public async IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var (key, file) in Enumerate(prefix ?? "", cancellationToken))
        {
            cancellationToken.ThrowIfCancellationRequested();
            ObjectInfo info;
            try
            {
                file.Refresh();
                if (!file.Exists)
                {
                    continue; // deleted since the folder was read
                }

                info = new ObjectInfo(key, file.Length, file.LastWriteTimeUtc);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw Failed("list", key, e);
            }

            yield return info;
        }

        await Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var path = Resolve(key);
        try
        {
            if (!Directory.Exists(path))
            {
                File.Delete(path);
            }
        }
        catch (DirectoryNotFoundException)
        {
            // Its folder is gone: so is the object.
        }
        catch (IOException) when (!File.Exists(path))
        {
            // A part of the path is a file: there is no such object.
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Failed("delete", key, e);
        }

        PruneEmptyFolders(Path.GetDirectoryName(path)!);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task DeletePrefixAsync(string prefix, CancellationToken cancellationToken = default)
    {
        prefix ??= "";
        // Temporary files too: a version's folder goes whole, with what a killed write left in it.
        var files = Enumerate(prefix, cancellationToken, Listing.All).ToList();
        foreach (var (key, file) in files)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                file.Delete();
            }
            catch (DirectoryNotFoundException)
            {
                // Already gone.
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw Failed("delete", key, e);
            }
        }

        var start = StartFolder(prefix);
        if (Directory.Exists(start) && new FileInfo(start).LinkTarget is null)
        {
            RemoveEmptyFolders(start, prefix);
        }

        PruneEmptyFolders(start);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<Uri> GetDownloadUrlAsync(string key, TimeSpan expiry, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var path = Resolve(key);
        if (!File.Exists(path))
        {
            throw NotFound(key);
        }

        return Task.FromResult(FileUri(path));
    }

    /// <inheritdoc />
    public string GetLocalPath(string key) => Resolve(key);

    /// <summary>A file:// URI for an absolute path, with every character that URIs reserve escaped.</summary>
    internal static Uri FileUri(string path)
    {
        var segments = path.Replace(Path.DirectorySeparatorChar, '/').Split('/');
        var escaped = string.Join('/', segments.Select(Uri.EscapeDataString));
        return new Uri("file://" + (escaped.StartsWith('/') ? "" : "/") + escaped, UriKind.Absolute);
    }

    // ------------------------------------------------------------------ writing

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
        for (var current = folder; current.Length > root.Length; current = Path.GetDirectoryName(current)!)
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

    // ------------------------------------------------------------------ listing and deleting

    private enum Listing
    {
        Objects,
        Temporary,
        All,
    }

    /// <inheritdoc/>
    public IAsyncEnumerable<ObjectInfo> ListTemporaryAsync(string prefix, CancellationToken cancellationToken = default) =>
        Enumerate(prefix ?? "", cancellationToken, Listing.Temporary)
            .Select(f => new ObjectInfo(f.Key, f.File.Exists ? f.File.Length : 0, f.File.LastWriteTimeUtc))
            .ToAsyncEnumerable();

    /// <inheritdoc/>
    public Task DeleteTemporaryAsync(string key, CancellationToken cancellationToken = default)
    {
        var slash = key.LastIndexOf('/');
        var name = key[(slash + 1)..];
        if (!name.StartsWith(TempPrefix, StringComparison.Ordinal))
        {
            throw ObjectKeyRules.Invalid(key, $"not a temporary file (its name does not start with '{TempPrefix}')");
        }
        var folder = slash < 0 ? root : StartFolder(key[..(slash + 1)]);
        var path = Path.Combine(folder, name);
        try
        {
            if (new FileInfo(path).LinkTarget is null)
            {
                File.Delete(path);
            }
        }
        catch (DirectoryNotFoundException)
        {
            // Already gone.
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Failed("delete", key, e);
        }
        PruneEmptyFolders(folder);
        return Task.CompletedTask;
    }

    /// <summary>The folder under which every key starting with <paramref name="prefix"/> lives (prefix validated).</summary>
    private string StartFolder(string prefix)
    {
        ObjectKeyRules.ValidatePrefix(prefix);
        var slash = prefix.LastIndexOf('/');
        if (slash < 0)
        {
            return root;
        }

        var folderKey = prefix[..slash];
        CheckReserved(folderKey);
        var path = Combine(folderKey);
        CheckLinks(folderKey, path);
        return path;
    }

    /// <summary>Files whose keys start with <paramref name="prefix"/>, in ordinal key order.</summary>
    private List<(string Key, FileInfo File)> Enumerate(string prefix, CancellationToken cancellationToken, Listing listing = Listing.Objects)
    {
        var start = StartFolder(prefix);
        var found = new List<(string Key, FileInfo File)>();
        if (!Directory.Exists(start))
        {
            ThrowIfRootIsNotAFolder($"list '{ObjectKeyRules.Printable(prefix)}'");
            return found;
        }

        var startKey = start.Length > root.Length ? ToKey(start) + "/" : "";
        var options = new EnumerationOptions
        {
            RecurseSubdirectories = false,
            IgnoreInaccessible = false,
            AttributesToSkip = 0,
            ReturnSpecialDirectories = false,
        };
        var pending = new Stack<(string Folder, string KeyPrefix)>();
        pending.Push((start, startKey));
        while (pending.Count > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (folder, keyPrefix) = pending.Pop();
            IEnumerable<FileSystemInfo> entries;
            try
            {
                entries = new DirectoryInfo(folder).EnumerateFileSystemInfos("*", options).ToList();
            }
            catch (DirectoryNotFoundException)
            {
                continue;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw Failed("list", keyPrefix, e);
            }

            foreach (var entry in entries)
            {
                var name = entry.Name;
                if (name.StartsWith(TempPrefix, StringComparison.Ordinal))
                {
                    // A write in progress, or one a crash cut short.
                    if (listing != Listing.Objects && entry is FileInfo temp && entry.LinkTarget is null && (keyPrefix + name).StartsWith(prefix, StringComparison.Ordinal))
                    {
                        found.Add((keyPrefix + name, temp));
                    }
                    continue;
                }

                if (name.Contains('\\', StringComparison.Ordinal))
                {
                    continue;
                }

                var key = keyPrefix + name;
                if (entry.LinkTarget is not null)
                {
                    if (!LinkStaysInside(entry.FullName) || Directory.Exists(entry.FullName))
                    {
                        continue; // out of the root, or a linked folder: not descended
                    }

                    if (key.StartsWith(prefix, StringComparison.Ordinal) && File.Exists(entry.FullName))
                    {
                        found.Add((key, new FileInfo(entry.FullName)));
                    }

                    continue;
                }

                if (entry is DirectoryInfo)
                {
                    var folderKey = key + "/";
                    if (folderKey.StartsWith(prefix, StringComparison.Ordinal) || prefix.StartsWith(folderKey, StringComparison.Ordinal))
                    {
                        pending.Push((entry.FullName, folderKey));
                    }
                }
                else if (entry is FileInfo file && listing != Listing.Temporary && key.StartsWith(prefix, StringComparison.Ordinal))
                {
                    found.Add((key, file));
                }
            }
        }

        found.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        return found;
    }

    /// <summary>Removes, bottom-up, the empty folders under <paramref name="folder"/> whose keys start with <paramref name="prefix"/>.</summary>
    private void RemoveEmptyFolders(string folder, string prefix)
    {
        List<DirectoryInfo> children;
        try
        {
            children = new DirectoryInfo(folder).EnumerateDirectories().Where(d => d.LinkTarget is null).ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }

        foreach (var child in children)
        {
            var childKey = ToKey(child.FullName) + "/";
            if (childKey.StartsWith(prefix, StringComparison.Ordinal) || prefix.StartsWith(childKey, StringComparison.Ordinal))
            {
                RemoveEmptyFolders(child.FullName, prefix);
                if (childKey.StartsWith(prefix, StringComparison.Ordinal))
                {
                    TryRemoveFolder(child.FullName);
                }
            }
        }
    }

    /// <summary>Removes <paramref name="folder"/> and its ancestors below the root while they are empty.</summary>
    private void PruneEmptyFolders(string folder)
    {
        for (var current = folder;
             current.Length > root.Length && current.StartsWith(root, StringComparison.Ordinal);
             current = Path.GetDirectoryName(current)!)
        {
            if (new FileInfo(current).LinkTarget is not null || !TryRemoveFolder(current))
            {
                return;
            }
        }
    }

    private static bool TryRemoveFolder(string folder)
    {
        try
        {
            if (!Directory.Exists(folder) || Directory.EnumerateFileSystemEntries(folder).Any())
            {
                return false;
            }

            Directory.Delete(folder, recursive: false);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // not empty any more, or not ours to remove
        }
    }

    private string ToKey(string path) =>
        Path.GetRelativePath(root, path).Replace(Path.DirectorySeparatorChar, '/');

    // ------------------------------------------------------------------ keys and paths

    /// <summary>Validates <paramref name="key"/> and returns its path under the root.</summary>
    private string Resolve(string key)
    {
        ObjectKeyRules.ValidateKey(key);
        CheckReserved(key);
        var path = Combine(key);
        CheckLinks(key, path);
        return path;
    }

    /// <summary>
    /// <see cref="Resolve(string)"/>, checking the key's folder only when <paramref name="verifiedFolders"/>
    /// does not hold it yet, and adding it once it is known to exist: the last segment is checked every time.
    /// </summary>
    private string Resolve(string key, ISet<string>? verifiedFolders)
    {
        if (verifiedFolders is null)
        {
            return Resolve(key);
        }

        ObjectKeyRules.ValidateKey(key);
        CheckReserved(key);
        var path = Combine(key);
        var slash = key.LastIndexOf('/');
        if (slash > 0)
        {
            var folder = Path.GetDirectoryName(path)!;
            if (!verifiedFolders.Contains(folder) && CheckLinks(key[..slash], folder))
            {
                verifiedFolders.Add(folder);
            }
        }

        CheckLastSegment(key, path);
        return path;
    }

    /// <summary>Refuses a key whose own last segment is a symbolic link that points out of the root.</summary>
    private void CheckLastSegment(string key, string path)
    {
        if (new FileInfo(path).LinkTarget is not null && !LinkStaysInside(path))
        {
            throw ObjectKeyRules.Invalid(key, "its path goes through a symbolic link that points out of the store's root");
        }
    }

    private static void CheckReserved(string key)
    {
        foreach (var segment in key.Split('/'))
        {
            if (segment.StartsWith(TempPrefix, StringComparison.Ordinal))
            {
                throw ObjectKeyRules.Invalid(key, $"segments starting with '{TempPrefix}' are reserved for writes in progress");
            }
        }
    }

    private string Combine(string key)
    {
        var path = Path.GetFullPath(Path.Combine(root, key.Replace('/', Path.DirectorySeparatorChar)));
        if (!IsUnder(path, root))
        {
            throw ObjectKeyRules.Invalid(key, "it leads out of the store's root");
        }

        return path;
    }

    /// <summary>
    /// Refuses a key whose path goes through a symbolic link that points out of the root. True when
    /// every segment of <paramref name="path"/> exists as a folder (or a link to one inside the root).
    /// </summary>
    private bool CheckLinks(string key, string path)
    {
        var relative = Path.GetRelativePath(root, path);
        if (relative == ".")
        {
            return true;
        }

        var current = root;
        foreach (var segment in relative.Split(Path.DirectorySeparatorChar))
        {
            current = Path.Combine(current, segment);

            // One lstat tells a link, a folder, a file and nothing apart (-1: nothing there).
            var attributes = new FileInfo(current).Attributes;
            if (attributes == (FileAttributes)(-1))
            {
                return false; // nothing: no further links on the way
            }

            if ((attributes & FileAttributes.ReparsePoint) != 0)
            {
                if (!LinkStaysInside(current))
                {
                    throw ObjectKeyRules.Invalid(key, "its path goes through a symbolic link that points out of the store's root");
                }
            }

            if ((attributes & FileAttributes.Directory) == 0)
            {
                return false; // a file: no further links on the way
            }
        }

        return true;
    }

    /// <summary>Whether the symbolic link at <paramref name="link"/>, fully resolved, stays under the root.</summary>
    private bool LinkStaysInside(string link)
    {
        try
        {
            var target = RealPath(link, 0);
            return target is not null && IsUnder(target, RealRoot());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private string RealRoot() => realRoot ??= RealPath(root, 0) ?? root;

    /// <summary>The path with every symbolic link on it resolved; null for a loop.</summary>
    private static string? RealPath(string path, int depth)
    {
        if (depth > MaxLinkDepth)
        {
            return null;
        }

        var full = Path.GetFullPath(path);
        var rootOfPath = Path.GetPathRoot(full)!;
        var current = rootOfPath;
        var parts = full[rootOfPath.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i < parts.Length; i++)
        {
            var next = Path.Combine(current, parts[i]);
            var target = new FileInfo(next).LinkTarget;
            if (target is null)
            {
                current = next;
                continue;
            }

            var resolved = RealPath(Path.IsPathRooted(target) ? target : Path.Combine(current, target), depth + 1);
            if (resolved is null)
            {
                return null;
            }

            current = resolved;
        }

        return current;
    }

    private static bool IsUnder(string path, string folder) =>
        path.Length > folder.Length
            ? path.StartsWith(folder, StringComparison.Ordinal)
              && (path[folder.Length] == Path.DirectorySeparatorChar || folder.EndsWith(Path.DirectorySeparatorChar))
            : string.Equals(path, folder, StringComparison.Ordinal);

    // ------------------------------------------------------------------ errors

    /// <summary>Not found, unless the reason is that the root itself is not a folder: then that error.</summary>
    private MlModelException NotFound(string key) =>
        RootIsNotAFolder($"read object '{ObjectKeyRules.Printable(key)}'") ?? new(ErrorCodes.NotFound, $"object '{ObjectKeyRules.Printable(key)}' not found in {Description}");

    /// <summary>
    /// A plain file where the root folder (or a folder above it) should be makes every key look
    /// absent: reads, listings and stats say so instead, rather than "not found" or nothing.
    /// </summary>
    private void ThrowIfRootIsNotAFolder(string what)
    {
        if (RootIsNotAFolder(what) is { } error)
        {
            throw error;
        }
    }

    /// <param name="what">What could not be done: <c>read object 'k'</c>, <c>list 'models/'</c>.</param>
    private MlModelException? RootIsNotAFolder(string what) =>
        Directory.Exists(root) || FileSystemErrors.FileInTheWay(root) is not { } file
            ? null
            : new(ErrorCodes.Backend, $"could not {what} in {Description}: {file} is a file, not a folder");

    /// <summary>A failure of the file system on <paramref name="key"/>, with its cause in words (<see cref="FileSystemErrors"/>).</summary>
    internal MlModelException Failed(string operation, string key, Exception e) =>
        new(ErrorCodes.Backend, $"could not {operation} object '{ObjectKeyRules.Printable(key)}' in {Description}: {FileSystemErrors.Reason(e, FolderOf(key))}", e);

    /// <summary>The folder an object of <paramref name="key"/> (validated) lives in, or that a prefix names.</summary>
    private string FolderOf(string key)
    {
        var slash = key.LastIndexOf('/');
        return slash <= 0 ? root : Path.Combine(root, key[..slash].Replace('/', Path.DirectorySeparatorChar));
    }

    internal static MlModelException LengthMismatch(string key, long expected, long actual) =>
        new(ErrorCodes.InvalidValue, actual > expected
            ? $"object '{ObjectKeyRules.Printable(key)}' was declared as {expected} bytes but its content is longer"
            : $"object '{ObjectKeyRules.Printable(key)}' was declared as {expected} bytes but its content has {actual}");
}
