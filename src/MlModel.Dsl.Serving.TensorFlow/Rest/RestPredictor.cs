using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using MlModel.Dsl.Backends;

namespace MlModel.Dsl.Serving.TensorFlow.Rest;

/// <summary>
/// <see cref="IServingPredictor"/> over TensorFlow Serving's REST API
/// (tensorflow_serving/g3doc/api_rest.md): the signature from the model metadata API, batches
/// through the predict API. Stateless but for a cached route, so one instance serves every
/// batch in flight; all of them share the backend's <see cref="HttpClient"/> and its pooled
/// connections.
/// </summary>
/// <remarks>
/// Errors: transport failures and the server's refusals are <see cref="ErrorCodes.Backend"/>,
/// the server's own text (<c>{"error": ...}</c>) passed on as it is after the HTTP status, which
/// the inner <see cref="HttpRequestException.StatusCode"/> also carries. A model or version the
/// server does not serve is <see cref="ErrorCodes.NotFound"/> when the signature is asked for.
/// Cancellation surfaces as <see cref="OperationCanceledException"/>.
/// </remarks>
internal sealed class RestPredictor(TensorFlowServingRestClient rest) : IServingPredictor
{

    private PredictRoute? _route;

    /// <inheritdoc/>
    public async Task<ServingSignature> GetSignatureAsync(string servingName, int? version, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(servingName);
        if (version is < 1)
        {
            throw new MlModelException(ErrorCodes.InvalidValue, $"version {version} of {servingName} is not a version; versions start at 1");
        }

        // Without a version: the latest AVAILABLE one, named from here on, so that the signature
        // and every batch of the command are the same version even if another is loaded meanwhile.
        var resolved = version ?? await LatestAvailableAsync(servingName, cancellationToken);
        var target = $"version {resolved.ToString(CultureInfo.InvariantCulture)} of {servingName}";
        var address = rest.Route(servingName, "versions", resolved.ToString(CultureInfo.InvariantCulture), "metadata");
        using var request = new HttpRequestMessage(HttpMethod.Get, address);
        using var response = await SendAsync(request, cancellationToken);
        var body = await ReadTextAsync(response, target, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            var text = ServerText(body, response);
            throw new MlModelException(
                response.StatusCode == HttpStatusCode.NotFound ? ErrorCodes.NotFound : ErrorCodes.Backend,
                $"TensorFlow Serving gave no signature for {target} ({Status(response)}): {text}",
                new HttpRequestException(text, null, response.StatusCode));
        }

        IReadOnlyList<ModelSignature> signatures;
        try
        {
            signatures = ModelMetadataReader.Read(body).Signatures;
        }
        catch (InvalidDataException e)
        {
            throw new MlModelException(ErrorCodes.Backend, $"unexpected model metadata answer from TensorFlow Serving for {target}: {e.Message}", e);
        }

        var signature = signatures.FirstOrDefault(s => s.Name == ModelSignature.ServingDefault)
            ?? throw new MlModelException(ErrorCodes.Unsupported,
                $"{target} has no {ModelSignature.ServingDefault} signature, which TensorFlow Serving predicts with when a request names none; it has: "
                + (signatures.Count == 0 ? "none" : string.Join(", ", signatures.Select(s => s.Name))));
        return new ServingSignature(resolved, signature);
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<PredictOutput>> PredictAsync(PredictBatch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        PredictRequestWriter.Validate(batch);
        var target = batch.Version is { } v ? $"version {v.ToString(CultureInfo.InvariantCulture)} of {batch.ServingName}" : batch.ServingName;

        using var body = new PooledBufferWriter(EstimateSize(batch));
        PredictRequestWriter.Write(body, batch);
        using var content = new ReadOnlyMemoryContent(body.WrittenMemory);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, PredictAddress(batch.ServingName, batch.Version)) { Content = content };
        using var response = await SendAsync(request, cancellationToken);

        var length = response.Content.Headers.ContentLength;
        using var answer = new PooledBufferWriter(length is > 0 and < PooledBufferWriter.MaxLength ? (int)length : 4096);
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
            await answer.ReadFromAsync(stream, length, cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException or IOException && !cancellationToken.IsCancellationRequested)
        {
            throw new MlModelException(ErrorCodes.Backend, $"the answer of TensorFlow Serving at {rest.BaseAddress} to a batch for {target} broke off: {e.Message}", e);
        }

        if (!response.IsSuccessStatusCode)
        {
            var text = ServerText(Encoding.UTF8.GetString(answer.WrittenSpan), response);
            throw new MlModelException(ErrorCodes.Backend,
                $"TensorFlow Serving answered a batch of {Rows(batch.Rows)} for {target} with {Status(response)}: {text}",
                new HttpRequestException(text, null, response.StatusCode));
        }

        try
        {
            return PredictResponseReader.Read(answer.WrittenSpan, batch.Rows);
        }
        catch (InvalidDataException e)
        {
            throw new MlModelException(ErrorCodes.Backend, $"unexpected predict answer from TensorFlow Serving for a batch of {Rows(batch.Rows)} for {target}: {e.Message}", e);
        }
    }

