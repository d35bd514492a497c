using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace MlModel.Dsl.Serving.TensorFlow.Tests;

/// <summary>A request the fake received: method, raw target, body.</summary>
internal sealed record FakeRequest(string Method, string Target, byte[] Body)
{
    public string BodyText => Encoding.UTF8.GetString(Body);
}

/// <summary>
/// The fake's HTTP side: HTTP/1.1 with persistent connections (libevent's evhttp, which TensorFlow
/// Serving's REST server runs on, keeps a connection open between requests unless the client says
/// <c>Connection: close</c>), bodies by Content-Length, and the routing of http_rest_api_handler.cc
/// ProcessRequest: POST to the prediction API, GET to the model status and metadata APIs, anything
/// else "Malformed request". Errors are <c>{"error": message}</c> with the HTTP status of the
/// absl code (http_server.cc ToHTTPStatusCode), written by rapidjson's PrettyWriter
/// (json_tensor.cc MakeJsonFromStatus).
/// </summary>
internal sealed partial class FakeTensorFlowServing
{
    private readonly ConcurrentDictionary<TcpClient, byte> _connections = new();
    private int _accepted;

    /// <summary>Connections accepted so far: a client that keeps its connections open opens few.</summary>
    public int AcceptedConnections => Volatile.Read(ref _accepted);

    /// <summary>False: <see cref="Requests"/> stays empty (a benchmark's millions of rows are not kept).</summary>
    public bool RecordRequests { get; set; } = true;

    /// <summary>Every request received, in the order they arrived.</summary>
    public ConcurrentQueue<FakeRequest> Requests { get; } = new();

    /// <summary>Every label the REST API was asked about, as the server decoded it, in order.</summary>
    public ConcurrentQueue<string> RequestedLabels { get; } = new();

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

