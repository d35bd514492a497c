namespace MlModel.Dsl.Serving.TensorFlow;

/// <summary>What went wrong in a <see cref="TensorFlowServing"/> operation.</summary>
public enum TensorFlowServingErrorKind
{
    /// <summary>An argument (serving name, version, label, file path) is not acceptable.</summary>
    InvalidArgument,

    /// <summary>The model config file could not be parsed, or has an entry this library cannot manage.</summary>
    ConfigInvalid,

    /// <summary>The config lock was not acquired within <see cref="TensorFlowServingOptions.LockTimeout"/>.</summary>
    LockTimeout,

    /// <summary>The version to stop is not deployed.</summary>
    NotDeployed,

    /// <summary>TensorFlow Serving reported the version in state END with an error (it failed to load).</summary>
    LoadFailed,

    /// <summary>The version (or label) did not become available within <see cref="TensorFlowServingOptions.AvailableTimeout"/>.</summary>
    Timeout,

    /// <summary>TensorFlow Serving's REST API answered something unexpected.</summary>
    Server,

    /// <summary>A file system operation failed (publishing files, writing the config).</summary>
    Io,

    /// <summary>
    /// A deploy would move a label onto a version TensorFlow Serving has not loaded, and without its
    /// REST API nothing can wait until it has (TF Serving refuses such a config whole).
    /// </summary>
    LabelNeedsAvailableVersion,
}

/// <summary>A TensorFlow Serving deploy, stop or status operation failed. The message is meant for the user.</summary>
public sealed class TensorFlowServingException : Exception
{
    /// <summary>Creates the exception.</summary>
    public TensorFlowServingException(TensorFlowServingErrorKind kind, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Kind = kind;
    }

    /// <summary>Creates an exception of kind <see cref="TensorFlowServingErrorKind.Server"/>.</summary>
    public TensorFlowServingException()
        : this(TensorFlowServingErrorKind.Server, "TensorFlow Serving operation failed.")
    {
    }

    /// <summary>Creates an exception of kind <see cref="TensorFlowServingErrorKind.Server"/>.</summary>
    public TensorFlowServingException(string message)
        : this(TensorFlowServingErrorKind.Server, message)
    {
    }

    /// <summary>Creates an exception of kind <see cref="TensorFlowServingErrorKind.Server"/>.</summary>
    public TensorFlowServingException(string message, Exception innerException)
        : this(TensorFlowServingErrorKind.Server, message, innerException)
    {
    }

    /// <summary>The category of the failure.</summary>
    public TensorFlowServingErrorKind Kind { get; }

    /// <summary>The server's own error message (model_version_status.status.error_message or the REST <c>error</c> body), when there is one.</summary>
    public string? ServerMessage { get; init; }
}
