namespace MlModel.Dsl.Serving.TensorFlow;

/// <summary>Where TF Serving's files are and how to reach it.</summary>
public sealed class TensorFlowServingOptions
{
    /// <summary>The folder holding one base path per serving name: <c>&lt;ServingRoot&gt;/&lt;serving_name&gt;/&lt;version&gt;/</c>.</summary>
    public string ServingRoot { get; set; } = string.Empty;

    /// <summary>
    /// <see cref="ServingRoot"/> as TF Serving sees it, when it runs elsewhere with the folder
    /// mounted (the usual container: <c>-v &lt;ServingRoot&gt;:/models</c> gives <c>/models</c>): the
    /// config's <c>base_path</c>s start with it. Null: the same path.
    /// </summary>
    public string? ServerServingRoot { get; set; }

    /// <summary>The file TF Serving reads with <c>--model_config_file</c> (and polls with <c>--model_config_file_poll_wait_seconds</c>).</summary>
    public string ConfigFile { get; set; } = string.Empty;

    /// <summary>
    /// TF Serving's REST address (its <c>--rest_api_port</c>), e.g. <c>http://localhost:8501/</c>. Null: no waiting,
    /// labels written in one step, no server state in the status, and no signature or predictions
    /// (<see cref="TensorFlowServingBackend.PredictAsync"/> fails with <c>unsupported</c>).
    /// </summary>
    public Uri? RestAddress { get; set; }

    /// <summary>How long a deploy waits for the version to become AVAILABLE (and for a label to apply).</summary>
    public TimeSpan AvailableTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How often the REST status is polled while waiting.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How long to wait for the config lock held by another deploy or stop.</summary>
    public TimeSpan LockTimeout { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>A version's state as TF Serving reports it (ModelVersionStatus.State, apis/get_model_status.proto).</summary>
public enum ModelVersionState
{
    /// <summary>Default / unrecognised value.</summary>
    Unknown = 0,

    /// <summary>The manager tracks the version but has not acted on it.</summary>
    Start = 10,

    /// <summary>The version is being loaded.</summary>
    Loading = 20,

    /// <summary>The version is loaded and serves requests.</summary>
    Available = 30,

    /// <summary>The version is being unloaded.</summary>
    Unloading = 40,

    /// <summary>Unloaded, or failed (then the status carries the error).</summary>
    End = 50,
}

/// <summary>One entry of model_version_status.</summary>
/// <param name="Version">The version number.</param>
/// <param name="State">Its state.</param>
/// <param name="ErrorCode">status.error_code, e.g. <c>OK</c> or <c>NOT_FOUND</c>.</param>
/// <param name="ErrorMessage">status.error_message, empty when OK.</param>
public sealed record ServedVersionStatus(long Version, ModelVersionState State, string ErrorCode, string ErrorMessage)
{
    /// <summary>True when the status is not OK.</summary>
    public bool HasError => !string.Equals(ErrorCode, "OK", StringComparison.OrdinalIgnoreCase) && ErrorCode != "0";
}

/// <summary>What a deploy did.</summary>
/// <param name="ServingName">The model name clients use on TF Serving.</param>
/// <param name="Version">The deployed version.</param>
/// <param name="Label">The label now pointing at it, if any.</param>
/// <param name="VersionPath">The published folder.</param>
/// <param name="Published">False when the version was already deployed and only the label moved (or nothing changed).</param>
/// <param name="ServerState">The state TF Serving reported at the end; null without a REST address.</param>
public sealed record TensorFlowDeployResult(string ServingName, long Version, string? Label, string VersionPath, bool Published, ServedVersionStatus? ServerState);

/// <summary>One model_config_list entry, as the config file lists it.</summary>
/// <param name="ServingName">config.name.</param>
/// <param name="BasePath">config.base_path.</param>
/// <param name="Versions">model_version_policy.specific.versions, ascending.</param>
/// <param name="Labels">version_labels.</param>
/// <param name="Managed">True when the entry is one this library manages (base_path is <c>&lt;ServingRoot&gt;/&lt;name&gt;</c>).</param>
public sealed record DeployedModel(string ServingName, string BasePath, IReadOnlyList<long> Versions, IReadOnlyDictionary<string, long> Labels, bool Managed);

/// <summary>A drift view of one serving name: the config, the published folders and what the server reports.</summary>
/// <param name="ServingName">The serving name.</param>
/// <param name="Config">Its config entry, or null when the config does not list it.</param>
/// <param name="PublishedVersions">Numeric version folders under <c>&lt;ServingRoot&gt;/&lt;name&gt;</c>.</param>
/// <param name="ServerVersions">model_version_status from the REST API; null without a REST address or when the server did not answer with a status.</param>
/// <param name="ServerError">The server's error (e.g. "Could not find any versions of model ...") or the transport failure.</param>
public sealed record TensorFlowServingStatus(
    string ServingName,
    DeployedModel? Config,
    IReadOnlyList<long> PublishedVersions,
    IReadOnlyList<ServedVersionStatus>? ServerVersions,
    string? ServerError);
