namespace MlModel.Dsl.Backends.Local;

// Errors: what a failure of the file system, a missing object or a root that is a file is reported as.
public sealed partial class LocalObjectStore
{
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
        Directory.Exists(_root) || FileSystemErrors.FileInTheWay(_root) is not { } file
            ? null
            : new(ErrorCodes.Backend, $"could not {what} in {Description}: {file} is a file, not a folder");

    /// <summary>A failure of the file system on <paramref name="key"/>, with its cause in words (<see cref="FileSystemErrors"/>).</summary>
    internal MlModelException Failed(string operation, string key, Exception e) =>
        new(ErrorCodes.Backend, $"could not {operation} object '{ObjectKeyRules.Printable(key)}' in {Description}: {FileSystemErrors.Reason(e, FolderOf(key))}", e);

    /// <summary>The folder an object of <paramref name="key"/> (validated) lives in, or that a prefix names.</summary>
    private string FolderOf(string key)
    {
        var slash = key.LastIndexOf('/');
        return slash <= 0 ? _root : Path.Combine(_root, key[..slash].Replace('/', Path.DirectorySeparatorChar));
    }

    internal static MlModelException LengthMismatch(string key, long expected, long actual) =>
        new(ErrorCodes.InvalidValue, actual > expected
            ? $"object '{ObjectKeyRules.Printable(key)}' was declared as {expected} bytes but its content is longer"
            : $"object '{ObjectKeyRules.Printable(key)}' was declared as {expected} bytes but its content has {actual}");
}
