namespace MlModel.Dsl.Backends.Local;

// Symbolic links: a path may go through links only while they stay inside the root.
public sealed partial class LocalObjectStore
{
    /// <summary>
    /// Refuses a key whose path goes through a symbolic link that points out of the root. True when
    /// every segment of <paramref name="path"/> exists as a folder (or a link to one inside the root).
    /// </summary>
    private bool CheckLinks(string key, string path)
    {
        var relative = Path.GetRelativePath(_root, path);
        if (relative == ".")
        {
            return true;
        }

        var current = _root;
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

    private string RealRoot() => _realRoot ??= RealPath(_root, 0) ?? _root;

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
}
