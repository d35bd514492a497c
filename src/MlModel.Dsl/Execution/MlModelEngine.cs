using MlModel.Dsl.Backends;
using MlModel.Dsl.Execution;

namespace MlModel.Dsl;

/// <summary>
/// Runs <c>mlmodel</c> commands for a requesting user and returns result sets. A host builds
/// one engine from <see cref="MlModelOptions"/> (or with <c>services.AddMlModel(...)</c>) and
/// shares it: it is thread-safe.
/// </summary>
/// <remarks>
/// Dispose the engine after its last command. With <see cref="MlModelOptions.OwnsBackends"/> it
/// disposes the backends in its options then (each once, asynchronously where it can); without,
/// the host that made the repository, the stores and the serving backend disposes them, as it may
/// share them with other engines. Stores the engine makes itself, for a connector's import, it
/// disposes after that command.
/// </remarks>
public sealed class MlModelEngine : IAsyncDisposable, IDisposable
{
    private readonly CommandExecutor _executor;
    private int _disposed;

    /// <summary>Builds an engine over the given backends.</summary>
    public MlModelEngine(MlModelOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Repository is null)
        {
            throw new ArgumentException("MlModelOptions.Repository is required", nameof(options));
        }
        Options = options;
        _executor = new CommandExecutor(options);
        Models = new ModelRegistry(_executor);
        Connectors = new ConnectorRegistry(_executor);
    }

    /// <summary>The options the engine was built with.</summary>
    public MlModelOptions Options { get; }

    /// <summary>The registration API for models trained by the host (the <c>fit</c> command).</summary>
    public ModelRegistry Models { get; }

    /// <summary>The stored object-storage connections (the spec's <c>connector_id</c>).</summary>
    public ConnectorRegistry Connectors { get; }

    /// <summary>
    /// Creates or upgrades the repository's schema. Called on first use; call it early to fail fast.
    /// Refuses (<see cref="ErrorCodes.Backend"/>) a brand-new repository next to a model store that
    /// already holds models: a lost or emptied database (see <see cref="IModelRepository.DescribeIfNewAsync"/>).
    /// </summary>
    public Task InitializeAsync(CancellationToken cancellationToken = default) => _executor.EnsureInitializedAsync(null, cancellationToken);

    /// <summary>Parses and runs command text or a dsl-object JSON.</summary>
    /// <exception cref="MlModelException">The command is invalid, not permitted, or failed; nothing was changed by a failed command.</exception>
    public Task<ResultSet> ExecuteAsync(string command, MlModelCaller caller, CancellationToken cancellationToken = default) =>
        ExecuteAsync(MlModelParser.ParseAny(command), caller, progress: null, cancellationToken);

    /// <summary>Runs a command.</summary>
    /// <param name="command">The command.</param>
    /// <param name="caller">The requesting user.</param>
    /// <param name="progress">Receives progress of import and export, if given.</param>
    /// <param name="cancellationToken">Cancels the command; a cancelled import or export leaves nothing behind.</param>
    public Task<ResultSet> ExecuteAsync(MlModelCommand command, MlModelCaller caller, IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(caller);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return _executor.ExecuteAsync(command, caller, progress, null, cancellationToken);
    }

    /// <summary>
    /// Runs a stage that consumes rows (<c>serving predict</c>) over the host's rows, the output of
    /// the stage before it. The result streams: the rows are read, sent in batches and returned
    /// with the stage's columns added, in order, as the result is read (read it with
    /// <see cref="ResultSet.ReadAllAsync"/> or <see cref="System.Data.Common.DbDataReader.ReadAsync(CancellationToken)"/>).
    /// </summary>
    /// <param name="command">The command; one that takes no rows (every <c>mlmodel</c> operation, <c>serving status</c>) is refused with <see cref="ErrorCodes.Unsupported"/>.</param>
    /// <param name="caller">The requesting user.</param>
    /// <param name="input">The rows, read once.</param>
    /// <param name="cancellationToken">Cancels the command and the stream of its rows.</param>
    /// <exception cref="MlModelException">The command is invalid, not permitted, or cannot run on this input; a row that
    /// cannot be predicted fails while the result is read, naming the row and the column.</exception>
    public Task<ResultSet> ExecuteAsync(MlModelCommand command, MlModelCaller caller, RowSource input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(caller);
        ArgumentNullException.ThrowIfNull(input);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return _executor.ExecuteAsync(command, caller, null, input, cancellationToken);
    }

    /// <summary>Runs the <c>mlmodel</c> stage of a host query and returns it with the text around it.</summary>
    public async Task<(MlModelQueryStage Stage, ResultSet Result)> ExecuteQueryAsync(string query, MlModelCaller caller, CancellationToken cancellationToken = default)
    {
        var stage = MlModelParser.ParseQuery(query);
        var result = await ExecuteAsync(stage.Command, caller, progress: null, cancellationToken);
        return (stage, result);
    }

    /// <summary>
    /// Runs the stage of a host query that consumes rows (<c>... | serving predict ...</c>) over
    /// <paramref name="input"/>, the rows of the stages before it that the host ran
    /// (<see cref="MlModelQueryStage.Before"/>), and returns it with the text around it.
    /// </summary>
    public async Task<(MlModelQueryStage Stage, ResultSet Result)> ExecuteQueryAsync(string query, MlModelCaller caller, RowSource input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        var stage = MlModelParser.ParseQuery(query);
        var result = await ExecuteAsync(stage.Command, caller, input, cancellationToken);
        return (stage, result);
    }

    /// <summary>
    /// Ends the engine: later commands throw <see cref="ObjectDisposedException"/>. With
    /// <see cref="MlModelOptions.OwnsBackends"/>, disposes the backends in <see cref="Options"/>
    /// (serving, stores, then the repository), each once however many options name it.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0 || !Options.OwnsBackends)
        {
            return;
        }
        // Every backend gets its turn; the first failure is reported once all have had it.
        System.Runtime.ExceptionServices.ExceptionDispatchInfo? failure = null;
        foreach (var backend in OwnedBackends())
        {
            try
            {
                switch (backend)
                {
                    case IAsyncDisposable a:
                        await a.DisposeAsync();
                        break;
                    case IDisposable d:
                        d.Dispose();
                        break;
                }
            }
            catch (Exception e)
            {
                failure ??= System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e);
            }
        }
        failure?.Throw();
    }

    /// <inheritdoc cref="DisposeAsync"/>
    /// <remarks>For containers and hosts that dispose synchronously; a backend that disposes only asynchronously is waited for.</remarks>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private IEnumerable<object> OwnedBackends() =>
        new object?[] { Options.Serving, Options.ExportStore, Options.ModelStore, Options.Repository }
            .OfType<object>()
            .Distinct(ReferenceEqualityComparer.Instance);
}
