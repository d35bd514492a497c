using System.Collections.Concurrent;
using System.Text;
using MlModel.Dsl.Backends;
using CoreServingFile = MlModel.Dsl.Backends.ServingFile;

namespace MlModel.Dsl.Serving.TensorFlow;

/// <summary>
/// The engine's <see cref="IServingBackend"/> over <see cref="TensorFlowServing"/>: maps its
/// errors to <see cref="MlModelException"/> and serialises deploys and stops of one serving
/// name within the process (the config lock already serialises them across processes).
/// With <see cref="TensorFlowServingOptions.RestAddress"/> it also predicts
/// (<see cref="IServingPredictor"/>) through TensorFlow Serving's REST metadata and predict APIs.
/// </summary>
public sealed class TensorFlowServingBackend : IServingBackend, IServingPredictor, IDisposable
{
    private readonly TensorFlowServing _serving;
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _gates = new(StringComparer.Ordinal);

    /// <summary>TensorFlow Serving loads SavedModel directories (tensorflow_serving/g3doc/serving_basic.md), nothing else.</summary>
    public ServingCapabilities Capabilities { get; } = new("TensorFlow Serving", ["tf"], ["saved_model"], "tf SavedModels", "SavedModels");

    /// <summary>A backend for the model root and config file in <paramref name="options"/>.</summary>
    public TensorFlowServingBackend(TensorFlowServingOptions options)
    {
        _serving = new TensorFlowServing(options);
        ReportsServerState = options.RestAddress is not null;
    }

    /// <summary>A backend that talks to the server with the caller's <paramref name="httpClient"/>.</summary>
    public TensorFlowServingBackend(TensorFlowServingOptions options, HttpClient httpClient)
    {
        _serving = new TensorFlowServing(options, httpClient);
        ReportsServerState = options.RestAddress is not null;
    }

    /// <summary>Whether status asks the server: only with <see cref="TensorFlowServingOptions.RestAddress"/>.</summary>
    public bool ReportsServerState { get; }

    /// <inheritdoc/>
    public async Task DeployAsync(string servingName, int version, string? label, IReadOnlyList<CoreServingFile> files, CancellationToken cancellationToken = default)
    {
        // Before anything is written, in the user's words; TensorFlowServing checks it again, as for every call.
        if (Encoding.UTF8.GetByteCount(servingName) > TensorFlowServing.MaxServingNameBytes)
        {
            throw new MlModelException(ErrorCodes.Unsupported,
                $"the serving name {servingName} is {Encoding.UTF8.GetByteCount(servingName)} bytes long in UTF-8; this library allows at most {TensorFlowServing.MaxServingNameBytes} (the name is a folder of the serving root): use a shorter model name");
        }
        var mapped = files.Select(f => new ServingFile(f.RelativePath, f.Length, f.LocalPath, f.Open)).ToList();
        await WithGateAsync(servingName, () => _serving.DeployAsync(servingName, version, label, mapped, cancellationToken), cancellationToken);
    }

    /// <inheritdoc/>
    public Task StopAsync(string servingName, int version, CancellationToken cancellationToken = default) =>
        WithGateAsync(servingName, async () =>
        {
            await _serving.StopAsync(servingName, version, cancellationToken);
            return 0;
        }, cancellationToken);

    /// <inheritdoc/>
    public async Task<IReadOnlyList<ServingVersionStatus>> GetStatusAsync(string servingName, CancellationToken cancellationToken = default)
    {
        TensorFlowServingStatus status;
        try
        {
            status = await _serving.GetStatusAsync(servingName, cancellationToken);
        }
        catch (TensorFlowServingException e)
        {
            throw Map(e);
        }
        var versions = new SortedSet<long>();
        if (status.Config is { } config)
        {
            versions.UnionWith(config.Versions);
        }
        versions.UnionWith(status.PublishedVersions);
        if (status.ServerVersions is { } server)
        {
            versions.UnionWith(server.Select(s => s.Version));
        }
        // When the server was asked but gave no list (unreachable, or it knows no version of the
        // model), its answer is every version's message: the state stays unknown, never guessed.
        var unanswered = status.ServerVersions is null ? status.ServerError : null;
        return versions.Select(v =>
        {
            var inConfig = status.Config?.Versions.Contains(v) == true;
            var labels = status.Config?.Labels.Where(kv => kv.Value == v).Select(kv => kv.Key).Order(StringComparer.Ordinal).ToList() ?? [];
            var s = status.ServerVersions?.FirstOrDefault(x => x.Version == v);
            return new ServingVersionStatus(checked((int)v), inConfig, labels,
                s is null ? null : s.State.ToString().ToUpperInvariant(),
                s is { HasError: true } ? s.ErrorMessage : unanswered);
        }).ToList();
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyDictionary<string, IReadOnlyList<int>>> GetDeployedAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            var deployed = await _serving.GetDeployedVersionsAsync(cancellationToken);
            return deployed.ToDictionary(d => d.ServingName, d => (IReadOnlyList<int>)d.Versions.Select(v => checked((int)v)).ToList(), StringComparer.Ordinal);
        }
        catch (TensorFlowServingException e)
        {
            throw Map(e);
        }
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<ServingEntry>> GetManagedAsync(CancellationToken cancellationToken = default)
    {
        IReadOnlyList<DeployedModel> deployed;
        try
        {
            deployed = await _serving.GetDeployedVersionsAsync(cancellationToken);
        }
        catch (TensorFlowServingException e)
        {
            throw Map(e);
        }
        var entries = new SortedDictionary<string, ServingEntry>(StringComparer.Ordinal);
        foreach (var d in deployed.Where(d => d.Managed))
        {
            entries[d.ServingName] = new ServingEntry(
                d.ServingName,
                d.Versions.Select(v => checked((int)v)).ToList(),
                d.Labels.ToDictionary(kv => kv.Key, kv => checked((int)kv.Value), StringComparer.Ordinal),
                _serving.GetPublishedVersions(d.ServingName).Select(v => checked((int)v)).ToList());
        }
        foreach (var name in _serving.GetPublishedServingNames().Where(n => !entries.ContainsKey(n)))
        {
            entries[name] = new ServingEntry(name, [], new Dictionary<string, int>(StringComparer.Ordinal),
                _serving.GetPublishedVersions(name).Select(v => checked((int)v)).ToList());
        }
        return entries.Values.ToList();
    }

