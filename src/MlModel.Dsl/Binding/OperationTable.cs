namespace MlModel.Dsl.Binding;

/// <summary>How a parameter's value is read.</summary>
internal enum ParamKind
{
    /// <summary>A model or user name (spec B.2).</summary>
    Name,
    /// <summary>Free text (kind, algorithm, description, path, ...).</summary>
    Text,
    /// <summary>A version: a bare decimal integer from 1 to 2^31-1 (spec B.1).</summary>
    Version,
    /// <summary>One of <see cref="ParamSpec.Values"/>, matched case-insensitively.</summary>
    Choice,
    /// <summary>A two-valued switch; its words are the parameter's own (<see cref="ParamSpec.Values"/>: on/off or true/false).</summary>
    Flag,
    /// <summary>A serving label: 1 to 128 characters of text, no control characters (spec B.6).</summary>
    Label,
    /// <summary>A JSON object as text.</summary>
    Json,
}

/// <summary>One parameter an operation takes.</summary>
internal sealed record ParamSpec(
    string Key,
    ParamKind Kind,
    bool Required,
    string Help,
    int MaxLength = 1024,
    IReadOnlyList<string>? Values = null);
// Values: a choice's words; a flag's two words, the one for true first.

/// <summary>An operation and the parameters it takes, in the spec's order.</summary>
internal sealed record OperationSpec(
    MlModelOperation Operation,
    string Name,
    string Syntax,
    string Help,
    IReadOnlyList<ParamSpec> Parameters,
    string Command = "mlmodel")
{
    /// <summary>The command and operation, as messages begin: <c>mlmodel deploy</c>, <c>serving predict</c>.</summary>
    public string Title => Command + " " + Name;

    /// <summary>The operation's name in telemetry: <c>deploy</c>, <c>serving predict</c>.</summary>
    public string TelemetryName => Command == "mlmodel" ? Name : Title;

    public ParamSpec? Find(string key) => IndexOf(key) is var i and >= 0 ? Parameters[i] : null;

    /// <summary>The index of <paramref name="key"/>, matched ASCII case-insensitively (spec B.1), or -1.</summary>
    /// <remarks>Not <c>ToLowerInvariant</c>: that folds the Kelvin sign U+212A into 'k', and keys are ASCII.</remarks>
    public int IndexOf(string key)
    {
        // The lexer hands out the literal key strings for the usual spellings, so reference
        // equality finds them without comparing characters; any other spelling is compared.
        var keys = _keys;
        for (var i = 0; i < keys.Length; i++)
        {
            if (ReferenceEquals(keys[i], key))
            {
                return i;
            }
        }
        for (var i = 0; i < keys.Length; i++)
        {
            if (keys[i].Length == key.Length && System.Text.Ascii.EqualsIgnoreCase(keys[i], key))
            {
                return i;
            }
        }
        return -1;
    }

    private readonly string[] _keys = [.. Parameters.Select(p => p.Key)];

    /// <summary><see cref="Parameters"/> as an array, for the binder's loop (no interface calls).</summary>
    internal ParamSpec[] Specs { get; } = [.. Parameters];

    /// <summary>Bit i is set when parameter i is required.</summary>
    internal uint RequiredMask { get; } = Parameters.Select((p, i) => p.Required ? 1u << i : 0u).Aggregate(0u, (a, b) => a | b);

    public bool AllowsPositionalName => IndexOf("name") >= 0;
}

/// <summary>
/// The parameter tables of every operation: what the binder accepts, what <c>--help</c> prints
/// and what the canonical rendering writes, from one place.
/// </summary>
internal static class OperationTable
{
    private static ParamSpec User(string help = "owner of the model; defaults to the requesting user") =>
        new("user", ParamKind.Name, false, help, 128);

    private static ParamSpec Name(bool required = true) =>
        new("name", ParamKind.Name, required, "model name", 128);

    private static ParamSpec Version(bool required, string help) =>
        new("version", ParamKind.Version, required, help);

