using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace MlModel.Dsl.Serving.TensorFlow.Rest;

/// <summary>An HTTP answer of the model status API, parsed.</summary>
/// <param name="StatusCode">The HTTP status (0 when the server could not be reached).</param>
/// <param name="Versions">model_version_status entries on success.</param>
/// <param name="Error">The <c>error</c> body, or the transport failure.</param>
internal sealed record ModelStatusResponse(HttpStatusCode StatusCode, IReadOnlyList<ServedVersionStatus>? Versions, string? Error)
{
    public bool Succeeded => Versions is not null;
}

/// <summary>
/// Client of TensorFlow Serving's model status REST API (tensorflow_serving/g3doc/api_rest.md,
/// "Model status API"): <c>GET /v1/models/${MODEL_NAME}[/versions/${VERSION}|/labels/${LABEL}]</c>
/// returns the JSON form of GetModelStatusResponse (apis/get_model_status.proto):
/// <c>{"model_version_status": [{"version": "123", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}</c>
/// — <c>version</c> is an int64, hence a JSON string; <c>state</c> is the State enum name;
/// <c>status</c> is StatusProto (apis/status.proto) with the error.Code enum name.
/// Errors come back as <c>{ "error": "&lt;message&gt;" }</c> ("In case of error, all APIs will
/// return a JSON object in the response body with error as key and the error message as the
/// value"); an unknown model or version is NOT_FOUND, HTTP 404 (get_model_status_impl.cc:
/// "Could not find any versions of model X", "Could not find version N of model X").
/// </summary>
internal sealed partial class TensorFlowServingRestClient
{
    private readonly HttpClient _http;
    private readonly Uri _baseAddress;

    public TensorFlowServingRestClient(HttpClient http, Uri baseAddress)
    {
        _http = http;
        var text = baseAddress.ToString();
        _baseAddress = new Uri(text.EndsWith('/') ? text : text + "/", UriKind.Absolute);
    }

    public Uri BaseAddress => _baseAddress;

    /// <summary>The client requests go through (shared, thread-safe).</summary>
    internal HttpClient Http => _http;

    public async Task<ModelStatusResponse> GetModelStatusAsync(string modelName, long? version = null, CancellationToken cancellationToken = default)
    {
        var address = version is { } v
            ? Route(modelName, "versions", v.ToString(CultureInfo.InvariantCulture))
            : Route(modelName);

        HttpResponseMessage response;
        try
        {
            response = await _http.GetAsync(address, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            return new ModelStatusResponse(0, null, $"TensorFlow Serving at {_baseAddress} is not reachable: {e.Message}");
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            return new ModelStatusResponse(0, null, $"TensorFlow Serving at {_baseAddress} did not answer in time: {e.Message}");
        }

        using (response)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                try
                {
                    return new ModelStatusResponse(response.StatusCode, ParseStatus(body), null);
                }
                catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or KeyNotFoundException)
                {
                    return new ModelStatusResponse(response.StatusCode, null, $"unexpected model status answer: {Truncate(body)}");
                }
            }

