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
    /// Starts a batch of writes that syncs nothing until its commit. Each object is still written
    /// to a temporary file and renamed into place, so that it appears whole or not at all, and the
    /// writeback of its bytes is started as it is written, so that the disk works meanwhile; the
    /// commit then syncs every file written, from several threads, and every folder whose entries
    /// changed (the objects' own and the parents of the folders created).
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

        public async Task PutAsync(string key, Stream content, long? length, CancellationToken cancellationToken = default)
        {
            ObjectDisposedException.ThrowIf(_finished, this);
            ArgumentNullException.ThrowIfNull(content);
            if (length < 0)
            {
                throw new MlModelException(ErrorCodes.InvalidValue, $"the length of object '{ObjectKeyRules.Printable(key)}' must not be negative");
            }

            cancellationToken.ThrowIfCancellationRequested();
            var path = store.ResolveForWrite(key, _folders);
            var folder = Path.GetDirectoryName(path)!;
            var temp = Path.Combine(folder, _tempPrefix + (++_temps).ToString(CultureInfo.InvariantCulture));
            // A temporary name and a rename, even under a version's fresh prefix where nobody should
            // read yet: a reader (`check`, a delete) never sees half an object, and a failed put
            // leaves nothing under the key. It is cheap: the rename measured about 40 µs of the
            // roughly 0.5 ms a 105 KB file takes here, most of which is creating the file. (Before
            // the commit a crash may still leave a renamed object incomplete: it is not durable yet,
            // and an import's version has no row then, so `mlmodel check repair=true` removes it.)
            var file = store.OpenTemp(key, folder, temp, _changedFolders, _folders);
            var moved = false;
            try
            {
                await store.CopyIntoAsync(key, content, length, file.SafeFileHandle, cancellationToken);
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

                _folders.TryGetValue(folder, out var shared);
                _changedFolders.Add(shared ?? folder);
                _written.Add((shared ?? folder, Path.GetFileName(path)));
            }
            finally
            {
                if (!moved)
                {
                    file.Dispose();
                    TryDelete(temp);
                }
            }
        }

        public async Task CommitAsync(CancellationToken cancellationToken = default)
        {
            ObjectDisposedException.ThrowIf(_finished, this);
            _finished = true;

            // The files' bytes first, then the folders that name them.
            await RunInParallelAsync(_written, SyncFile, cancellationToken);
            await RunInParallelAsync(_changedFolders.ToList(), SyncFolder, cancellationToken);
        }

        public ValueTask DisposeAsync()
        {
            // Abandoned: what was written stays for the caller to delete; nothing is held open.
            _finished = true;
            return ValueTask.CompletedTask;
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
                throw new MlModelException(ErrorCodes.Backend,
                    $"could not sync object '{ObjectKeyRules.Printable(store.ToKey(path))}' in {store.Description}: it was removed before its write batch was committed", e);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw store.Failed("sync", store.ToKey(path), e);
            }
        }

        private void SyncFolder(string folder)
        {
            try
            {
                FileSync.SyncFolder(folder);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                var name = folder.Length > store.root.Length ? $"folder '{ObjectKeyRules.Printable(store.ToKey(folder))}/'" : $"folder '{folder}'";
                throw new MlModelException(ErrorCodes.Backend, $"could not sync the {name} in {store.Description}: {e.Message}", e);
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
        ObjectKeyRules.ValidateKey(key);
        CheckReserved(key);
        var path = Combine(key);
        var slash = key.LastIndexOf('/');
        if (slash > 0 && !folders.Contains(Path.GetDirectoryName(path)!))
        {
            CheckLinks(key[..slash], Path.GetDirectoryName(path)!);
        }

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
