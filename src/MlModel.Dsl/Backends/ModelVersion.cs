namespace MlModel.Dsl.Backends;

/// <summary>Training states of a model version (spec Part A, summary).</summary>
public static class ModelStates
{
    /// <summary>Registered, training not started.</summary>
    public const string Ready = "READY";
    /// <summary>Training.</summary>
    public const string Running = "RUNNING";
    /// <summary>Trained or imported: usable.</summary>
    public const string Done = "DONE";
    /// <summary>Training failed, or <c>check</c> found its files missing or corrupt.</summary>
    public const string Error = "ERROR";
    /// <summary>
    /// Being deleted: set before the first file goes, so a delete cut short is never shown as
    /// usable. Hidden from list, summary, export and deploy; running the delete again (or
    /// <c>check repair=true</c>) finishes it.
    /// </summary>
    public const string Deleting = "DELETING";

    /// <summary>All states, in lifecycle order.</summary>
    public static IReadOnlyList<string> All { get; } = [Ready, Running, Done, Error, Deleting];
}

/// <summary>
/// One model version as the repository stores it: every field of spec Part A's list and
/// summary, plus where its files are.
/// </summary>
public sealed record ModelVersion
{
    /// <summary>Repository identifier (the list's <c>id</c>).</summary>
    public long Id { get; init; }
    /// <summary>Owner.</summary>
    public required string User { get; init; }
    /// <summary>Model name.</summary>
    public required string Name { get; init; }
    /// <summary>Version, from 1 (spec B.4).</summary>
    public int Version { get; init; }
    /// <summary>Free text.</summary>
    public string? Description { get; init; }
    /// <summary>tf, spark, sklearn, r, ...</summary>
    public required string AnalysisTool { get; init; }
    /// <summary>classification, regression, ...</summary>
    public string? Kind { get; init; }
    /// <summary>deep, RandomForestRegression, ...</summary>
    public string? Algorithm { get; init; }
    /// <summary>Training feature columns.</summary>
    public string? Feature { get; init; }
    /// <summary>Training label column.</summary>
    public string? Label { get; init; }
    /// <summary>The main model file: saved_model.pb, model.h5, metadata.</summary>
    public string? Filename { get; init; }
    /// <summary>saved_model, h5, spark.</summary>
    public string? Format { get; init; }
    /// <summary>Training parameters, JSON.</summary>
    public string? Parameter { get; init; }
    /// <summary>Per-epoch evaluation, JSON.</summary>
    public string? Evaluation { get; init; }
    /// <summary>Cross-validation results, JSON.</summary>
    public string? CrossValidation { get; init; }
    /// <summary>Grid search results, JSON.</summary>
    public string? GridInfo { get; init; }
    /// <summary>Rows trained on.</summary>
    public long? TrainCnt { get; init; }
    /// <summary>Training time in seconds.</summary>
    public double? Elapsed { get; init; }
    /// <summary>Dictionary file name.</summary>
    public string? Dictionary { get; init; }
    /// <summary>Whether the version is served.</summary>
    public bool Serving { get; init; }
    /// <summary>The serving name, <c>&lt;user&gt;_&lt;name&gt;</c> (spec B.6).</summary>
    public string? ServingName { get; init; }
    /// <summary>The serving label that points at this version, if any.</summary>
    public string? ServingLabel { get; init; }
    /// <summary>READY, RUNNING, DONE, ERROR.</summary>
    public string? State { get; init; }
    /// <summary>Data model used by <c>fit</c>.</summary>
    public string? DataModelName { get; init; }
    /// <summary>Query used by <c>fit</c>.</summary>
    public string? Query { get; init; }
    /// <summary>
    /// The serving signatures of a TensorFlow SavedModel (those of its MetaGraph tagged
    /// <c>serve</c>), as import read them from saved_model.pb, in the JSON of
    /// <see cref="ModelSignature.ToJson"/>; null for other formats and for versions imported
    /// before signatures were recorded. <see cref="GetSignatures"/> reads it.
    /// </summary>
    public string? Signature { get; init; }
    /// <summary>Key prefix of the version's files in the model store; null when it has none.</summary>
    public string? StorageKey { get; init; }
    /// <summary>Total size of the files in bytes.</summary>
    public long? SizeBytes { get; init; }
    /// <summary>Creation time, UTC.</summary>
    public DateTime Created { get; init; }
    /// <summary>Last modification time, UTC.</summary>
    public DateTime Modified { get; init; }

    /// <summary>
    /// <see cref="Signature"/> read (empty when there is none); <see cref="ModelSignature.DefaultOf"/>
    /// picks the one a request uses by default.
    /// </summary>
    /// <exception cref="System.Text.Json.JsonException">The stored text is not the JSON of <see cref="ModelSignature.ToJson"/>.</exception>
    public IReadOnlyList<ModelSignature> GetSignatures() => ModelSignature.ParseJson(Signature);
}

