using MlModel.Dsl.Syntax;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Binding;

namespace MlModel.Dsl.Execution;

/// <summary>
/// The engine's start: the repository is initialised only once it is known not to be a lost
/// database, and failures of the start name the command that ran into them.
/// </summary>
internal sealed partial class CommandExecutor
{
    private const string ModelsPrefix = "models/";

    /// <summary>
    /// Refuses to start a brand-new repository (one that has never allocated a version: a
    /// database file that is missing, emptied, or re-created) next to a model store that holds
    /// files under <c>models/</c>: every model would vanish from <c>list</c>, and
    /// <c>check repair=true</c> would delete their files as orphans. Otherwise initialises the
    /// repository. A store without models (a first run) and a repository whose models were all
    /// deleted (it has allocated versions) start as before.
    /// </summary>
    /// <remarks>The errors carry no command: <see cref="EnsureInitializedAsync(OperationSpec?, CancellationToken)"/> places them.</remarks>
    private async Task InitializeRepositoryAsync(CancellationToken cancellationToken)
    {
        if (_options.ModelStore is { } store && await _repository.DescribeIfNewAsync(cancellationToken) is { } found)
        {
            var (versions, objects) = await CountModelsAsync(store, cancellationToken);
            if (objects > 0)
            {
                var holds = versions > 0 ? $"{versions} model folder(s)" : $"{objects} file(s)";
                throw new MlModelException(ErrorCodes.Backend,
                    $"{found}, but the model store {store.Description} holds {holds} under {ModelsPrefix}; "
                    + $"restore the database from a backup, or move the store's {ModelsPrefix} away to start afresh");
            }
        }
        await _repository.InitializeAsync(cancellationToken);
    }

    /// <summary>The version folders (<c>models/user/name/version/</c>) and the objects under <c>models/</c>.</summary>
    private static async Task<(int Versions, int Objects)> CountModelsAsync(IObjectStore store, CancellationToken cancellationToken)
    {
        var versions = new HashSet<string>(StringComparer.Ordinal);
        var objects = 0;
        await foreach (var info in store.ListAsync(ModelsPrefix, cancellationToken))
        {
            objects++;
            var parts = info.Key.Split('/', 5);
            if (parts.Length == 5)
            {
                versions.Add(string.Join('/', parts[1], parts[2], parts[3]));
            }
        }
        return (versions.Count, objects);
    }

    /// <summary>
    /// <see cref="EnsureInitializedAsync(CancellationToken)"/> for a command (<paramref name="op"/>)
    /// or a host's own call (null): a failure says <c>mlmodel list: ...</c> or <c>mlmodel: ...</c>.
    /// </summary>
    internal async Task EnsureInitializedAsync(OperationSpec? op, CancellationToken cancellationToken)
    {
        try
        {
            await EnsureInitializedAsync(cancellationToken);
        }
        catch (MlModelException e) when (e.Error.Command is null)
        {
            throw op is null ? e.In(CommandWords.MlModel, null) : Within(op, e);
        }
    }
}
