using System.Collections.Concurrent;
using System.Text;
using MlModel.Dsl.Backends;
using CoreServingFile = MlModel.Dsl.Backends.ServingFile;

namespace MlModel.Dsl.Serving.TensorFlow;

/// <summary>
/// The engine's <see cref="IServingBackend"/> over <see cref="TensorFlowServing"/>: maps its
/// errors to <see cref="MlModelException"/> and serialises deploys and stops of one serving
/// name within the process (the config lock already serialises them across processes).
/// </summary>
public sealed class TensorFlowServingBackend : IServingBackend, IDisposable
{
    // TensorFlow Serving's base path is <root>/<serving name>/<version>; the publisher keeps
    // temporary sibling folders next to it, so the name must leave room in a 255-byte file name.
    private const int MaxServingNameBytes = 190;

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
        if (Encoding.UTF8.GetByteCount(servingName) > MaxServingNameBytes)
        {
            throw new MlModelException(ErrorCodes.Unsupported,
                $"mlmodel deploy: the serving name {servingName} is {Encoding.UTF8.GetByteCount(servingName)} bytes long in UTF-8; TensorFlow Serving's model folders allow at most {MaxServingNameBytes}: use a shorter model name");
        }
        var mapped = files.Select(f => new ServingFile(f.RelativePath, f.Length, f.LocalPath, f.Open)).ToList();
        await WithGateAsync(servingName, () => _serving.DeployAsync(servingName, version, label, mapped, cancellationToken), "deploy", cancellationToken);
    }

    /// <inheritdoc/>
    public Task StopAsync(string servingName, int version, CancellationToken cancellationToken = default) =>
        WithGateAsync(servingName, async () =>
        {
            await _serving.StopAsync(servingName, version, cancellationToken);
            return 0;
        }, "stop", cancellationToken);

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
            throw Map(e, "status");
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
        return versions.Select(v =>
        {
            var inConfig = status.Config?.Versions.Contains(v) == true;
            var labels = status.Config?.Labels.Where(kv => kv.Value == v).Select(kv => kv.Key).Order(StringComparer.Ordinal).ToList() ?? [];
            var s = status.ServerVersions?.FirstOrDefault(x => x.Version == v);
            return new ServingVersionStatus(checked((int)v), inConfig, labels,
                s is null ? null : s.State.ToString().ToUpperInvariant(),
                // A version the server gave no status for carries the server's answer for the model
                // (unreachable, or no such model yet), so that status can say why it is unknown.
                s is { HasError: true } ? s.ErrorMessage : s is null ? status.ServerError : null);
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
            throw Map(e, "check");
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
            throw Map(e, "check");
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
        WithGateAsync(servingName, () => _serving.SetLabelsAsync(servingName, labels.ToDictionary(kv => kv.Key, kv => (long)kv.Value, StringComparer.Ordinal), cancellationToken), "check", cancellationToken);

    /// <inheritdoc/>
    public async Task<IReadOnlyList<string>> FindLeftoversAsync(bool remove, CancellationToken cancellationToken = default)
    {
        try
        {
            return await _serving.FindLeftoversAsync(remove, cancellationToken);
        }
        catch (TensorFlowServingException e)
        {
            throw Map(e, "check");
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _serving.Dispose();
        foreach (var gate in _gates.Values)
        {
            gate.Dispose();
        }
    }

    private async Task<T> WithGateAsync<T>(string servingName, Func<Task<T>> run, string operation, CancellationToken cancellationToken)
    {
        var gate = _gates.GetOrAdd(servingName, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(cancellationToken);
        try
        {
            return await run();
        }
        catch (TensorFlowServingException e)
        {
            throw Map(e, operation);
        }
        finally
        {
            gate.Release();
        }
    }

    private static MlModelException Map(TensorFlowServingException e, string operation)
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
        return new MlModelException(code, $"mlmodel {operation}: {message}", e);
    }
}
