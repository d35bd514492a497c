using MlModel.Dsl.Backends;

namespace MlModel.Dsl.IntegrationTests.Support;

/// <summary>
/// A serving backend that deploys, stops and reports (TensorFlow Serving's folders and config,
/// through <paramref name="inner"/>) but cannot predict: it does not implement
/// <see cref="IServingPredictor"/>, as a host's own backend may not.
/// </summary>
internal sealed class ConfigOnlyBackend(IServingBackend inner) : IServingBackend
{
    public ServingCapabilities Capabilities => inner.Capabilities;

    public bool ReportsServerState => inner.ReportsServerState;

    public Task DeployAsync(string servingName, int version, string? label, IReadOnlyList<ServingFile> files, CancellationToken cancellationToken = default) =>
        inner.DeployAsync(servingName, version, label, files, cancellationToken);

    public Task StopAsync(string servingName, int version, CancellationToken cancellationToken = default) => inner.StopAsync(servingName, version, cancellationToken);

    public Task<IReadOnlyList<ServingVersionStatus>> GetStatusAsync(string servingName, CancellationToken cancellationToken = default) =>
        inner.GetStatusAsync(servingName, cancellationToken);

    public Task<IReadOnlyDictionary<string, IReadOnlyList<int>>> GetDeployedAsync(CancellationToken cancellationToken = default) => inner.GetDeployedAsync(cancellationToken);

    public Task<IReadOnlyList<ServingEntry>> GetManagedAsync(CancellationToken cancellationToken = default) => inner.GetManagedAsync(cancellationToken);

    public Task SetLabelsAsync(string servingName, IReadOnlyDictionary<string, int> labels, CancellationToken cancellationToken = default) =>
        inner.SetLabelsAsync(servingName, labels, cancellationToken);

    public Task<IReadOnlyList<string>> FindLeftoversAsync(bool remove, CancellationToken cancellationToken = default) => inner.FindLeftoversAsync(remove, cancellationToken);
}
