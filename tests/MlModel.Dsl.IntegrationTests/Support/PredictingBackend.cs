using MlModel.Dsl.Backends;
using MlModel.Dsl.Tests.Execution.Predict;

namespace MlModel.Dsl.IntegrationTests.Support;

/// <summary>
/// TensorFlow Serving's real backend (its folders and config file) with an in-process predictor,
/// and, when <see cref="ServerStates"/> is set, the states a server would report per version:
/// the engine's serving commands end to end but for the REST calls, which the fake TensorFlow
/// Serving covers.
/// </summary>
internal sealed class PredictingBackend(IServingBackend inner, InProcessPredictor predictor) : IServingBackend, IServingPredictor
{
    public InProcessPredictor Predictor { get; } = predictor;

    /// <summary>Per version, the state and error message the server reports; null: no REST address.</summary>
    public Dictionary<int, (string State, string? Message)>? ServerStates { get; set; }

    /// <summary>The server's answer for the whole model when it reports no version (unreachable, unknown model).</summary>
    public string? ServerError { get; set; }

    public ServingCapabilities Capabilities => inner.Capabilities;

    public bool ReportsServerState => ServerStates is not null;

    public Task DeployAsync(string servingName, int version, string? label, IReadOnlyList<ServingFile> files, CancellationToken cancellationToken = default) =>
        inner.DeployAsync(servingName, version, label, files, cancellationToken);

    public Task StopAsync(string servingName, int version, CancellationToken cancellationToken = default) => inner.StopAsync(servingName, version, cancellationToken);

    public async Task<IReadOnlyList<ServingVersionStatus>> GetStatusAsync(string servingName, CancellationToken cancellationToken = default)
    {
        var config = await inner.GetStatusAsync(servingName, cancellationToken);
        if (ServerStates is not { } states)
        {
            return config;
        }
        var result = config.Select(s => states.TryGetValue(s.Version, out var st)
            ? s with { ServerState = st.State, ServerMessage = st.Message }
            : s with { ServerMessage = ServerError }).ToList();
        result.AddRange(states.Where(kv => config.All(s => s.Version != kv.Key))
            .Select(kv => new ServingVersionStatus(kv.Key, false, [], kv.Value.State, kv.Value.Message)));
        return result;
    }

    public Task<IReadOnlyDictionary<string, IReadOnlyList<int>>> GetDeployedAsync(CancellationToken cancellationToken = default) => inner.GetDeployedAsync(cancellationToken);

    public Task<IReadOnlyList<ServingEntry>> GetManagedAsync(CancellationToken cancellationToken = default) => inner.GetManagedAsync(cancellationToken);

    public Task SetLabelsAsync(string servingName, IReadOnlyDictionary<string, int> labels, CancellationToken cancellationToken = default) =>
        inner.SetLabelsAsync(servingName, labels, cancellationToken);

    public Task<IReadOnlyList<string>> FindLeftoversAsync(bool remove, CancellationToken cancellationToken = default) => inner.FindLeftoversAsync(remove, cancellationToken);

    public Task<ServingSignature> GetSignatureAsync(string servingName, int? version, CancellationToken cancellationToken = default) =>
        Predictor.GetSignatureAsync(servingName, version, cancellationToken);

    public Task<IReadOnlyList<PredictOutput>> PredictAsync(PredictBatch batch, CancellationToken cancellationToken = default) =>
        Predictor.PredictAsync(batch, cancellationToken);
}
