using System.Globalization;
using System.Net;
using System.Net.Sockets;
using MlModel.Dsl.Serving.TensorFlow.Config;

namespace MlModel.Dsl.Serving.TensorFlow.Tests;

/// <summary>
/// A stand-in for tensorflow_model_server started with --model_config_file=&lt;file&gt;
/// --model_config_file_poll_wait_seconds=N --rest_api_port=P. It re-reads the config file every
/// <see cref="ConfigPollInterval"/> and drives each configured version through the states of
/// apis/get_model_status.proto (START → LOADING → AVAILABLE, or END with an error), and answers
/// the REST API as documented in tensorflow_serving/g3doc/api_rest.md and as
/// model_servers/http_rest_api_handler.cc implements it (FakeTensorFlowServing.Http.cs and
/// FakeTensorFlowServing.Predict.cs):
/// <list type="bullet">
/// <item><c>GET /v1/models/{name}[/versions/{v}|/labels/{label}]</c> → 200 with the JSON of
/// GetModelStatusResponse, laid out like the doc's curl example (MessageToJsonString with
/// add_whitespace and always_print_primitive_fields, http_rest_api_handler.cc).</item>
/// <item><c>GET /v1/models/{name}[/versions/{v}|/labels/{label}]/metadata</c> →
/// GetModelMetadataResponse: model_spec (its version the one served) and the signatures of the
/// <see cref="FakeModel"/> the name stands for (<see cref="Models"/>).</item>
/// <item><c>POST /v1/models/{name}[/versions/{v}|/labels/{label}]:predict</c> → that model run on
/// "instances" (row format, answered as "predictions") or "inputs" (columnar, answered as
/// "outputs").</item>
/// <item>errors → <c>{"error": "..."}</c> with the HTTP status of the error's code; NOT_FOUND is 404
/// ("Could not find any versions of model X", "Could not find version N of model X",
/// get_model_status_impl.cc; "Servable not found for request: Latest(X)"); an unknown label is
/// INVALID_ARGUMENT (400) "Unrecognized servable version label: X" (server_core.cc).</item>
/// </list>
/// Like ServerCore::ReloadConfig → UpdateModelVersionLabelMap, a config whose labels point at a
/// version that is not AVAILABLE is refused whole ("Request to assign label to version N of model
/// X, which is not currently available for inference"): nothing of it is applied, and the refusal
/// is recorded in <see cref="RejectedConfigs"/>. Like the file system source
/// (file_system_storage_path_source.cc), only numeric child folders of base_path are versions,
/// and a configured version without a folder is not loaded (no status: 404).
/// A version folder without saved_model.pb ends in END with NOT_FOUND, as the SavedModel loader fails.
/// </summary>
internal sealed partial class FakeTensorFlowServing : IAsyncDisposable
{
    private readonly string _configFile;
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly Dictionary<(string Model, long Version), Servable> _servables = [];
    private readonly Dictionary<string, Dictionary<string, long>> _labels = [];
    private readonly List<string> _rejected = [];
    private readonly Task _acceptLoop;
    private readonly Task _pollLoop;

    public FakeTensorFlowServing(string configFile)
    {
        _configFile = configFile;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Address = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");
        _acceptLoop = Task.Run(AcceptLoopAsync);
        _pollLoop = Task.Run(PollLoopAsync);
    }

    public Uri Address { get; }

    /// <summary>--model_config_file_poll_wait_seconds, scaled down.</summary>
    public TimeSpan ConfigPollInterval { get; set; } = TimeSpan.FromMilliseconds(40);

    /// <summary>START → LOADING (and UNLOADING → END).</summary>
    public TimeSpan StartDelay { get; set; } = TimeSpan.FromMilliseconds(40);

    /// <summary>LOADING → AVAILABLE (or END on a load error).</summary>
    public TimeSpan LoadDelay { get; set; } = TimeSpan.FromMilliseconds(80);

    /// <summary>Model names (or "name/version") that stay LOADING forever.</summary>
    public HashSet<string> NeverAvailable { get; } = [];

    /// <summary>ServerCore::Options::allow_version_labels; when false a config with labels is refused whole.</summary>
    public bool AllowVersionLabels { get; set; } = true;

    /// <summary>A folder mounted into the server's file system (a container's <c>-v local:server</c>): (server path, local path).</summary>
    public (string Server, string Local)? Mount { get; set; }

    private string Mounted(string path) =>
        Mount is var (server, local) && path.StartsWith(server + "/", StringComparison.Ordinal)
            ? Path.Combine(local, path[(server.Length + 1)..])
            : path;

    /// <summary>--allow_version_labels_for_unavailable_models: a new label may point at a version not yet AVAILABLE.</summary>
    public bool AllowVersionLabelsForUnavailableModels { get; set; }

    /// <summary>False: answer label routes with "Malformed request", as servers before the /labels/ routes did.</summary>
    public bool LabelRoutes { get; set; } = true;

    public IReadOnlyList<string> RejectedConfigs
    {
        get
        {
            lock (_gate)
            {
                return [.. _rejected];
            }
        }
    }

    public int ConfigReloads { get; private set; }

    public IReadOnlyDictionary<string, long> LabelsOf(string model)
    {
        lock (_gate)
        {
            return _labels.TryGetValue(model, out var l) ? new Dictionary<string, long>(l) : [];
        }
    }

