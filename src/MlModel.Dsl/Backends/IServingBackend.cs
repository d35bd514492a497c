namespace MlModel.Dsl.Backends;

/// <summary>One file to publish for serving.</summary>
/// <param name="RelativePath">Path inside the version folder, '/'-separated.</param>
/// <param name="Length">Size in bytes.</param>
/// <param name="LocalPath">The file on local disk when the model store is local (so it can be hard-linked), else null.</param>
/// <param name="Open">Opens the contents for reading.</param>
public sealed record ServingFile(string RelativePath, long Length, string? LocalPath, Func<CancellationToken, Task<Stream>> Open);

/// <summary>What the serving side says of one version.</summary>
/// <param name="Version">The version.</param>
/// <param name="InConfig">Whether the serving config lists it.</param>
/// <param name="Labels">Labels that point at it in the config.</param>
/// <param name="ServerState">What the server reports (AVAILABLE, LOADING, END, ...), or null when no server is configured or it does not know the version.</param>
/// <param name="ServerMessage">The server's error message, if any.</param>
public sealed record ServingVersionStatus(int Version, bool InConfig, IReadOnlyList<string> Labels, string? ServerState, string? ServerMessage);

/// <summary>What the serving side holds for one serving name that this library manages.</summary>
/// <param name="ServingName">The serving name.</param>
/// <param name="Versions">Versions the serving config lists.</param>
/// <param name="Labels">Labels in the serving config, with the version each points at.</param>
/// <param name="Folders">Versions whose files are published for serving (listed by the config or not).</param>
public sealed record ServingEntry(string ServingName, IReadOnlyList<int> Versions, IReadOnlyDictionary<string, int> Labels, IReadOnlyList<int> Folders);

/// <summary>What a serving system can load, for the engine to refuse the rest before anything is written (spec B.3).</summary>
/// <param name="System">Its name in messages: <c>TensorFlow Serving</c>.</param>
/// <param name="AnalysisTools">The analysis tools whose models it loads (<c>tf</c>); empty for any.</param>
/// <param name="Formats">The formats it loads (<c>saved_model</c>), the one to suggest first; empty for any.</param>
/// <param name="Loads">What it loads, in words: <c>tf SavedModels</c>.</param>
/// <param name="LoadsFormats">The formats it loads, in words: <c>SavedModels</c>.</param>
public sealed record ServingCapabilities(string System, IReadOnlyList<string> AnalysisTools, IReadOnlyList<string> Formats, string Loads, string LoadsFormats)
{
    /// <summary>A serving system that says nothing of what it loads: the engine refuses nothing for it.</summary>
    public static ServingCapabilities Any { get; } = new("the serving system", [], [], "any model", "any format");
}

/// <summary>A model serving system (TensorFlow Serving in MlModel.Dsl.Serving.TensorFlow).</summary>
public interface IServingBackend
{
    /// <summary>What it can load; the default loads anything.</summary>
    ServingCapabilities Capabilities => ServingCapabilities.Any;

    /// <summary>
    /// Publishes a version and adds it to the serving config, with <paramref name="label"/>
    /// pointing at it when given. Either it is served afterwards, or the config is as it was
    /// (spec B.8). Throws <see cref="MlModelException"/> with the server's message on failure.
    /// </summary>
    Task DeployAsync(string servingName, int version, string? label, IReadOnlyList<ServingFile> files, CancellationToken cancellationToken = default);

    /// <summary>Takes a version out of the config with its labels, then removes its files.</summary>
    Task StopAsync(string servingName, int version, CancellationToken cancellationToken = default);

    /// <summary>
    /// Whether <see cref="GetStatusAsync"/> asks a running server, so that a null
    /// <see cref="ServingVersionStatus.ServerState"/> means the server reported nothing for the
    /// version; false when the backend reads its config only (TensorFlow Serving without a REST
    /// address). The default says it asks one.
    /// </summary>
    bool ReportsServerState => true;

    /// <summary>Per version: the config's view and, when a server is configured, the server's.</summary>
    Task<IReadOnlyList<ServingVersionStatus>> GetStatusAsync(string servingName, CancellationToken cancellationToken = default);

    /// <summary>Every serving name the config lists with its versions, for consistency checks.</summary>
    Task<IReadOnlyDictionary<string, IReadOnlyList<int>>> GetDeployedAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Every serving name this library manages (in the config with the base path it gives, or with
    /// published folders), with versions, labels and folders, for <c>check</c> to compare with the
    /// registry. Entries the library does not manage are left out. The default knows only the
    /// config's versions.
    /// </summary>
    async Task<IReadOnlyList<ServingEntry>> GetManagedAsync(CancellationToken cancellationToken = default) =>
        (await GetDeployedAsync(cancellationToken))
            .Select(kv => new ServingEntry(kv.Key, kv.Value, new Dictionary<string, int>(), kv.Value))
            .ToList();

    /// <summary>
    /// Makes the labels of <paramref name="servingName"/> exactly <paramref name="labels"/> for the
    /// versions the config lists (the registry's view, for <c>check repair=true</c>). The default
    /// does nothing: a backend without labels has none to drift.
    /// </summary>
    Task SetLabelsAsync(string servingName, IReadOnlyDictionary<string, int> labels, CancellationToken cancellationToken = default) =>
        Task.CompletedTask;

    /// <summary>
    /// What deploys, stops and config writes that did not finish left behind (temporary files and
    /// folders), described for <c>check</c>; removed when <paramref name="remove"/>. Never lists what
    /// a running deploy or stop still uses. The default has none.
    /// </summary>
    Task<IReadOnlyList<string>> FindLeftoversAsync(bool remove, CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<string>>([]);
}
