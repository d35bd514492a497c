namespace MlModel.Dsl.Serving.TensorFlow.Rest;

/// <summary>The <see cref="HttpClient"/> a backend creates for itself when the host gives none.</summary>
internal static class RestHttpClient
{
    /// <summary>
    /// Connections kept to the server: enough for the predict stage's batches in flight (and a
    /// deploy's polls beside them) to each have one, so none waits for a connection, while a
    /// runaway caller cannot open hundreds. Connections stay open between requests (HTTP/1.1
    /// keep-alive, which TensorFlow Serving's libevent server keeps).
    /// </summary>
    internal const int MaxConnectionsPerServer = 16;

    /// <summary>
    /// One client, one <see cref="SocketsHttpHandler"/>, for the backend's whole life. The 30 s
    /// timeout is TensorFlow Serving's own default for a REST request (--rest_api_timeout_in_ms).
    /// </summary>
    public static HttpClient Create() => new(new SocketsHttpHandler
    {
        MaxConnectionsPerServer = MaxConnectionsPerServer,
        // A long-lived client must still see a server moved to another address (DNS).
        PooledConnectionLifetime = TimeSpan.FromMinutes(10),
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
        ConnectTimeout = TimeSpan.FromSeconds(10),
        AutomaticDecompression = System.Net.DecompressionMethods.None,
        UseCookies = false,
    })
    {
        Timeout = TimeSpan.FromSeconds(30),
    };
}
