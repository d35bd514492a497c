namespace MlModel.Dsl.Backends;

/// <summary>What an object store knows of one object.</summary>
/// <param name="Key">The key, relative to the store's root or prefix.</param>
/// <param name="Size">Size in bytes.</param>
/// <param name="LastModified">Last modification time, UTC.</param>
public sealed record ObjectInfo(string Key, long Size, DateTime LastModified);

/// <summary>
/// An object store: local folders (the embedded default) or an S3-compatible bucket.
/// Keys are '/'-separated and relative; implementations refuse keys that could escape their
/// root (<c>..</c>, absolute paths). Every transfer streams: nothing holds a whole object in memory.
/// </summary>
/// <remarks>
/// Errors are <see cref="MlModelException"/>s: <see cref="ErrorCodes.NotFound"/> for a missing
/// key, <see cref="ErrorCodes.Connector"/> for refused credentials or an unreachable server,
/// with messages that never contain secrets.
/// </remarks>
public interface IObjectStore
{
    /// <summary>A description for messages, without secrets: <c>local:/srv/models</c>, <c>s3://bucket/prefix</c>.</summary>
    string Description { get; }

    /// <summary>Opens an object for reading.</summary>
    Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>An object's size and time, or null when it does not exist.</summary>
    Task<ObjectInfo?> StatAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes an object from <paramref name="content"/> (read to its end). <paramref name="length"/>,
    /// when known, lets S3 choose a single PUT or a multipart upload. The object appears whole or not at all,
    /// and is durable (survives a crash of the machine) when the task completes.
    /// </summary>
    Task PutAsync(string key, Stream content, long? length, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes an object whose bytes a callback produces (an export tar), streaming: the callback
    /// writes into the stream it is given. The object appears whole or not at all.
    /// </summary>
    Task WriteAsync(string key, Func<Stream, CancellationToken, Task> write, CancellationToken cancellationToken = default);

    /// <summary>The objects whose keys start with <paramref name="prefix"/>.</summary>
    IAsyncEnumerable<ObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default);

    /// <summary>Deletes an object; deleting a missing object is not an error.</summary>
    Task DeleteAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Deletes every object under <paramref name="prefix"/> (which should end with '/').</summary>
    Task DeletePrefixAsync(string prefix, CancellationToken cancellationToken = default);

    /// <summary>A URL from which the object can be downloaded until <paramref name="expiry"/> passes (presigned on S3, file:// locally).</summary>
    Task<Uri> GetDownloadUrlAsync(string key, TimeSpan expiry, CancellationToken cancellationToken = default);


    /// <summary>
    /// Starts a batch of writes that are made durable together, by <see cref="IObjectWriteBatch.CommitAsync"/>,
    /// rather than one by one: on a local disk, syncing each of many small files as it is written
    /// costs several times more than writing them.
    /// </summary>
    /// <remarks>
    /// The default writes each object with <see cref="PutAsync"/>, which is durable on return (an
    /// S3 PUT is), so its commit has nothing left to do: stores that do not override this member
    /// keep working as they are.
    /// </remarks>
    IObjectWriteBatch BeginWriteBatch() => new PutEachWriteBatch(this);

    /// <summary>
    /// Temporary objects under <paramref name="prefix"/>: writes in progress, or left by a process
    /// that died (a local store's <c>.mlmodel-tmp-*</c> files), with their last write time, for
    /// <c>check</c> to report and, past the grace period, remove. The default has none: a store
    /// whose writes leave nothing visible behind (an S3 PUT) need not override it.
    /// </summary>
    IAsyncEnumerable<ObjectInfo> ListTemporaryAsync(string prefix, CancellationToken cancellationToken = default) =>
        AsyncEnumerable.Empty<ObjectInfo>();

    /// <summary>Deletes a temporary object that <see cref="ListTemporaryAsync"/> returned.</summary>
    Task DeleteTemporaryAsync(string key, CancellationToken cancellationToken = default) => Task.CompletedTask;
}