    public ModelVersionState? StateOf(string model, long version)
    {
        lock (_gate)
        {
            return _servables.TryGetValue((model, version), out var s) ? s.State : null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        CloseConnections();
        try
        {
            await Task.WhenAll(_acceptLoop, _pollLoop);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        _stop.Dispose();
    }

    // ---- the server core: config polling and the servable state machine ----

    private async Task PollLoopAsync()
    {
        string? lastRejected = null;
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                Tick(ref lastRejected);
            }
            catch (IOException)
            {
                // The file is being replaced: read it on the next poll, as the real server would.
            }

            try
            {
                await Task.Delay(ConfigPollInterval, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private void Tick(ref string? lastRejected)
    {
        var text = File.Exists(_configFile) ? File.ReadAllText(_configFile) : null;
        lock (_gate)
        {
            Advance();
            if (text is null)
            {
                return;
            }

            ModelServerConfigDocument doc;
            try
            {
                doc = ModelServerConfigDocument.Parse(text);
            }
            catch (TensorFlowServingException e)
            {
                Reject(e.Message, ref lastRejected);
                return;
            }

            if (doc.Root.Message("model_config_list") is null)
            {
                return; // "Taking no action for empty config."
            }

            // UpdateModelVersionLabelMap: every label must point at an AVAILABLE version, and labels
            // must be allowed at all (ServerCore::Options::allow_version_labels).
            if (!AllowVersionLabels && doc.Models.Any(m => m.Labels.Count > 0))
            {
                Reject("Model version labels are not currently allowed by the server.", ref lastRejected);
                return;
            }

            var newLabels = new Dictionary<string, Dictionary<string, long>>();
            foreach (var model in doc.Models)
            {
                var name = model.Name ?? string.Empty;
                foreach (var (label, version) in model.Labels)
                {
                    // --allow_version_labels_for_unavailable_models (server_core.cc, UpdateModelVersionLabelMap):
                    // a label may point at a version still loading unless the model has it on another
                    // version already ("contains_existing_label_with_different_version"): moving one may not.
                    var moves = _labels.TryGetValue(name, out var current) && current.TryGetValue(label, out var existing) && existing != version;
                    if ((!_servables.TryGetValue((name, version), out var s) || s.State != ModelVersionState.Available)
                        && !(AllowVersionLabelsForUnavailableModels && !moves))
                    {
                        Reject($"Request to assign label to version {version} of model {name}, which is not currently available for inference", ref lastRejected);
                        return;
                    }

                    (newLabels.TryGetValue(name, out var l) ? l : newLabels[name] = [])[label] = version;
                }
            }

            lastRejected = null;
            ConfigReloads++;
            _labels.Clear();
            foreach (var (k, v) in newLabels)
            {
                _labels[k] = v;
            }

            // Aspired versions: configured ones whose numeric folder exists under base_path.
            var aspired = new Dictionary<(string, long), string>();
            foreach (var model in doc.Models)
            {
                var name = model.Name ?? string.Empty;
                foreach (var version in model.SpecificVersions)
                {
                    var path = Path.Combine(Mounted(model.BasePath ?? string.Empty), version.ToString(CultureInfo.InvariantCulture));
                    if (Directory.Exists(path))
                    {
                        aspired[(name, version)] = path;
                    }
                }
            }

            var now = DateTime.UtcNow;
            foreach (var (key, path) in aspired)
            {
                if (!_servables.TryGetValue(key, out var s) || (s.State == ModelVersionState.End && !s.Aspired))
                {
                    _servables[key] = new Servable { Path = path, State = ModelVersionState.Start, Since = now, Aspired = true };
                }
            }

            foreach (var (key, s) in _servables)
            {
                if (!aspired.ContainsKey(key) && s.Aspired)
                {
                    s.Aspired = false;
                    if (s.State != ModelVersionState.End)
                    {
                        s.State = ModelVersionState.Unloading;
                        s.Since = now;
                    }
                }
            }

            Advance();
        }
    }

    private void Reject(string message, ref string? lastRejected)
    {
        if (message != lastRejected)
        {
            _rejected.Add(message);
            lastRejected = message;
        }
    }

    private void Advance()
    {
        var now = DateTime.UtcNow;
        foreach (var ((model, version), s) in _servables)
        {
            switch (s.State)
            {
                case ModelVersionState.Start when now - s.Since >= StartDelay:
                    s.State = ModelVersionState.Loading;
                    s.Since = now;
                    break;
                case ModelVersionState.Loading when now - s.Since >= LoadDelay:
                    if (NeverAvailable.Contains(model) || NeverAvailable.Contains($"{model}/{version}"))
                    {
                        break;
                    }

                    if (!File.Exists(Path.Combine(s.Path, "saved_model.pb")) && !File.Exists(Path.Combine(s.Path, "saved_model.pbtxt")))
                    {
                        s.State = ModelVersionState.End;
                        s.ErrorCode = "NOT_FOUND";
                        s.ErrorMessage = $"Could not find SavedModel .pb or .pbtxt at supplied export directory path: {s.Path}";
                    }
                    else
                    {
                        s.State = ModelVersionState.Available;
                    }

                    s.Since = now;
                    break;
                case ModelVersionState.Unloading when now - s.Since >= StartDelay:
                    s.State = ModelVersionState.End;
                    s.Since = now;
                    break;
            }
        }
    }

    private sealed class Servable
    {
        public required string Path { get; init; }

        public ModelVersionState State { get; set; }

        public DateTime Since { get; set; }

        public bool Aspired { get; set; }

        public string ErrorCode { get; set; } = "OK";

        public string ErrorMessage { get; set; } = string.Empty;
    }

}