            return new ModelStatusResponse(response.StatusCode, null, ParseError(body) ?? $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
        }
    }

    /// <summary>
    /// Polls <c>/v1/models/{name}/versions/{version}</c> until the version is AVAILABLE. Until the server
    /// has re-read its config the version is unknown (404) or still reports a previous END: both count as
    /// "not yet". <paramref name="stale"/> is the state seen before the config change; an END equal to it is
    /// not taken as this load's outcome. END with an error status fails at once with the server's message.
    /// </summary>
    public async Task<ServedVersionStatus> WaitForAvailableAsync(
        string modelName, long version, TimeSpan timeout, TimeSpan pollInterval, ServedVersionStatus? stale = null, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        string last = "no answer yet";
        var sawChange = stale is null;
        while (true)
        {
            var response = await GetModelStatusAsync(modelName, version, cancellationToken);
            if (response.Versions is { } versions)
            {
                var status = versions.FirstOrDefault(s => s.Version == version);
                if (status is null)
                {
                    last = "the server listed no status for it";
                }
                else
                {
                    if (status.State == ModelVersionState.Available)
                    {
                        return status;
                    }

                    sawChange |= status != stale;
                    last = Describe(status);
                    if (status.State == ModelVersionState.End && status.HasError && sawChange)
                    {
                        throw new TensorFlowServingException(
                            TensorFlowServingErrorKind.LoadFailed,
                            $"TensorFlow Serving failed to load version {version} of {modelName}: {status.ErrorCode}: {status.ErrorMessage}")
                        {
                            ServerMessage = status.ErrorMessage,
                        };
                    }
                }
            }
            else
            {
                sawChange |= response.StatusCode == HttpStatusCode.NotFound;
                last = response.StatusCode == HttpStatusCode.NotFound
                    ? $"not found ({response.Error})"
                    : response.Error ?? "no answer";
            }

            if (clock.Elapsed >= timeout)
            {
                throw new TensorFlowServingException(
                    TensorFlowServingErrorKind.Timeout,
                    $"Version {version} of {modelName} did not become AVAILABLE on TensorFlow Serving within {timeout.TotalSeconds:0.###} s; last state: {last}.")
                {
                    ServerMessage = last,
                };
            }

            var remaining = timeout - clock.Elapsed;
            await Task.Delay(remaining < pollInterval ? (remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero) : pollInterval, cancellationToken);
        }
    }

    /// <summary>
    /// The version a label resolves to on the server, from the model metadata API
    /// (<c>GET /v1/models/{name}/labels/{label}/metadata</c>, api_rest.md "Model Metadata API"): its
    /// response's <c>model_spec.version</c> is the version of the servable the label selected
    /// (get_model_metadata_impl.cc sets it from the servable handle's id). The status API cannot be
    /// used for this: GetModelStatus ignores a label and lists every version (get_model_status_impl.cc).
    /// </summary>
    public async Task<(long? Version, HttpStatusCode StatusCode, string? Error)> GetLabelVersionAsync(string modelName, string label, CancellationToken cancellationToken = default)
    {
        HttpResponseMessage response;
        try
        {
            response = await _http.GetAsync(Route(modelName, "labels", label, "metadata"), cancellationToken);
        }
        catch (HttpRequestException e)
        {
            return (null, 0, $"TensorFlow Serving at {_baseAddress} is not reachable: {e.Message}");
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, 0, $"TensorFlow Serving at {_baseAddress} did not answer in time: {e.Message}");
        }

        using (response)
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                return (null, response.StatusCode, ParseError(body) ?? $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            }

            try
            {
                using var document = JsonDocument.Parse(body);
                var v = document.RootElement.GetProperty("model_spec").GetProperty("version");
                var version = v.ValueKind == JsonValueKind.String
                    ? long.Parse(v.GetString()!, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture)
                    : v.ValueKind == JsonValueKind.Object ? v.GetProperty("value").GetInt64() : v.GetInt64();
                return (version, response.StatusCode, null);
            }
            catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or KeyNotFoundException)
            {
                return (null, response.StatusCode, $"unexpected model metadata answer: {Truncate(body)}");
            }
        }
    }

    /// <summary>
    /// Polls <see cref="GetLabelVersionAsync"/> until the server resolves <paramref name="label"/> to
    /// <paramref name="version"/> (it does once it has reloaded the config). An unknown label is
    /// INVALID_ARGUMENT "Unrecognized servable version label: X" (server_core.cc): "not yet". Returns
    /// false when the server has no label routes (servers before them answer "Malformed request").
    /// </summary>
    public async Task<bool> WaitForLabelAsync(string modelName, string label, long version, TimeSpan timeout, TimeSpan pollInterval, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        string last = "no answer yet";
        while (true)
        {
            var (resolved, _, error) = await GetLabelVersionAsync(modelName, label, cancellationToken);
            if (resolved == version)
            {
                return true;
            }

            if (error is not null && error.Contains("Malformed request", StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }

            last = resolved is { } other
                ? "it points at version " + other.ToString(CultureInfo.InvariantCulture)
                : error ?? "no answer";

            if (clock.Elapsed >= timeout)
            {
                throw new TensorFlowServingException(
                    TensorFlowServingErrorKind.Timeout,
                    $"TensorFlow Serving did not apply label '{label}' to version {version} of {modelName} within {timeout.TotalSeconds:0.###} s; last answer: {last}.")
                {
                    ServerMessage = last,
                };
            }

            await Task.Delay(pollInterval, cancellationToken);
        }
    }

    /// <summary>
    /// <c>{base}v1/models/{model}/{segments...}</c>, every part one URL-encoded path segment.
    /// </summary>
    /// <remarks>
    /// A label is free text ('CNN wineQ model', 'a/b', '..'), and the server matches the model name
    /// and the label as <c>[^/:]+</c> of the raw path and only then URL-decodes them
    /// (http_rest_api_util.cc, kModelStatusApiRegex and DecodeArg). So each is escaped whole
    /// (<see cref="Uri.EscapeDataString(string)"/>: '/', ':', '?', '#', '%', '+', spaces and
    /// non-ASCII as %XX of their UTF-8; '+' too, as the server does not read it as a space), and
    /// the path is sent as written: without canonicalisation, which would resolve a label '..'
    /// as a step up the path, or unescape what the server must see escaped.
    /// </remarks>
    internal Uri Route(string modelName, params string[] segments) => Route(modelName, segments, method: null);

    /// <summary>
    /// <see cref="Route(string, string[])"/> with the prediction API's <c>:method</c> after the last
    /// segment (kPredictionApiGegex: <c>/v1/models/NAME[/versions/N|/labels/L]:(classify|regress|predict)</c>).
    /// </summary>
    internal Uri Route(string modelName, string[] segments, string? method)
    {
        var path = new StringBuilder(_baseAddress.AbsoluteUri).Append("v1/models/").Append(Segment(modelName));
        foreach (var segment in segments)
        {
            path.Append('/').Append(Segment(segment));
        }

        if (method is not null)
        {
            path.Append(':').Append(method);
        }

        return new Uri(path.ToString(), new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });

        static string Segment(string text)
        {
            var escaped = Uri.EscapeDataString(text);
            // EscapeDataString leaves '.' alone; a segment of dots alone is a path step to an HTTP server.
            return escaped.AsSpan().Trim('.').IsEmpty ? escaped.Replace(".", "%2E", StringComparison.Ordinal) : escaped;
        }
    }

    internal static IReadOnlyList<ServedVersionStatus> ParseStatus(string json)
    {
        using var document = JsonDocument.Parse(json);
        var result = new List<ServedVersionStatus>();
        if (!document.RootElement.TryGetProperty("model_version_status", out var list) || list.ValueKind != JsonValueKind.Array)
        {
            // proto3 JSON omits empty repeated fields unless always_print_primitive_fields is set.
            return result;
        }

        foreach (var item in list.EnumerateArray())
        {
            var version = item.TryGetProperty("version", out var v)
                ? v.ValueKind == JsonValueKind.String ? long.Parse(v.GetString()!, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture) : v.GetInt64()
                : 0;
            var state = item.TryGetProperty("state", out var s) ? ParseState(s) : ModelVersionState.Unknown;
            string code = "OK", message = string.Empty;
            if (item.TryGetProperty("status", out var st) && st.ValueKind == JsonValueKind.Object)
            {
                if (st.TryGetProperty("error_code", out var c))
                {
                    code = c.ValueKind == JsonValueKind.Number
                        ? (c.GetInt32() == 0 ? "OK" : c.GetInt32().ToString(CultureInfo.InvariantCulture))
                        : c.GetString() ?? "OK";
                }

                if (st.TryGetProperty("error_message", out var m))
                {
                    message = m.GetString() ?? string.Empty;
                }
            }

            result.Add(new ServedVersionStatus(version, state, code, message));
        }

        return result;
    }

    private static ModelVersionState ParseState(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Number => Enum.IsDefined(typeof(ModelVersionState), element.GetInt32()) ? (ModelVersionState)element.GetInt32() : ModelVersionState.Unknown,
        JsonValueKind.String => element.GetString() switch
        {
            "START" => ModelVersionState.Start,
            "LOADING" => ModelVersionState.Loading,
            "AVAILABLE" => ModelVersionState.Available,
            "UNLOADING" => ModelVersionState.Unloading,
            "END" => ModelVersionState.End,
            _ => ModelVersionState.Unknown,
        },
        _ => ModelVersionState.Unknown,
    };

    /// <summary>
    /// The <c>error</c> member of an error body. The server C-escapes the message into the JSON text
    /// (http_rest_api_handler.cc FillJsonErrorMsg uses absl::CEscape), which can yield <c>\'</c> — not
    /// valid JSON — so a body JSON rejects is read leniently.
    /// </summary>
    internal static string? ParseError(string body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("error", out var error)
                && error.ValueKind == JsonValueKind.String)
            {
                return error.GetString();
            }
        }
        catch (JsonException)
        {
            var match = LenientErrorRegex().Match(body);
            if (match.Success)
            {
                return Regex.Replace(match.Groups[1].Value, @"\\(.)", m => m.Groups[1].Value switch
                {
                    "n" => "\n",
                    "t" => "\t",
                    "r" => "\r",
                    var other => other,
                });
            }
        }

        return Truncate(body);
    }

    private static string Describe(ServedVersionStatus status) =>
        status.HasError || status.ErrorMessage.Length > 0
            ? $"{status.State.ToString().ToUpperInvariant()} ({status.ErrorCode}: {status.ErrorMessage})"
            : status.State.ToString().ToUpperInvariant();

    private static string Truncate(string text) => text.Length <= 500 ? text.Trim() : text[..500] + "...";

    [GeneratedRegex("\"error\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"", RegexOptions.Singleline)]
    private static partial Regex LenientErrorRegex();
}
