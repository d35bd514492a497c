using System.Globalization;

namespace MlModel.Dsl.Backends.Local;

public sealed partial class LocalObjectStore
{
    /// <summary>
    /// Files (and folders) a batch's commit syncs at once. fsync mostly waits for the disk, and the
    /// disk serves many at a time: on this project's 2-core machine, syncing 2,500 just-written
    /// files of 105 KB took about 7.5 s one after another and 1.1 to 1.4 s from 16 threads (8 and
    /// 32 threads did no better), or 0.4 to 0.5 s when their writeback had been started as they
    /// were written (<see cref="WritebackWindow"/>).
    /// </summary>
    internal const int SyncParallelism = 16;

    /// <summary>
    /// From this many files on, a commit syncs the file system (<see cref="FileSync.SyncFileSystem"/>)
    /// rather than each file and folder (the durable import of 10,000 files of 105 KB: 3.7 s
    /// rather than 4.2 s, medians of bench/Transfer; with the writeback no longer started per file,
    /// see WritebackOfSmallFiles, 2.9-3.3 s). Below it, fsyncs do not wait for other programs' dirty data.
    /// </summary>
    internal const int SyncFileSystemFrom = 128;

    /// <summary>At most this many folders are held open for a file-system sync; past it, files are synced one by one.</summary>
    private const int MaxWatchedFolders = 64;

    /// <summary>
    /// Starts a batch of writes that syncs nothing until its commit. A new object is written in
    /// place (a failed put deletes it), an existing one is replaced through a temporary file and a
    /// rename. The commit of <see cref="SyncFileSystemFrom"/> files or more syncs their file system
    /// once (Linux 5.8 and later); a smaller one syncs every file written, from several threads,
    /// and every folder whose entries changed (the objects' own and the parents of the folders
    /// created), the files' writeback having been started as they were written so that the disk
    /// works meanwhile. With <see cref="Durable"/> false, none of the syncing is done.
    /// </summary>
    /// <returns>A batch; calls on it must not overlap.</returns>
    public IObjectWriteBatch BeginWriteBatch() => new WriteBatch(this);

    /// <summary>The local <see cref="IObjectWriteBatch"/>: see <see cref="BeginWriteBatch"/>.</summary>
    private sealed class WriteBatch(LocalObjectStore store) : IObjectWriteBatch
    {
        // Folders checked for links out of the root and known to exist: checked once per batch, not
        // once per file (a model of 10,000 files has a handful of folders).
        private readonly HashSet<string> _folders = new(StringComparer.Ordinal);
        private readonly HashSet<string> _changedFolders = new(StringComparer.Ordinal);

        // What to sync at the commit: the folder (one shared string per folder) and the file name,
        // which holds 100,000 entries in a few MB.
        private readonly List<(string Folder, string Name)> _written = [];

        // One random part per batch and a counter: unique temporary names without a Guid per file.
        private readonly string _tempPrefix = TempPrefix + Guid.NewGuid().ToString("N")[..16] + "-";
        private long _temps;
        private bool _finished;

        // Folders opened before the first write into them, so that a sync of their file system
        // reports every writeback error since (syncfs checks from when its descriptor was opened).
        private readonly Dictionary<string, FileSync.SafeFolderHandle> _watched = new(StringComparer.Ordinal);
        private bool _syncEachFile = !FileSync.CanSyncFileSystem || !store.Durable;

        public async Task PutAsync(string key, Stream content, long? length, CancellationToken cancellationToken = default)
        {
            ObjectDisposedException.ThrowIf(_finished, this);
            ArgumentNullException.ThrowIfNull(content);
            if (length < 0)
            {
                throw new MlModelException(ErrorCodes.InvalidValue, $"the length of object '{ObjectKeyRules.Printable(key)}' must not be negative");
            }

            cancellationToken.ThrowIfCancellationRequested();
            var path = store.ResolveNewPath(key, _folders);
            var folder = Path.GetDirectoryName(path)!;
            // A new key (an import's fresh version prefix) is written in place, as tar does: one
            // create instead of a temporary file, a check of the name and a rename, which in a
            // folder of 10,000 files cost 30 to 50 µs of the 170 or so a 105 KB file took here
            // (a 10,000-file import without sync: 2.9-3.2 s before, 2.6-2.7 s after). A failed
            // put deletes the file; a concurrent reader (`check`) may see it half written, as it
            // may see an object before the commit that is not durable yet: an import's version has
            // no row until then, and `mlmodel check repair=true` removes what a crash left.
            var file = store.CreateNew(key, folder, path, _changedFolders, _folders, FileSync.CreateNew);
            if (file is null)
            {
                // Taken (an object, a link or a folder): replace it the careful way.
                await ReplaceAsync(key, content, length, cancellationToken);
                return;
            }

            var written = false;
            try
            {
                Watch(folder);
                await store.CopyIntoAsync(key, content, length, file, store.Durable, WritebackOfSmallFiles, cancellationToken);
                file.Dispose();
                cancellationToken.ThrowIfCancellationRequested();
                written = true;
            }
            finally
            {
                if (!written)
                {
                    file.Dispose();
                    TryDelete(path);
                }
            }

            Written(folder, path);
        }