    /// <inheritdoc/>
    public Task SetLabelsAsync(string servingName, IReadOnlyDictionary<string, int> labels, CancellationToken cancellationToken = default) =>
        WithGateAsync(servingName, () => _serving.SetLabelsAsync(servingName, labels.ToDictionary(kv => kv.Key, kv => (long)kv.Value, StringComparer.Ordinal), cancellationToken), cancellationToken);

    /// <inheritdoc/>
    public async Task<IReadOnlyList<string>> FindLeftoversAsync(bool remove, CancellationToken cancellationToken = default)
    {
        try
        {
            return await _serving.FindLeftoversAsync(remove, cancellationToken);
        }
        catch (TensorFlowServingException e)
        {
            throw Map(e);
        }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Without a version, the latest version the model status API reports AVAILABLE; its
    /// <c>serving_default</c> signature from the model metadata API
    /// (<c>GET /v1/models/&lt;name&gt;/versions/&lt;N&gt;/metadata</c>). Needs
    /// <see cref="TensorFlowServingOptions.RestAddress"/>: without it, <see cref="ErrorCodes.Unsupported"/>.
    /// </remarks>
    public async Task<ServingSignature> GetSignatureAsync(string servingName, int? version, CancellationToken cancellationToken = default) =>
        await Predictor.GetSignatureAsync(servingName, version, cancellationToken);

    /// <inheritdoc/>
    /// <remarks>
    /// One <c>POST /v1/models/&lt;name&gt;[/versions/&lt;N&gt;]:predict</c> in the row format
    /// (<c>{"instances": [...]}</c>; objects of named inputs when an input has a name), on the
    /// backend's pooled connections; safe to call with many batches in flight. Needs
    /// <see cref="TensorFlowServingOptions.RestAddress"/>: without it, <see cref="ErrorCodes.Unsupported"/>.
    /// </remarks>
    public async Task<IReadOnlyList<PredictOutput>> PredictAsync(PredictBatch batch, CancellationToken cancellationToken = default) =>
        await Predictor.PredictAsync(batch, cancellationToken);

    /// <inheritdoc/>
    public void Dispose()
    {
        _serving.Dispose();
        foreach (var gate in _gates.Values)
        {
            gate.Dispose();
        }
    }

    // Unsupported rather than backend: nothing failed, and nothing will work until the host gives the address.
    private IServingPredictor Predictor => _serving.Predictor ?? throw new MlModelException(ErrorCodes.Unsupported,
        "no TensorFlow Serving REST address is configured (--serving-url, TensorFlowServingOptions.RestAddress); "
        + "the model's signature and predictions come from TensorFlow Serving's REST API");

    private async Task<T> WithGateAsync<T>(string servingName, Func<Task<T>> run, CancellationToken cancellationToken)
    {
        var gate = _gates.GetOrAdd(servingName, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            return await run();
        }
        catch (TensorFlowServingException e)
        {
            throw Map(e);
        }
        finally
        {
            gate.Release();
        }
    }

    // The engine places the error in the command that ran into it (mlmodel deploy, serving status).
    private static MlModelException Map(TensorFlowServingException e)
    {
        var code = e.Kind switch
        {
            TensorFlowServingErrorKind.InvalidArgument => ErrorCodes.InvalidValue,
            TensorFlowServingErrorKind.ConfigInvalid or TensorFlowServingErrorKind.NotDeployed
                or TensorFlowServingErrorKind.LabelNeedsAvailableVersion => ErrorCodes.Conflict,
            _ => ErrorCodes.Backend,
        };
        var message = e.Message;
        if (e.ServerMessage is { Length: > 0 } server && !message.Contains(server, StringComparison.Ordinal))
        {
            message += "; TensorFlow Serving says: " + server;
        }
        return new MlModelException(code, message, e);
    }
}
