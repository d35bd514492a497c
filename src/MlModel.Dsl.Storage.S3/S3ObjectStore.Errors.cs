using System.Net.Sockets;
using Amazon.Runtime;

namespace MlModel.Dsl.Storage.S3;

// Errors: the SDK's exceptions as MlModel errors (not found, refused credentials, a missing bucket, an unreachable endpoint), never with a secret.
public sealed partial class S3ObjectStore
{
    internal MlModelException NotFound(string key) =>
        new(ErrorCodes.NotFound, $"object '{ObjectKeyRules.Printable(key)}' not found in {Description}");

    private static MlModelException LengthMismatch(string key, long expected, long actual) =>
        new(ErrorCodes.InvalidValue, actual > expected
            ? $"object '{ObjectKeyRules.Printable(key)}' was declared as {expected} bytes but its content is longer"
            : $"object '{ObjectKeyRules.Printable(key)}' was declared as {expected} bytes but its content has {actual}");

    /// <summary>
    /// The MlModel error for a failure, or null when the exception should travel as it is (an
    /// MlModel error already, or cancellation the caller asked for).
    /// </summary>
    internal MlModelException? Translate(Exception e, string key, string operation, CancellationToken cancellationToken)
    {
        if (e is MlModelException)
        {
            return null;
        }

        if (e is OperationCanceledException && cancellationToken.IsCancellationRequested)
        {
            return null;
        }

        if (e is AmazonServiceException service && (int)service.StatusCode >= 100)
        {
            var code = service.ErrorCode ?? "";
            var status = (int)service.StatusCode;
            if (code is "NoSuchBucket")
            {
                return new MlModelException(ErrorCodes.Connector, $"the bucket of {_who} does not exist on the server", e);
            }

            if (code is "NoSuchKey" || (status == 404 && code is not "NoSuchUpload"))
            {
                return NotFound(key);
            }

            if (code is "AccessDenied" or "InvalidAccessKeyId" or "SignatureDoesNotMatch" or "InvalidToken" or "ExpiredToken"
                || status is 401 or 403)
            {
                return new MlModelException(ErrorCodes.Connector,
                    $"the server refused the credentials for {_who} ({(code.Length > 0 ? code : "HTTP " + status)})", e);
            }

            return new MlModelException(ErrorCodes.Backend,
                $"S3 {operation} of '{ObjectKeyRules.Printable(key)}' in {Description} failed: {(code.Length > 0 ? code : "HTTP " + status)}: {service.Message}", e);
        }

        if (IsUnreachable(e))
        {
            var innermost = Innermost(e);
            var reason = innermost is OperationCanceledException or TimeoutException ? "the request timed out" : innermost.Message;
            return new MlModelException(ErrorCodes.Connector,
                $"cannot reach the S3 endpoint {_endpoint ?? "(AWS)"} for {_who}: {reason}", e);
        }

        if (e is AmazonClientException)
        {
            return new MlModelException(ErrorCodes.Connector,
                $"the S3 client for {_who} failed before reaching the server: {e.Message}", e);
        }

        return new MlModelException(ErrorCodes.Backend,
            $"S3 {operation} of '{ObjectKeyRules.Printable(key)}' in {Description} failed: {e.GetType().Name}: {e.Message}", e);
    }

    private static bool IsUnreachable(Exception e)
    {
        for (var current = e; current is not null; current = current.InnerException)
        {
            if (current is HttpRequestException or SocketException or TimeoutException or OperationCanceledException or IOException)
            {
                return true;
            }
        }

        return false;
    }

    private static Exception Innermost(Exception e)
    {
        var current = e;
        while (current.InnerException is not null)
        {
            current = current.InnerException;
        }

        return current;
    }
}