        /// <summary>
        /// Writes over an existing object (or a link, or a folder, which fails): into a temporary
        /// file renamed over it, so that it is replaced whole or not at all.
        /// </summary>
        private async Task ReplaceAsync(string key, Stream content, long? length, CancellationToken cancellationToken)
        {
            var path = store.ResolveForWrite(key, _folders);
            var folder = Path.GetDirectoryName(path)!;
            var temp = Path.Combine(folder, _tempPrefix + (++_temps).ToString(CultureInfo.InvariantCulture));
            var file = store.OpenTemp(key, folder, temp, _changedFolders, _folders);
            var moved = false;
            try
            {
                Watch(folder);
                await store.CopyIntoAsync(key, content, length, file.SafeFileHandle, store.Durable, WritebackOfSmallFiles, cancellationToken);
                file.Dispose();
                cancellationToken.ThrowIfCancellationRequested();
                try
                {
                    File.Move(temp, path, overwrite: true);
                    moved = true;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw Directory.Exists(path) ? store.FolderConflict(key, e) : store.Failed("write", key, e);
                }
            }
            finally
            {
                if (!moved)
                {
                    file.Dispose();
                    TryDelete(temp);
                }
            }

            Written(folder, path);
        }

        /// <summary>Remembers a file written and its folder, to sync them at the commit.</summary>
        private void Written(string folder, string path)
        {
            _folders.TryGetValue(folder, out var shared);
            _changedFolders.Add(shared ?? folder);
            _written.Add((shared ?? folder, Path.GetFileName(path)));
        }

        public async Task CommitAsync(CancellationToken cancellationToken = default)
        {
            ObjectDisposedException.ThrowIf(_finished, this);
            _finished = true;
            if (!store.Durable)
            {
                return;
            }

            try
            {
                if (!_syncEachFile && _written.Count >= SyncFileSystemFrom)
                {
                    // As the fsync of each would: an object removed meanwhile fails the commit.
                    foreach (var file in _written)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        if (!File.Exists(Path.Combine(file.Folder, file.Name)))
                        {
                            throw Removed(Path.Combine(file.Folder, file.Name), null);
                        }
                    }

                    var folders = _watched.ToList();
                    await RunInParallelAsync(folders, SyncFileSystem, cancellationToken);
                    return;
                }

                // The files' bytes first, then the folders that name them.
                await RunInParallelAsync(_written, SyncFile, cancellationToken);
                await RunInParallelAsync(_changedFolders.ToList(), SyncFolder, cancellationToken);
            }
            finally
            {
                CloseWatched();
            }
        }

        public ValueTask DisposeAsync()
        {
            // Abandoned: what was written stays for the caller to delete; nothing is held open.
            _finished = true;
            CloseWatched();
            return ValueTask.CompletedTask;
        }

        /// <summary>
        /// Whether to start the writeback of each small file (under 8 MiB) as it is written: when
        /// the commit will fsync the files one by one. Before a sync of the file system it only
        /// slows the writes down: a durable import of 10,000 files of 105 KB took 3.5-3.9 s with a
        /// writeback started per file and 2.9-3.3 s without (`tar -xf &amp;&amp; sync` 2.2-3.2 s, in
        /// the same run): the sync writes the bytes back in larger runs. A large file's writeback is
        /// started every 8 MiB either way, so that the disk works while the rest is produced.
        /// </summary>
        private bool WritebackOfSmallFiles => _syncEachFile;

        /// <summary>Opens <paramref name="folder"/> for the commit's file-system sync, once, before its first file is written.</summary>
        private void Watch(string folder)
        {
            if (_syncEachFile || _watched.ContainsKey(folder))
            {
                return;
            }

            if (_watched.Count == MaxWatchedFolders || FileSync.OpenFolder(folder) is not { } handle)
            {
                _syncEachFile = true;
                CloseWatched();
                return;
            }

            _watched.Add(folder, handle);
        }

        private void CloseWatched()
        {
            foreach (var handle in _watched.Values)
            {
                handle.Dispose();
            }

            _watched.Clear();
        }

        private void SyncFileSystem(KeyValuePair<string, FileSync.SafeFolderHandle> folder)
        {
            try
            {
                FileSync.SyncFileSystem(folder.Value);
            }
            catch (IOException e)
            {
                var name = folder.Key.Length > store._root.Length ? $"folder '{ObjectKeyRules.Printable(store.ToKey(folder.Key))}/'" : $"folder '{folder.Key}'";
                throw new MlModelException(ErrorCodes.Backend, $"could not sync the file system of the {name} in {store.Description}: {FileSystemErrors.Reason(e)}", e);
            }
        }

