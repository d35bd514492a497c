using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using MlModel.Dsl.Serving.TensorFlow.Config;

namespace MlModel.Dsl.Serving.TensorFlow.Tests;

/// <summary>
/// A stand-in for tensorflow_model_server started with --model_config_file=&lt;file&gt;
/// --model_config_file_poll_wait_seconds=N --rest_api_port=P. It re-reads the config file every
/// <see cref="ConfigPollInterval"/> and drives each configured version through the states of
/// apis/get_model_status.proto (START → LOADING → AVAILABLE, or END with an error), and answers
/// the model status REST API as documented in tensorflow_serving/g3doc/api_rest.md:
/// <list type="bullet">
/// <item><c>GET /v1/models/{name}/labels/{label}/metadata</c> → GetModelMetadataResponse whose model_spec.version
/// is the labelled version.</item>
/// <item><c>GET /v1/models/{name}[/versions/{v}|/labels/{label}]</c> → 200 with the JSON of
/// GetModelStatusResponse, laid out like the doc's curl example (MessageToJsonString with
/// add_whitespace and always_print_primitive_fields, http_rest_api_handler.cc).</item>
/// <item>errors → <c>{ "error": "..." }</c>; NOT_FOUND is 404 ("Could not find any versions of model X",
/// "Could not find version N of model X", get_model_status_impl.cc); an unknown label is
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

    // ---- the REST API ----

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            catch (InvalidOperationException) when (_stop.IsCancellationRequested)
            {
                // DisposeAsync stopped the listener before this loop's first accept ("Not listening").
                return;
            }

            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var head = await ReadHeadAsync(stream);
                if (head is null)
                {
                    return;
                }

                var requestLine = head.Split("\r\n")[0].Split(' ');
                var (status, body) = Handle(requestLine[0], requestLine[1]);
                var bytes = Encoding.UTF8.GetBytes(body);
                var reason = status switch { 200 => "OK", 404 => "Not Found", _ => "Bad Request" };
                var header = $"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {bytes.Length}\r\nConnection: close\r\n\r\n";
                await stream.WriteAsync(Encoding.ASCII.GetBytes(header));
                await stream.WriteAsync(bytes);
            }
            catch (IOException)
            {
            }
        }
    }

    private static async Task<string?> ReadHeadAsync(NetworkStream stream)
    {
        var buffer = new byte[8192];
        var total = 0;
        while (total < buffer.Length)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(total));
            if (n == 0)
            {
                return null;
            }

            total += n;
            var text = Encoding.ASCII.GetString(buffer, 0, total);
            if (text.Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                return text;
            }
        }

        return null;
    }

    /// <summary>
    /// Routes a request as model_servers/http_rest_api_util.cc does: the raw path (still
    /// percent-encoded) must fully match kModelStatusApiRegex, whose model name and label are
    /// <c>[^/:]+</c>, and only then are those two segments URL-decoded (DecodeArg, which is
    /// curl_easy_unescape: %XX to a byte, '+' left as it is). So a label holding '/' or ':' reaches
    /// the server only encoded, and the decoded bytes are the label, compared with the config's.
    /// </summary>
    internal (int Status, string Body) Handle(string method, string rawPath)
    {
        var path = rawPath.Split('?')[0];
        var route = method == "GET" ? StatusRoute().Match(path) : System.Text.RegularExpressions.Match.Empty;
        if (!route.Success || !route.Groups[1].Success)
        {
            return (400, Error($"Malformed request: {method} {rawPath}"));
        }

        if (!UrlDecode(route.Groups[1].Value, out var model))
        {
            return (400, Error($"Failed to decode model name:{route.Groups[1].Value}"));
        }

        long? version = route.Groups[2].Success ? long.Parse(route.Groups[2].Value, NumberStyles.None, CultureInfo.InvariantCulture) : null;
        string? label = null;
        if (route.Groups[3].Success)
        {
            if (!LabelRoutes)
            {
                return (400, Error($"Malformed request: {method} {rawPath}"));
            }

            if (!UrlDecode(route.Groups[3].Value, out label))
            {
                return (400, Error($"Failed to decode model version label:{route.Groups[3].Value}"));
            }

            RequestedLabels.Enqueue(label);
        }

        var metadata = route.Groups[4].Success;
        lock (_gate)
        {
            var versions = _servables.Where(kv => kv.Key.Model == model).OrderBy(kv => kv.Key.Version).ToList();
            if (metadata && label is not null)
            {
                if (!_labels.TryGetValue(model, out var labels) || !labels.TryGetValue(label, out var labelled))
                {
                    return (400, Error($"Unrecognized servable version label: {label}"));
                }

                // GetModelMetadataResponse: model_spec carries the version the label resolved to
                // (get_model_metadata_impl.cc); the signature map is abridged here.
                return (200, $$"""
                    {
                     "model_spec": {
                      "name": {{JsonSerializer.Serialize(model)}},
                      "signature_name": "",
                      "version": "{{labelled.ToString(CultureInfo.InvariantCulture)}}"
                     },
                     "metadata": {
                      "signature_def": {
                       "signature_def": {}
                      }
                     }
                    }
                    """);
            }

            if (metadata)
            {
                return (400, Error($"Malformed request: {method} {rawPath}"));
            }

            if (version is { } v)
            {
                return _servables.TryGetValue((model, v), out var s)
                    ? (200, StatusJson([(v, s)]))
                    : (404, Error($"Could not find version {v} of model {model}"));
            }

            // No version, or a label: GetModelStatus ignores the label and answers for every
            // version (get_model_status_impl.cc).
            return versions.Count == 0
                ? (404, Error($"Could not find any versions of model {model}"))
                : (200, StatusJson(versions.Select(kv => (kv.Key.Version, kv.Value))));
        }
    }

    /// <summary>Every label the REST API was asked about, as the server decoded it, in order.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> RequestedLabels { get; } = new();

    // kModelStatusApiRegex, as RE2::FullMatch applies it ((?i): the words in any case).
    [System.Text.RegularExpressions.GeneratedRegex(@"^/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?(?:/(metadata))?$",
        System.Text.RegularExpressions.RegexOptions.IgnoreCase | System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex StatusRoute();

    /// <summary>curl_easy_unescape: each %XX becomes its byte, everything else stays; the bytes are read as UTF-8.</summary>
    private static bool UrlDecode(string segment, out string decoded)
    {
        var bytes = new List<byte>(segment.Length);
        for (var i = 0; i < segment.Length; i++)
        {
            if (segment[i] == '%' && i + 2 < segment.Length
                && byte.TryParse(segment.AsSpan(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var b))
            {
                bytes.Add(b);
                i += 2;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(segment[i].ToString()));
            }
        }

        try
        {
            decoded = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString([.. bytes]);
            return true;
        }
        catch (DecoderFallbackException)
        {
            decoded = segment;
            return false;
        }
    }

    private static string Error(string message) => "{ \"error\": " + JsonSerializer.Serialize(message) + " }";

    private static string StatusJson(IEnumerable<(long Version, Servable Servable)> versions)
    {
        var sb = new StringBuilder("{\n \"model_version_status\": [");
        var first = true;
        foreach (var (version, s) in versions)
        {
            sb.Append(first ? "\n" : ",\n");
            first = false;
            sb.Append("  {\n")
              .Append("   \"version\": \"").Append(version.ToString(CultureInfo.InvariantCulture)).Append("\",\n")
              .Append("   \"state\": \"").Append(s.State.ToString().ToUpperInvariant()).Append("\",\n")
              .Append("   \"status\": {\n")
              .Append("    \"error_code\": \"").Append(s.ErrorCode).Append("\",\n")
              .Append("    \"error_message\": ").Append(JsonSerializer.Serialize(s.ErrorMessage)).Append('\n')
              .Append("   }\n")
              .Append("  }");
        }

        return sb.Append("\n ]\n}\n").ToString();
    }
}