/// <summary>
/// One row of <c>mlmodel list</c>: the fields spec Part A's list shows and nothing else, so a
/// repository can read 17 columns instead of every field of <see cref="ModelVersion"/>.
/// </summary>
public sealed record ModelListEntry
{
    /// <inheritdoc cref="ModelVersion.Id"/>
    public long Id { get; init; }
    /// <inheritdoc cref="ModelVersion.User"/>
    public required string User { get; init; }
    /// <inheritdoc cref="ModelVersion.Name"/>
    public required string Name { get; init; }
    /// <inheritdoc cref="ModelVersion.Version"/>
    public int Version { get; init; }
    /// <inheritdoc cref="ModelVersion.Description"/>
    public string? Description { get; init; }
    /// <inheritdoc cref="ModelVersion.AnalysisTool"/>
    public required string AnalysisTool { get; init; }
    /// <inheritdoc cref="ModelVersion.Kind"/>
    public string? Kind { get; init; }
    /// <inheritdoc cref="ModelVersion.Algorithm"/>
    public string? Algorithm { get; init; }
    /// <inheritdoc cref="ModelVersion.Feature"/>
    public string? Feature { get; init; }
    /// <inheritdoc cref="ModelVersion.Label"/>
    public string? Label { get; init; }
    /// <inheritdoc cref="ModelVersion.Serving"/>
    public bool Serving { get; init; }
    /// <inheritdoc cref="ModelVersion.ServingName"/>
    public string? ServingName { get; init; }
    /// <inheritdoc cref="ModelVersion.State"/>
    public string? State { get; init; }
    /// <inheritdoc cref="ModelVersion.DataModelName"/>
    public string? DataModelName { get; init; }
    /// <inheritdoc cref="ModelVersion.Query"/>
    public string? Query { get; init; }
    /// <inheritdoc cref="ModelVersion.Created"/>
    public DateTime Created { get; init; }
    /// <inheritdoc cref="ModelVersion.Modified"/>
    public DateTime Modified { get; init; }

    /// <summary>The list fields of <paramref name="model"/>.</summary>
    public static ModelListEntry From(ModelVersion model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new()
        {
            Id = model.Id,
            User = model.User,
            Name = model.Name,
            Version = model.Version,
            Description = model.Description,
            AnalysisTool = model.AnalysisTool,
            Kind = model.Kind,
            Algorithm = model.Algorithm,
            Feature = model.Feature,
            Label = model.Label,
            Serving = model.Serving,
            ServingName = model.ServingName,
            State = model.State,
            DataModelName = model.DataModelName,
            Query = model.Query,
            Created = model.Created,
            Modified = model.Modified,
        };
    }
}

/// <summary>One file of a model version, as recorded in its manifest.</summary>
/// <param name="Path">Path relative to the version's folder, '/'-separated.</param>
/// <param name="Size">Size in bytes.</param>
/// <param name="Sha256">Lower-case hex SHA-256 of the contents.</param>
public sealed record ModelFile(string Path, long Size, string Sha256);

/// <summary>Which versions <c>list</c> returns.</summary>
public sealed record ModelFilter(string? User = null, string? Name = null, string? AnalysisTool = null, bool? Serving = null)
{
    /// <summary>Also versions being deleted (<see cref="ModelStates.Deleting"/>), which lists leave out: for consistency checks.</summary>
    public bool IncludeDeleting { get; init; }
}

/// <summary>One entry of the audit trail.</summary>
public sealed record AuditEntry
{
    /// <summary>Repository identifier.</summary>
    public long Id { get; init; }
    /// <summary>When, UTC.</summary>
    public DateTime Time { get; init; }
    /// <summary>Who asked.</summary>
    public required string Actor { get; init; }
    /// <summary>import, delete, deploy, stop, register, state, ...</summary>
    public required string Operation { get; init; }
    /// <summary>Owner of the model acted on.</summary>
    public required string User { get; init; }
    /// <summary>Model name.</summary>
    public required string Name { get; init; }
    /// <summary>Version, when one is known.</summary>
    public int? Version { get; init; }
    /// <summary>The command in canonical text, or a description of the API call.</summary>
    public required string Parameters { get; init; }
    /// <summary><c>ok</c> or <c>error</c>.</summary>
    public required string Outcome { get; init; }
    /// <summary>The error message, or a short note.</summary>
    public string? Message { get; init; }
}