        private void SyncFile((string Folder, string Name) file)
        {
            var path = Path.Combine(file.Folder, file.Name);
            try
            {
                // A new descriptor sees the writeback errors of the file that nobody has seen yet
                // (Linux 4.13 and later), so the files need not all be held open until the commit.
                // Read access suffices for fsync; Windows' FlushFileBuffers wants write access.
                using var handle = File.OpenHandle(path, FileMode.Open, OperatingSystem.IsWindows() ? FileAccess.Write : FileAccess.Read,
                    FileShare.ReadWrite | FileShare.Delete);
                RandomAccess.FlushToDisk(handle);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                throw Removed(path, e);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw store.Failed("sync", store.ToKey(path), e);
            }
        }

        private MlModelException Removed(string path, Exception? inner) =>
            new(ErrorCodes.Backend,
                $"could not sync object '{ObjectKeyRules.Printable(store.ToKey(path))}' in {store.Description}: it was removed before its write batch was committed", inner);

        private void SyncFolder(string folder)
        {
            try
            {
                FileSync.SyncFolder(folder);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                var name = folder.Length > store._root.Length ? $"folder '{ObjectKeyRules.Printable(store.ToKey(folder))}/'" : $"folder '{folder}'";
                throw new MlModelException(ErrorCodes.Backend, $"could not sync the {name} in {store.Description}: {FileSystemErrors.Reason(e)}", e);
            }
        }
    }

    /// <summary>
    /// Validates a key to write in a batch and returns its path: the folder's path is checked for
    /// links out of the root unless <paramref name="folders"/> holds it; the last segment may be a
    /// link inside the root (the rename replaces the link, it never writes through it) but not a folder.
    /// </summary>
    private string ResolveForWrite(string key, HashSet<string> folders)
    {
        var path = ResolveNewPath(key, folders);
        var attributes = new FileInfo(path).Attributes;
        if (attributes != (FileAttributes)(-1))
        {
            if ((attributes & FileAttributes.ReparsePoint) != 0 && !LinkStaysInside(path))
            {
                throw ObjectKeyRules.Invalid(key, "its path goes through a symbolic link that points out of the store's root");
            }

            if ((attributes & FileAttributes.Directory) != 0)
            {
                throw FolderConflict(key, null);
            }
        }

        return path;
    }

    /// <summary>
    /// Validates a key to write in a batch and returns its path, its folder's path checked for
    /// links out of the root unless <paramref name="folders"/> holds it; not the last segment.
    /// </summary>
    private string ResolveNewPath(string key, HashSet<string> folders)
    {
        ObjectKeyRules.ValidateKey(key);
        CheckReserved(key);
        var path = Combine(key);
        var slash = key.LastIndexOf('/');
        if (slash > 0 && !folders.Contains(Path.GetDirectoryName(path)!))
        {
            CheckLinks(key[..slash], Path.GetDirectoryName(path)!);
        }

        return path;
    }

    /// <summary>
    /// Runs <paramref name="action"/> on every item from up to <see cref="SyncParallelism"/> threads
    /// of its own: the calls block on the disk, and blocking that many thread-pool threads would
    /// starve the pool (it starts with one thread per core and adds more slowly). Stops at the first
    /// failure, which the task then carries.
    /// </summary>
    private static Task RunInParallelAsync<T>(IReadOnlyList<T> items, Action<T> action, CancellationToken cancellationToken)
    {
        if (items.Count == 0)
        {
            return Task.CompletedTask;
        }

        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var threads = Math.Min(items.Count, SyncParallelism);
        var running = threads;
        var next = -1;
        Exception? failure = null;

        void Work()
        {
            try
            {
                int i;
                while (Volatile.Read(ref failure) is null && !cancellationToken.IsCancellationRequested
                       && (i = Interlocked.Increment(ref next)) < items.Count)
                {
                    action(items[i]);
                }
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref failure, e, null);
            }
            finally
            {
                if (Interlocked.Decrement(ref running) == 0)
                {
                    if (failure is not null)
                    {
                        done.SetException(failure);
                    }
                    else if (cancellationToken.IsCancellationRequested)
                    {
                        done.SetCanceled(cancellationToken);
                    }
                    else
                    {
                        done.SetResult();
                    }
                }
            }
        }

        if (threads == 1)
        {
            Work();
            return done.Task;
        }

        for (var t = 0; t < threads; t++)
        {
            new Thread(Work, 256 * 1024) { IsBackground = true, Name = "mlmodel-sync" }.Start();
        }

        return done.Task;
    }
}