/// <summary>
/// Writes whose durability is settled once for all: each object written through the batch
/// appears whole or not at all to readers, and is readable as soon as its <see cref="PutAsync"/>
/// returns, but it is certain to survive a crash of the machine only once <see cref="CommitAsync"/>
/// has returned; a crash before that may leave any of them missing or incomplete. Made by
/// <see cref="IObjectStore.BeginWriteBatch"/>.
/// </summary>
/// <remarks>
/// Calls must not overlap: one put at a time, then one commit, after which the batch is finished
/// (further calls throw <see cref="InvalidOperationException"/>).
/// Disposing a batch that was not committed abandons it: the objects already written stay as they
/// are, possibly not durable, and are the caller's to delete (an import deletes its version's prefix).
/// </remarks>
public interface IObjectWriteBatch : IAsyncDisposable
{
    /// <summary>
    /// Writes an object as <see cref="IObjectStore.PutAsync"/> does, with the same errors, except that
    /// it need not be durable before <see cref="CommitAsync"/>.
    /// </summary>
    Task PutAsync(string key, Stream content, long? length, CancellationToken cancellationToken = default);

    /// <summary>
    /// Makes every object written through the batch durable, and finishes the batch. Throws an
    /// <see cref="MlModelException"/> that names the key when that cannot be done (for instance, an
    /// object was removed before the commit or the disk reports an I/O error): the objects must
    /// then be treated as lost.
    /// </summary>
    Task CommitAsync(CancellationToken cancellationToken = default);
}

/// <summary>The default batch: every put is an ordinary, already durable <see cref="IObjectStore.PutAsync"/>.</summary>
internal sealed class PutEachWriteBatch(IObjectStore store) : IObjectWriteBatch
{
    private bool _finished;

    public Task PutAsync(string key, Stream content, long? length, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        return store.PutAsync(key, content, length, cancellationToken);
    }

    public Task CommitAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        cancellationToken.ThrowIfCancellationRequested();
        _finished = true;
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        _finished = true;
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// What a store whose objects are files on this machine can do besides <see cref="IObjectStore"/>:
/// hand out a file's path (so serving can hard-link a version instead of copying it) and read
/// many objects of one folder with one check of that folder's links. A store says so by
/// implementing it; the engine asks with a type test, never by the store's concrete type.
/// </summary>
public interface ILocalFileStore : IObjectStore
{
    /// <summary>The file behind <paramref name="key"/> (which need not exist yet); the key is validated as for any call.</summary>
    string GetLocalPath(string key);

    /// <summary>
    /// <see cref="IObjectStore.OpenReadAsync"/> for a caller that reads many objects: folders in
    /// <paramref name="verifiedFolders"/> are not checked for links again, and the folders checked
    /// are added to it.
    /// </summary>
    Task<Stream> OpenReadAsync(string key, ISet<string>? verifiedFolders, CancellationToken cancellationToken = default);
}

/// <summary>Creates object stores for connectors of one type (<c>local</c>, <c>s3</c>).</summary>
public interface IObjectStoreProvider
{
    /// <summary>The connector type this provider serves.</summary>
    string Type { get; }

    /// <summary>The setting names this provider understands, for validation and help.</summary>
    IReadOnlyList<string> SettingNames { get; }

    /// <summary>Creates a store for <paramref name="connector"/>; throws <see cref="MlModelException"/> (<see cref="ErrorCodes.Connector"/>) on bad settings.</summary>
    IObjectStore Create(ConnectorInfo connector);

    /// <summary>
    /// Checks <paramref name="connector"/>'s settings as <see cref="Create"/> would, without making a
    /// store (no client, no connection): what <c>connector add</c> runs before it stores one. The
    /// default creates a store and disposes it; a provider whose stores hold resources overrides it.
    /// </summary>
    void Validate(ConnectorInfo connector) => (Create(connector) as IDisposable)?.Dispose();
}
