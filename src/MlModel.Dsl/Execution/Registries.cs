using MlModel.Dsl.Backends;
using MlModel.Dsl.Binding;
using MlModel.Dsl.Execution;

namespace MlModel.Dsl;

/// <summary>What the host's <c>fit</c> command knows of a model it is about to train.</summary>
public sealed record ModelRegistration
{
    /// <summary>Model name (spec B.2).</summary>
    public required string Name { get; init; }
    /// <summary>spark, tf, sklearn, ...</summary>
    public required string AnalysisTool { get; init; }
    /// <summary>classification, regression, ...</summary>
    public string? Kind { get; init; }
    /// <summary>Algorithm name.</summary>
    public string? Algorithm { get; init; }
    /// <summary>Feature columns.</summary>
    public string? Feature { get; init; }
    /// <summary>Label column.</summary>
    public string? Label { get; init; }
    /// <summary>Description.</summary>
    public string? Description { get; init; }
    /// <summary>Training parameters, JSON.</summary>
    public string? Parameter { get; init; }
    /// <summary>Data model the query ran on.</summary>
    public string? DataModelName { get; init; }
    /// <summary>The training query.</summary>
    public string? Query { get; init; }
    /// <summary>Format of the files it will attach (spark, saved_model, h5).</summary>
    public string? Format { get; init; }
}

/// <summary>What training reports when it ends (or as it goes).</summary>
public sealed record TrainingUpdate
{
    /// <summary>New state: RUNNING, DONE or ERROR.</summary>
    public required string State { get; init; }
    /// <summary>Per-epoch evaluation, JSON.</summary>
    public string? Evaluation { get; init; }
    /// <summary>Cross-validation results, JSON.</summary>
    public string? CrossValidation { get; init; }
    /// <summary>Grid search results, JSON.</summary>
    public string? GridInfo { get; init; }
    /// <summary>Rows trained on.</summary>
    public long? TrainCnt { get; init; }
    /// <summary>Seconds spent training.</summary>
    public double? Elapsed { get; init; }
    /// <summary>Dictionary file name.</summary>
    public string? Dictionary { get; init; }
    /// <summary>A note for the audit trail (an error message when State is ERROR).</summary>
    public string? Message { get; init; }
}

/// <summary>Registration of models trained by the host, with audit entries for every change.</summary>
public sealed class ModelRegistry
{
    private readonly CommandExecutor _executor;

    internal ModelRegistry(CommandExecutor executor) => _executor = executor;

    /// <summary>
    /// Registers a new version (state READY) for <paramref name="caller"/> and returns it. When
    /// <paramref name="filesFolder"/> is given, the folder's files are stored as the version's
    /// files (validated as <see cref="ModelRegistration.Format"/>, with a manifest).
    /// </summary>
    public Task<ModelVersion> RegisterAsync(ModelRegistration registration, MlModelCaller caller, string? filesFolder = null, CancellationToken cancellationToken = default) =>
        _executor.RegisterAsync(registration, caller, filesFolder, cancellationToken);

    /// <summary>Moves a version through READY → RUNNING → DONE or ERROR and records training results.</summary>
    public Task<ModelVersion> UpdateTrainingAsync(string user, string name, int version, TrainingUpdate update, MlModelCaller caller, CancellationToken cancellationToken = default) =>
        _executor.UpdateTrainingAsync(user, name, version, update, caller, cancellationToken);

    /// <summary>One version (the latest when <paramref name="version"/> is null), or null.</summary>
    public Task<ModelVersion?> GetAsync(string user, string name, int? version = null, CancellationToken cancellationToken = default) =>
        _executor.GetModelAsync(user, name, version, cancellationToken);

    /// <summary>The consistency check of <c>mlmodel check</c>, as an API.</summary>
    public Task<ResultSet> CheckAsync(MlModelCaller caller, bool repair = false, CancellationToken cancellationToken = default) =>
        _executor.ExecuteAsync(new CheckCommand(Repair: repair), caller, null, null, cancellationToken);
}

/// <summary>
/// The stored object-storage connections, each owned by a user or shared (spec B.5). A user
/// sees and uses their own connectors and the shared ones (host-defined connectors are
/// shared); administrators see and use all. Through a connector of their own a user imports
/// any key; through a shared one, keys under <c>USERS/&lt;user&gt;/</c>. Secrets are never
/// shown; the repositories of MlModel.Dsl.Data store them encrypted.
/// </summary>
public sealed class ConnectorRegistry
{
    private readonly CommandExecutor _executor;

    internal ConnectorRegistry(CommandExecutor executor) => _executor = executor;

    /// <summary>
    /// The store behind the connector <paramref name="id"/>, as <paramref name="caller"/> may use it
    /// (their own and shared ones; any for an administrator): what import reads from, and what a host
    /// uses to keep model files in a connector's bucket. The caller disposes it. Errors begin with
    /// <paramref name="usedAs"/> (<c>--store</c>), or <c>mlmodel connector open</c>.
    /// </summary>
    /// <exception cref="MlModelException">Code <c>connector</c>: an unknown connector, or one whose settings make no store.</exception>
    public Task<IObjectStore> OpenStoreAsync(string id, MlModelCaller caller, string? usedAs = null, CancellationToken cancellationToken = default) =>
        _executor.OpenStoreAsync(id, caller, usedAs, cancellationToken);

    /// <summary>
    /// Adds a connector, or replaces the one with its id; its settings are checked by its
    /// provider first. <see cref="ConnectorInfo.Owner"/> null means <paramref name="caller"/>.
    /// Administrators add any type, for any owner, shared or not, and replace any connector.
    /// Other users add their own <c>s3</c> connectors, not shared, with <c>access_key</c> and
    /// <c>secret_key</c> given (no <c>*_env</c> settings: those read the host's environment),
    /// and replace only their own; an id taken by another connector is a <c>conflict</c>.
    /// Refusals are <c>mlmodel connector add: ...</c> errors and store nothing.
    /// </summary>
    public Task SaveAsync(ConnectorInfo connector, MlModelCaller caller, CancellationToken cancellationToken = default) =>
        _executor.SaveConnectorAsync(connector, caller, cancellationToken);

    /// <summary>
    /// Removes a stored connector: administrators any, other users their own. False when there
    /// is no such connector, or (for a user who is not an administrator) it is another user's
    /// and not shared: the same answer, so ids do not leak. Removing a shared connector of
    /// someone else is <c>permission_denied</c>; a host-defined one is a <c>conflict</c>.
    /// </summary>
    public Task<bool> DeleteAsync(string id, MlModelCaller caller, CancellationToken cancellationToken = default) =>
        _executor.DeleteConnectorAsync(id, caller, cancellationToken);

    /// <summary>
    /// The connectors the caller may use, host-defined and stored: id, type, owner, shared
    /// (<c>true</c>/<c>false</c>), source (<c>host</c> or <c>stored</c>), settings. Secrets are
    /// never shown: administrators see them as <c>***</c> (and URLs with <c>***</c> for user
    /// info and query); the owner of a connector sees its secrets as <c>***</c> and no
    /// <c>*_env</c> names; other users see only the settings that are not secrets (no keys, no
    /// <c>*_env</c> variable names, URLs without user info or query).
    /// </summary>
    public Task<ResultSet> ListAsync(MlModelCaller caller, CancellationToken cancellationToken = default) =>
        _executor.ListConnectorsAsync(caller, cancellationToken);
}
