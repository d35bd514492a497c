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

/// <summary>A model serving system (TensorFlow Serving in MlModel.Dsl.Serving.TensorFlow).</summary>
public interface IServingBackend
{
    /// <summary>
    /// Publishes a version and adds it to the serving config, with <paramref name="label"/>
    /// pointing at it when given. Either it is served afterwards, or the config is as it was
    /// (spec B.8). Throws <see cref="MlModelException"/> with the server's message on failure.
    /// </summary>
    Task DeployAsync(string servingName, int version, string? label, IReadOnlyList<ServingFile> files, CancellationToken cancellationToken = default);

    /// <summary>Takes a version out of the config with its labels, then removes its files.</summary>
    Task StopAsync(string servingName, int version, CancellationToken cancellationToken = default);

    /// <summary>Per version: the config's view and, when a server is configured, the server's.</summary>
    Task<IReadOnlyList<ServingVersionStatus>> GetStatusAsync(string servingName, CancellationToken cancellationToken = default);

    /// <summary>Every serving name the config lists with its versions, for consistency checks.</summary>
    Task<IReadOnlyDictionary<string, IReadOnlyList<int>>> GetDeployedAsync(CancellationToken cancellationToken = default);
}