    /// <summary>The highest version the model status API reports AVAILABLE.</summary>
    private async Task<int> LatestAvailableAsync(string servingName, CancellationToken cancellationToken)
    {
        var status = await rest.GetModelStatusAsync(servingName, null, cancellationToken);
        if (status.StatusCode == 0)
        {
            throw new MlModelException(ErrorCodes.Backend, $"{status.Error}");
        }

        if (status.Versions is not { } versions)
        {
            var code = status.StatusCode == HttpStatusCode.NotFound ? ErrorCodes.NotFound : ErrorCodes.Backend;
            throw new MlModelException(code,
                $"TensorFlow Serving serves no version of {servingName} (HTTP {((int)status.StatusCode).ToString(CultureInfo.InvariantCulture)}): {status.Error}",
                new HttpRequestException(status.Error, null, status.StatusCode));
        }

        var available = versions.Where(s => s.State == ModelVersionState.Available).Select(s => s.Version).DefaultIfEmpty(0).Max();
        if (available is < 1 or > int.MaxValue)
        {
            var states = versions.Count == 0
                ? "it lists none"
                : "its versions: " + string.Join(", ", versions.OrderByDescending(s => s.Version).Select(s =>
                    s.Version.ToString(CultureInfo.InvariantCulture) + " " + s.State.ToString().ToUpperInvariant()
                    + (s.HasError ? $" ({s.ErrorCode}: {s.ErrorMessage})" : string.Empty)));
            throw new MlModelException(ErrorCodes.NotFound, $"TensorFlow Serving has no AVAILABLE version of {servingName}; {states}");
        }

        return (int)available;
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        try
        {
            return await rest.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new MlModelException(ErrorCodes.Backend, $"TensorFlow Serving at {rest.BaseAddress} is not reachable: {e.Message}", e);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new MlModelException(ErrorCodes.Backend,
                $"TensorFlow Serving at {rest.BaseAddress} did not answer within {rest.Http.Timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s", e);
        }
    }

    private async Task<string> ReadTextAsync(HttpResponseMessage response, string target, CancellationToken cancellationToken)
    {
        try
        {
            return await response.Content.ReadAsStringAsync(cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException or IOException && !cancellationToken.IsCancellationRequested)
        {
            throw new MlModelException(ErrorCodes.Backend, $"the answer of TensorFlow Serving at {rest.BaseAddress} for {target} broke off: {e.Message}", e);
        }
    }

    /// <summary><c>/v1/models/NAME[/versions/N]:predict</c>, kept for the next batch (a command sends all of its batches to one).</summary>
    private Uri PredictAddress(string servingName, int? version)
    {
        var cached = Volatile.Read(ref _route);
        if (cached is not null && cached.Version == version && cached.ServingName == servingName)
        {
            return cached.Address;
        }

        var address = version is { } v
            ? rest.Route(servingName, ["versions", v.ToString(CultureInfo.InvariantCulture)], "predict")
            : rest.Route(servingName, [], "predict");
        Volatile.Write(ref _route, new PredictRoute(servingName, version, address));
        return address;
    }

    /// <summary>A first guess at the request's size, so that most batches need no second buffer.</summary>
    private static int EstimateSize(PredictBatch batch)
    {
        long bytes = 64;
        foreach (var input in batch.Inputs)
        {
            bytes += (input.Values.Length * 12L) + (batch.Rows * (8L + (input.Name?.Length ?? 0)));
        }

        return (int)Math.Min(bytes, 1 << 24);
    }

    private static string ServerText(string body, HttpResponseMessage response) =>
        TensorFlowServingRestClient.ParseError(body) ?? $"HTTP {((int)response.StatusCode).ToString(CultureInfo.InvariantCulture)} {response.ReasonPhrase}";

    private static string Status(HttpResponseMessage response) =>
        $"HTTP {((int)response.StatusCode).ToString(CultureInfo.InvariantCulture)}" + (response.ReasonPhrase is { Length: > 0 } reason ? $" {reason}" : string.Empty);

    private static string Rows(int rows) => rows == 1 ? "1 row" : rows.ToString(CultureInfo.InvariantCulture) + " rows";

    private sealed record PredictRoute(string ServingName, int? Version, Uri Address);
}