    public static readonly IReadOnlyList<OperationSpec> All =
    [
        new(MlModelOperation.List, "list", "mlmodel list (user=)? (name=)? (analysis_tool=)? (serving=on|off)?",
            "Lists the models you may see (all of them for an administrator).",
            [
                User("only this owner's models"),
                Name(required: false) with { Help = "only versions of this model" },
                new("analysis_tool", ParamKind.Text, false, "only models of this tool (tf, spark, ...)", 64),
                new("serving", ParamKind.Flag, false, "only served (on) or unserved (off) versions", Values: ["on", "off"]),
            ]),
        new(MlModelOperation.Summary, "summary", "mlmodel summary (user=)? name= (version=)?",
            "Shows every field of one model version as name/value rows.",
            [User(), Name(), Version(false, "version; defaults to the model's latest")]),
        new(MlModelOperation.Delete, "delete", "mlmodel delete (user=)? name= version=",
            "Deletes one version: its metadata, files and exports. A served version must be stopped first.",
            [User(), Name(), Version(true, "version to delete")]),
        new(MlModelOperation.Import, "import",
            "mlmodel import name= analysis_tool= kind= algorithm= format= connector_id= path= (description=)? (parameter=)?",
            "Loads a model archive (tar, tar.gz, tar.bz2, tar.xz, tar.zst or zip, told apart by content) from an object store as a new version.",
            [
                Name() with { Help = "model name to store under" },
                new("analysis_tool", ParamKind.Choice, true, "tool that built the model", 16, ["tf", "spark"]),
                new("kind", ParamKind.Text, true, "kind of learning (classification, regression, ...)", 256),
                new("algorithm", ParamKind.Text, false, "algorithm (deep, RandomForestRegression, ...); required for tf, read from a spark model's metadata when left out", 256),
                new("format", ParamKind.Choice, false, "model format: saved_model or h5 for tf (required), spark for spark", 16, ["saved_model", "h5", "spark"]),
                new("connector_id", ParamKind.Text, true, "id of the stored object-storage connection: the user's own, or a shared one", 128),
                new("path", ParamKind.Text, true, "key of the archive in the connector's bucket, bucket left out; through a shared connector, under USERS/<user>/", 1024),
                new("description", ParamKind.Text, false, "description: 'quoted text' or base64(...)", 65536),
                new("parameter", ParamKind.Json, false, "training parameters as a JSON object; read from a spark model's metadata when left out", 65536),
            ]),
        new(MlModelOperation.Export, "export", "mlmodel export (user=)? name= (version=)?",
            "Archives a model version as a tar and returns a download URL.",
            [User(), Name(), Version(false, "version; defaults to the model's latest")]),
        new(MlModelOperation.Deploy, "deploy", "mlmodel deploy (user=)? name= (version=)? (label=)?",
            "Serves a tf SavedModel version on TensorFlow Serving; label names it in free text (stable, 'CNN wineQ model', ...).",
            [
                User(), Name(), Version(false, "version; defaults to the model's latest"),
                new("label", ParamKind.Label, false, "version label: any text up to 128 characters, such as stable or 'CNN wineQ model'", Names.MaxLabelLength),
            ]),
        new(MlModelOperation.Stop, "stop", "mlmodel stop (user=)? name= (version=)?",
            "Stops serving a version, with any label that points at it.",
            [User(), Name(), Version(false, "version; defaults to the latest deployed one")]),
        new(MlModelOperation.History, "history", "mlmodel history (user=)? name= (version=)?",
            "The audit trail of a model: who changed what, when, and how it ended; newest first.",
            [User(), Name(), Version(false, "only entries of this version")]),
        new(MlModelOperation.Status, "status", "mlmodel status (user=)? name=",
            "Per version: what the registry, the serving config and the server say, so drift shows.",
            [User(), Name()]),
        new(MlModelOperation.Check, "check", "mlmodel check (user=)? (name=)? (version=)? (repair=true)?",
            "Administrators: finds versions whose files are missing or corrupt, files with no version, and serving drift; repair=true fixes what it can.",
            [
                User("only this owner's models"),
                Name(required: false) with { Help = "only this model (of every user, unless user= is given)" },
                Version(false, "only this version (with name=)"),
                new("repair", ParamKind.Flag, false, "finish deletes, delete orphaned and temporary files, mark broken versions, bring serving back to the registry", Values: ["true", "false"]),
            ]),
    ];

    /// <summary>
    /// The <c>serving</c> command's operations: what the executor needs of them (names for messages
    /// and telemetry). Kept out of <see cref="All"/>, which the <c>mlmodel</c> binder, help and
    /// completion read, until the command table that replaces these tables knows both commands.
    /// </summary>
    public static readonly IReadOnlyList<OperationSpec> Serving =
    [
        new(MlModelOperation.ServingStatus, "status", "serving status (user=)? name=",
            "Per version of the model's serving name: the server's state and the deployment's label.",
            [User(), Name()], "serving"),
        new(MlModelOperation.ServingPredict, "predict",
            "... | serving predict (user=)? name= (col=)? (shape=[tuple,...])? (dtype=)? (layer_name=)? (version=)? (tag=tuple)?",
            "The rows of the stage before, with the model's predictions, their largest value and its tag added.",
            [User(), Name()], "serving"),
    ];

    public static OperationSpec Get(MlModelOperation operation) =>
        operation >= MlModelOperation.ServingStatus ? Serving[operation - MlModelOperation.ServingStatus] : All[(int)operation];

    public static OperationSpec? Find(string word)
    {
        for (var i = 0; i < All.Count; i++)
        {
            if (System.Text.Ascii.EqualsIgnoreCase(All[i].Name, word))
            {
                return All[i];
            }
        }
        return null;
    }
}
