using System.Runtime.CompilerServices;

namespace MlModel.Dsl.Backends.Local;

// Listing and deleting: walking the folders under a prefix, temporary files included on request, and removing what empties.
public sealed partial class LocalObjectStore
{
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
        var folder = slash < 0 ? _root : StartFolder(key[..(slash + 1)]);
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
            return _root;
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

        var startKey = start.Length > _root.Length ? ToKey(start) + "/" : "";
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
             current.Length > _root.Length && current.StartsWith(_root, StringComparison.Ordinal);
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
        Path.GetRelativePath(_root, path).Replace(Path.DirectorySeparatorChar, '/');
}