            Interlocked.Increment(ref _accepted);
            _connections[client] = 0;
            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private void CloseConnections()
    {
        foreach (var client in _connections.Keys)
        {
            client.Dispose();
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        try
        {
            client.NoDelay = true;
            var stream = client.GetStream();
            var connection = new HttpConnectionReader(stream);
            while (!_stop.IsCancellationRequested)
            {
                var request = await connection.ReadRequestAsync(_stop.Token);
                if (request is null)
                {
                    return;
                }

                var (status, body) = await HandleAsync(request.Method, request.Target, request.Body);
                var bytes = Encoding.UTF8.GetBytes(body);
                var head = Encoding.ASCII.GetBytes(
                    $"HTTP/1.1 {status.ToString(CultureInfo.InvariantCulture)} {Reason(status)}\r\nContent-Type: application/json\r\nContent-Length: {bytes.Length.ToString(CultureInfo.InvariantCulture)}\r\n"
                    + (request.KeepAlive ? "\r\n" : "Connection: close\r\n\r\n"));
                // One write: a head and a body in two small segments would wait on Nagle and delayed ACKs.
                var response = new byte[head.Length + bytes.Length];
                head.CopyTo(response, 0);
                bytes.CopyTo(response, head.Length);
                await stream.WriteAsync(response, _stop.Token);
                if (!request.KeepAlive)
                {
                    return;
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException or InvalidDataException)
        {
            // The client went away (or cancelled its request), or the fake is being disposed.
        }
        finally
        {
            _connections.TryRemove(client, out _);
            client.Dispose();
        }
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        429 => "Too Many Requests",
        499 => "Client Closed Request",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Internal Server Error",
    };

    /// <summary>
    /// One request, as http_rest_api_handler.cc ProcessRequest dispatches it. The path is matched
    /// raw (still percent-encoded), as http_rest_api_util.cc ParseModelInfo does: the model name
    /// and label are <c>[^/:]+</c> of the raw path and only then URL-decoded (DecodeArg, which is
    /// curl_easy_unescape: %XX to a byte, '+' left as it is).
    /// </summary>
    internal async Task<(int Status, string Body)> HandleAsync(string method, string rawPath, byte[] body)
    {
        if (RecordRequests)
        {
            Requests.Enqueue(new FakeRequest(method, rawPath, body));
        }

        var path = rawPath.Split('?')[0];
        try
        {
            if (method == "POST" && PredictionRoute().Match(path) is { Success: true } prediction)
            {
                return (200, await PredictionApiAsync(method, rawPath, prediction, body));
            }

            if (method == "GET" && StatusRoute().Match(path) is { Success: true } status)
            {
                return (200, StatusApi(method, rawPath, status));
            }

            throw Malformed(method, rawPath);
        }
        catch (FakeStatusException e)
        {
            return (e.HttpStatus, Error(e.Message));
        }
    }

    private static FakeStatusException Malformed(string method, string rawPath) => FakeStatusException.InvalidArgument($"Malformed request: {method} {rawPath}");

    /// <summary>ParseModelInfo: the model name and label decoded, the version converted.</summary>
    private (string Model, long? Version, string? Label) ModelInfo(Match route)
    {
        var model = string.Empty;
        if (route.Groups[1].Success && !UrlDecode(route.Groups[1].Value, out model))
        {
            throw FakeStatusException.InvalidArgument($"Failed to decode model name:{route.Groups[1].Value}");
        }

        long? version = null;
        if (route.Groups[2].Success)
        {
            version = long.TryParse(route.Groups[2].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var v)
                ? v
                : throw FakeStatusException.InvalidArgument($"Failed to convert version: {route.Groups[2].Value} to numeric.");
        }

        string? label = null;
        if (route.Groups[3].Success)
        {
            if (!UrlDecode(route.Groups[3].Value, out var decoded))
            {
                throw FakeStatusException.InvalidArgument($"Failed to decode model version label:{route.Groups[3].Value}");
            }

            label = decoded;
            RequestedLabels.Enqueue(label);
        }

        return (model, version, label);
    }

    /// <summary>
    /// <c>GET /v1/models/{name}[/versions/{v}|/labels/{label}][/metadata]</c>: the model status API
    /// (GetModelStatus ignores a label and answers for every version, get_model_status_impl.cc) or
    /// the model metadata API.
    /// </summary>
    private string StatusApi(string method, string rawPath, Match route)
    {
        if (route.Groups[3].Success && !LabelRoutes)
        {
            throw Malformed(method, rawPath);
        }

        var (model, version, label) = ModelInfo(route);
        if (model.Length == 0)
        {
            throw FakeStatusException.InvalidArgument("Missing model name in request.");
        }

        if (route.Groups[4].Success)
        {
            return MetadataJson(model, version, label);
        }

        lock (_gate)
        {
            if (version is { } v)
            {
                return _servables.TryGetValue((model, v), out var s)
                    ? StatusJson([(v, s)])
                    : throw new FakeStatusException("NOT_FOUND", $"Could not find version {v} of model {model}");
            }

            var versions = _servables.Where(kv => kv.Key.Model == model).OrderBy(kv => kv.Key.Version).ToList();
            return versions.Count == 0
                ? throw new FakeStatusException("NOT_FOUND", $"Could not find any versions of model {model}")
                : StatusJson(versions.Select(kv => (kv.Key.Version, kv.Value)));
        }
    }

    // kModelStatusApiRegex and kPredictionApiGegex (http_rest_api_util.cc), as RE2::FullMatch applies
    // them ((?i): the words in any case).
    [GeneratedRegex(@"^/v1/models(?:/([^/:]+))?(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?(?:/(metadata))?$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex StatusRoute();

    [GeneratedRegex(@"^/v1/models/([^/:]+)(?:(?:/versions/(\d+))|(?:/labels/([^/:]+)))?:(classify|regress|predict)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex PredictionRoute();

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

    private static string Error(string message) =>
        new FakeJson().StartObject().Key("error").String(message).EndObject().ToString();

    /// <summary>GetModelStatusResponse as MessageToJsonString writes it with add_whitespace and always_print_fields_with_no_presence.</summary>
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
              .Append("    \"error_message\": ").Append(FakeJson.Quote(s.ErrorMessage)).Append('\n')
              .Append("   }\n")
              .Append("  }");
        }

        return sb.Append("\n ]\n}\n").ToString();
    }

    /// <summary>Reads HTTP/1.1 requests off one connection, one after another.</summary>
    private sealed class HttpConnectionReader(Stream stream)
    {
        private const int MaxHead = 64 * 1024;
        private byte[] _buffer = new byte[16 * 1024];
        private int _start;
        private int _end;

        public sealed record Request(string Method, string Target, byte[] Body, bool KeepAlive);

        /// <summary>The next request; null when the client closed the connection between requests.</summary>
        public async Task<Request?> ReadRequestAsync(CancellationToken cancellationToken)
        {
            int headEnd;
            while ((headEnd = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8)) < 0)
            {
                if (_end - _start >= MaxHead)
                {
                    throw new InvalidDataException("request head too large");
                }

                if (!await FillAsync(cancellationToken))
                {
                    return null;
                }
            }

            var head = Encoding.ASCII.GetString(_buffer, _start, headEnd);
            _start += headEnd + 4;
            var lines = head.Split("\r\n");
            var requestLine = lines[0].Split(' ');
            if (requestLine.Length != 3)
            {
                throw new InvalidDataException("bad request line");
            }

            var length = 0;
            var keepAlive = requestLine[2] == "HTTP/1.1";
            foreach (var line in lines.Skip(1))
            {
                var colon = line.IndexOf(':', StringComparison.Ordinal);
                if (colon < 0)
                {
                    continue;
                }

                var name = line[..colon].Trim();
                var value = line[(colon + 1)..].Trim();
                if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                {
                    length = int.Parse(value, NumberStyles.None, CultureInfo.InvariantCulture);
                }
                else if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase))
                {
                    keepAlive = value.Equals("keep-alive", StringComparison.OrdinalIgnoreCase)
                        || (keepAlive && !value.Equals("close", StringComparison.OrdinalIgnoreCase));
                }
                else if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
                {
                    throw new InvalidDataException("the fake reads bodies by Content-Length only");
                }
            }

            while (_end - _start < length)
            {
                if (!await FillAsync(cancellationToken))
                {
                    throw new InvalidDataException("the connection closed inside a body");
                }
            }

            var body = _buffer.AsSpan(_start, length).ToArray();
            _start += length;
            return new Request(requestLine[0], requestLine[1], body, keepAlive);
        }

        private async Task<bool> FillAsync(CancellationToken cancellationToken)
        {
            if (_start > 0)
            {
                _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
                _end -= _start;
                _start = 0;
            }

            if (_end == _buffer.Length)
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }

            var read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
            _end += read;
            return read > 0;
        }
    }
}