/// <summary>
/// A stored object-storage connection (the spec's <c>connector_id</c>), which belongs to a user
/// or is shared (spec B.5).
/// </summary>
/// <param name="Id">The id users write as <c>connector_id=</c>; one name space for every user.</param>
/// <param name="Type"><c>local</c> or <c>s3</c> (or another registered provider).</param>
/// <param name="Settings">Provider settings: root, endpoint, bucket, region, access_key, secret_key, access_key_env, ...</param>
public sealed record ConnectorInfo(string Id, string Type, IReadOnlyDictionary<string, string> Settings)
{
    /// <summary>
    /// The user it belongs to, who may import any key through it; null for no one (connectors
    /// stored before connectors had owners). When a connector is saved through the engine, null
    /// means the user who saves it.
    /// </summary>
    public string? Owner { get; init; }

    /// <summary>
    /// Whether every user may use it: users other than its owner (and administrators) import
    /// through it only keys under <c>USERS/&lt;user&gt;/</c>. Only administrators share
    /// connectors. Host-defined connectors (<c>MlModelOptions.Connectors</c>) are shared
    /// whatever this says.
    /// </summary>
    public bool Shared { get; init; }

    /// <summary>
    /// Setting names whose values are secrets: never shown, logged or audited, and stored
    /// encrypted. Names with <c>secret</c>, <c>password</c>, <c>token</c> or <c>key</c> in
    /// them, but not those ending in <c>_env</c> (<c>secret_key_env</c>): they name the
    /// environment variable that holds the secret, which is how secrets stay out of the
    /// repository altogether.
    /// </summary>
    public static bool IsSecretSetting(string key) =>
        !key.EndsWith("_env", StringComparison.OrdinalIgnoreCase)
        && (key.Contains("secret", StringComparison.OrdinalIgnoreCase)
            || key.Contains("password", StringComparison.OrdinalIgnoreCase)
            || key.Contains("token", StringComparison.OrdinalIgnoreCase)
            || key.Contains("key", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// The settings with secret values replaced by <c>***</c>, and in URLs the user info and
    /// query too (<c>http://***@host:9000/?***</c>): what administrators see.
    /// </summary>
    public IReadOnlyDictionary<string, string> RedactedSettings() =>
        Settings.ToDictionary(kv => kv.Key, kv => IsSecretSetting(kv.Key) ? "***" : WithoutUrlSecrets(kv.Value, mark: true));

    /// <summary>
    /// What users who are not administrators see: no secret settings and no <c>*_env</c> names
    /// at all, and URLs without user info or query (<c>http://host:9000/</c>).
    /// </summary>
    internal IReadOnlyDictionary<string, string> PublicSettings() =>
        Settings
            .Where(kv => !IsSecretSetting(kv.Key) && !kv.Key.EndsWith("_env", StringComparison.OrdinalIgnoreCase))
            .ToDictionary(kv => kv.Key, kv => WithoutUrlSecrets(kv.Value, mark: false));

    /// <summary>
    /// What the owner of a connector sees when not an administrator: secret values as <c>***</c>
    /// (so they can tell a key is set), but no <c>*_env</c> names (an administrator's choice of
    /// the host's variables), and URLs as administrators see them.
    /// </summary>
    internal IReadOnlyDictionary<string, string> OwnerSettings() =>
        RedactedSettings()
            .Where(kv => !kv.Key.EndsWith("_env", StringComparison.OrdinalIgnoreCase))
            .ToDictionary(kv => kv.Key, kv => kv.Value);

    /// <summary>
    /// Whether <paramref name="value"/> is a URL with user info (<c>user:password@</c>): credentials
    /// in a setting that is listed and logged, which the engine refuses on <c>connector add</c> and
    /// a provider should refuse in a host-defined connector too.
    /// </summary>
    public static bool HasUserInfo(string value) => AsUrl(value) is { UserInfo.Length: > 0 };

    /// <summary>
    /// <paramref name="value"/> as it is, or, when it is a URL with user info, a query or a
    /// fragment, the URL without them (<paramref name="mark"/>: with <c>***</c> where they were).
    /// </summary>
    private static string WithoutUrlSecrets(string value, bool mark)
    {
        if (AsUrl(value) is not { } uri || (uri.UserInfo.Length == 0 && uri.Query.Length == 0 && uri.Fragment.Length == 0))
        {
            return value;
        }
        var user = mark && uri.UserInfo.Length > 0 ? "***@" : "";
        var query = mark && uri.Query.Length > 0 ? "?***" : "";
        return $"{uri.Scheme}://{user}{uri.Authority}{uri.AbsolutePath}{query}";
    }

    // Only text written as scheme://host...: a path such as /data/models is an absolute file URI to Uri.
    private static Uri? AsUrl(string value) =>
        value.Contains("://", StringComparison.Ordinal) && Uri.TryCreate(value.Trim(), UriKind.Absolute, out var uri) && uri.Host.Length > 0
            ? uri
            : null;

    /// <summary>Never prints secrets.</summary>
    public override string ToString() =>
        $"{Id} ({Type}: {string.Join(", ", RedactedSettings().Select(kv => kv.Key + "=" + kv.Value))})";
}
