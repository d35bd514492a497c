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

    private readonly string _root;
    private string? _realRoot;

    /// <summary>Creates a store over <paramref name="rootFolder"/>; the folder is created on the first write.</summary>
    /// <param name="rootFolder">The root folder; relative paths are resolved against the current directory.</param>
    public LocalObjectStore(string rootFolder)
    {
        if (string.IsNullOrWhiteSpace(rootFolder) || rootFolder.Contains('\0', StringComparison.Ordinal))
        {
            throw new MlModelException(ErrorCodes.InvalidValue, "the root folder of a local object store must be a path");
        }

        _root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(rootFolder));
        if (_root.Length == 0)
        {
            _root = Path.GetFullPath(rootFolder);
        }
    }

    /// <summary>The absolute root folder.</summary>
    public string RootFolder => _root;

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
    public string Description => "local:" + _root;

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
}
