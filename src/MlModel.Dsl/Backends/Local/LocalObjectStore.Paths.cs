namespace MlModel.Dsl.Backends.Local;

// Keys to paths: a validated key resolved under the root, reserved names refused.
public sealed partial class LocalObjectStore
{
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
        var path = Path.GetFullPath(Path.Combine(_root, key.Replace('/', Path.DirectorySeparatorChar)));
        if (!IsUnder(path, _root))
        {
            throw ObjectKeyRules.Invalid(key, "it leads out of the store's root");
        }

        return path;
    }
}
