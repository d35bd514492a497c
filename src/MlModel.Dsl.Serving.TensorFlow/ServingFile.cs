namespace MlModel.Dsl.Serving.TensorFlow;

/// <summary>
/// One file of a SavedModel version directory, to be published under
/// <c>&lt;serving root&gt;/&lt;serving name&gt;/&lt;version&gt;/<see cref="RelativePath"/></c>.
/// </summary>
/// <param name="RelativePath">Path inside the version directory, '/'-separated (e.g. <c>variables/variables.index</c>).</param>
/// <param name="Length">Expected length in bytes; a published file of another length fails the deploy.</param>
/// <param name="LocalPath">The file on a local file system, if it is one: then it is hard-linked when on the same file system as the serving root (the source must then never be modified in place).</param>
/// <param name="Open">Opens the content for a streaming copy when no hard link is possible.</param>
public sealed record ServingFile(string RelativePath, long Length, string? LocalPath, Func<CancellationToken, Task<Stream>> Open)
{
    /// <summary>Every file under <paramref name="directory"/> (recursively), as local files.</summary>
    public static IReadOnlyList<ServingFile> FromDirectory(string directory)
    {
        var root = Path.GetFullPath(directory);
        return Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Order(StringComparer.Ordinal)
            .Select(FromLocal)
            .ToList();

        ServingFile FromLocal(string path)
        {
            var relative = Path.GetRelativePath(root, path).Replace(Path.DirectorySeparatorChar, '/');
            return new ServingFile(
                relative,
                new FileInfo(path).Length,
                path,
                _ => Task.FromResult<Stream>(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan)));
        }
    }
}
