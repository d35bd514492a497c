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
    /// <summary>Free text of 1 to <see cref="Names.MaxLabelLength"/> characters without control characters: a serving label (spec B.6).</summary>
    Label,
    /// <summary>A JSON object as text.</summary>
    Json,
    /// <summary>A tuple of words, numbers or quoted strings: <c>tag=(setosa,versicolor,virginica)</c>.</summary>
    Words,
    /// <summary>A list of tuples of positive whole numbers, one per model input: <c>shape=[(28,28,1)]</c>.</summary>
    Shapes,
}

/// <summary>
/// One parameter an operation takes: how it is read, whether it is required, its default and its
/// help, and how its value is read back off a command record (for rendering and validation).
/// </summary>
/// <param name="Key">The key, as written before <c>=</c>.</param>
/// <param name="Kind">How the value is read.</param>
/// <param name="Required">Whether the operation needs it.</param>
/// <param name="Help">What it means, for <c>--help</c>.</param>
/// <param name="MaxLength">The longest text value, in UTF-16 code units.</param>
/// <param name="Values">A choice's words; a flag's two words, the one for true first.</param>
/// <param name="Default">The value the operation uses when the key is left out, when that is one value (not "the latest"), for help. A record may hold it or leave it unset: <see cref="Read"/> gives null for unset, and renderings write what is set.</param>
internal sealed record ParamSpec(
    string Key,
    ParamKind Kind,
    bool Required,
    string Help,
    int MaxLength = 1024,
    IReadOnlyList<string>? Values = null,
    object? Default = null)
{
    /// <summary>Reads this parameter's value off a command of its operation; null when it is not set.</summary>
    internal Func<MlModelCommand, object?> Read { get; init; } = static _ => null;
}

/// <summary>Builds an operation's command record from its bound values.</summary>
internal delegate MlModelCommand CommandFactory(BoundArguments arguments);

/// <summary>An operation: its word, syntax, help, parameters in canonical order, and the record it builds.</summary>
internal sealed record OperationSpec(
    MlModelOperation Operation,
    string Command,
    string Name,
    string Syntax,
    string Help,
    IReadOnlyList<ParamSpec> Parameters,
    CommandFactory Create)
{
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

    /// <summary><c>mlmodel deploy</c>: the command and operation words, as errors name them.</summary>
    public string Title => Command + " " + Name;

    /// <summary>The operation's name in telemetry: <c>deploy</c>, <c>serving predict</c>.</summary>
    public string TelemetryName => Command == "mlmodel" ? Name : Title;
}

/// <summary>The operations of one command word (<c>mlmodel</c>, <c>serving</c>).</summary>
internal sealed record CommandTable(string Command, IReadOnlyList<OperationSpec> Operations)
{
    public OperationSpec? Find(string word)
    {
        foreach (var op in Operations)
        {
            if (System.Text.Ascii.EqualsIgnoreCase(op.Name, word))
            {
                return op;
            }
        }
        return null;
    }

    public IEnumerable<string> Names => Operations.Select(o => o.Name);
}

/// <summary>
/// The language: every command, operation and parameter, declared once. The binder reads
/// commands with it, the renderer writes them back, <see cref="MlModelLanguage"/> serves help and
/// completion from it, and the engine validates a host's records against it. A new operation or
/// parameter is one entry here (and its record).
/// </summary>
internal static class CommandTables
{
    private static ParamSpec User<T>(Func<T, string?> read, string help = "owner of the model; defaults to the requesting user") where T : MlModelCommand =>
        Param<T>("user", ParamKind.Name, false, help, read, 128);

    private static ParamSpec Name<T>(Func<T, string?> read, string help = "model name", bool required = true) where T : MlModelCommand =>
        Param<T>("name", ParamKind.Name, required, help, read, 128);

    private static ParamSpec Version<T>(Func<T, int?> read, string help, bool required = false) where T : MlModelCommand =>
        Param<T>("version", ParamKind.Version, required, help, c => read(c));

    private static ParamSpec Param<T>(string key, ParamKind kind, bool required, string help, Func<T, object?> read,
        int maxLength = 1024, IReadOnlyList<string>? values = null, object? @default = null) where T : MlModelCommand =>
        new(key, kind, required, help, maxLength, values, @default) { Read = c => read((T)c) };

    private static OperationSpec Op<T>(MlModelOperation operation, string command, string name, string syntax, string help,
        Func<BoundArguments, T> create, params ParamSpec[] parameters) where T : MlModelCommand =>
        new(operation, command, name, syntax, help, parameters, a => create(a));

    public static CommandTable MlModel { get; } = new("mlmodel",
    [
        Op(MlModelOperation.List, "mlmodel", "list", "mlmodel list (user=)? (name=)? (analysis_tool=)? (serving=on|off)?",
            "Lists the models you may see (all of them for an administrator).",
            a => new ListCommand(a.Text("user"), a.Text("name"), a.Text("analysis_tool"), a.Flag("serving")),
            User<ListCommand>(c => c.User, "only this owner's models"),
            Name<ListCommand>(c => c.Name, "only versions of this model", required: false),
            Param<ListCommand>("analysis_tool", ParamKind.Text, false, "only models of this tool (tf, spark, ...)", c => c.AnalysisTool, 64),
            Param<ListCommand>("serving", ParamKind.Flag, false, "only served (on) or unserved (off) versions", c => c.Serving, values: ["on", "off"])),
        Op(MlModelOperation.Summary, "mlmodel", "summary", "mlmodel summary (user=)? name= (version=)?",
            "Shows every field of one model version as name/value rows.",
            a => new SummaryCommand(a.Required("name"), a.Text("user"), a.Int("version")),
            User<SummaryCommand>(c => c.User), Name<SummaryCommand>(c => c.Name),
            Version<SummaryCommand>(c => c.Version, "version; defaults to the model's latest")),
        Op(MlModelOperation.Delete, "mlmodel", "delete", "mlmodel delete (user=)? name= version=",
            "Deletes one version: its metadata, files and exports. A served version must be stopped first.",
            a => new DeleteCommand(a.Required("name"), a.Int("version")!.Value, a.Text("user")),
            User<DeleteCommand>(c => c.User), Name<DeleteCommand>(c => c.Name),
            Version<DeleteCommand>(c => c.Version, "version to delete", required: true)),
        Op(MlModelOperation.Import, "mlmodel", "import",
            "mlmodel import name= analysis_tool= kind= algorithm= format= connector_id= path= (description=)? (parameter=)?",
            "Loads a model archive (tar, tar.gz, tar.bz2, tar.xz, tar.zst or zip, told apart by content) from an object store as a new version.",
            CreateImport,
            Name<ImportCommand>(c => c.Name, "model name to store under"),
            Param<ImportCommand>("analysis_tool", ParamKind.Choice, true, "tool that built the model", c => c.AnalysisTool, 16, ["tf", "spark"]),
            Param<ImportCommand>("kind", ParamKind.Text, true, "kind of learning (classification, regression, ...)", c => c.Kind, 256),
            Param<ImportCommand>("algorithm", ParamKind.Text, false,
                "algorithm (deep, RandomForestRegression, ...); required for tf, read from a spark model's metadata when left out", c => c.Algorithm, 256),
            Param<ImportCommand>("format", ParamKind.Choice, false, "model format: saved_model or h5 for tf (required), spark for spark",
                c => FormatName(c.Format), 16, ["saved_model", "h5", "spark"]),
            Param<ImportCommand>("connector_id", ParamKind.Text, true,
                "id of the stored object-storage connection: the user's own, or a shared one", c => c.ConnectorId, 128),
            Param<ImportCommand>("path", ParamKind.Text, true,
                "key of the archive in the connector's bucket, bucket left out; through a shared connector, under USERS/<user>/", c => c.Path, 1024),
            Param<ImportCommand>("description", ParamKind.Text, false, "description: 'quoted text' or base64(...)", c => c.Description, 65536),
            Param<ImportCommand>("parameter", ParamKind.Json, false,
                "training parameters as a JSON object; read from a spark model's metadata when left out", c => c.Parameter, 65536)),
        Op(MlModelOperation.Export, "mlmodel", "export", "mlmodel export (user=)? name= (version=)?",
            "Archives a model version as a tar and returns a download URL.",
            a => new ExportCommand(a.Required("name"), a.Text("user"), a.Int("version")),
            User<ExportCommand>(c => c.User), Name<ExportCommand>(c => c.Name),
            Version<ExportCommand>(c => c.Version, "version; defaults to the model's latest")),
        Op(MlModelOperation.Deploy, "mlmodel", "deploy", "mlmodel deploy (user=)? name= (version=)? (label=)?",
            "Serves a tf SavedModel version on TensorFlow Serving; label names it in free text (stable, 'CNN wineQ model', ...).",
            a => new DeployCommand(a.Required("name"), a.Text("user"), a.Int("version"), a.Text("label")),
            User<DeployCommand>(c => c.User), Name<DeployCommand>(c => c.Name),
            Version<DeployCommand>(c => c.Version, "version; defaults to the model's latest"),
            Param<DeployCommand>("label", ParamKind.Label, false,
                $"version label: any text up to {Names.MaxLabelLength} characters, such as stable or 'CNN wineQ model'", c => c.Label, Names.MaxLabelLength)),
        Op(MlModelOperation.Stop, "mlmodel", "stop", "mlmodel stop (user=)? name= (version=)?",
            "Stops serving a version, with any label that points at it.",
            a => new StopCommand(a.Required("name"), a.Text("user"), a.Int("version")),
            User<StopCommand>(c => c.User), Name<StopCommand>(c => c.Name),
            Version<StopCommand>(c => c.Version, "version; defaults to the latest deployed one")),
        Op(MlModelOperation.History, "mlmodel", "history", "mlmodel history (user=)? name= (version=)?",
            "The audit trail of a model: who changed what, when, and how it ended; newest first.",
            a => new HistoryCommand(a.Required("name"), a.Text("user"), a.Int("version")),
            User<HistoryCommand>(c => c.User), Name<HistoryCommand>(c => c.Name),
            Version<HistoryCommand>(c => c.Version, "only entries of this version")),
        Op(MlModelOperation.Status, "mlmodel", "status", "mlmodel status (user=)? name=",
            "Per version: what the registry, the serving config and the server say, so drift shows.",
            a => new StatusCommand(a.Required("name"), a.Text("user")),
            User<StatusCommand>(c => c.User), Name<StatusCommand>(c => c.Name)),
        Op(MlModelOperation.Check, "mlmodel", "check", "mlmodel check (user=)? (name=)? (version=)? (repair=true)?",
            "Administrators: finds versions whose files are missing or corrupt, files with no version, and serving drift; repair=true fixes what it can.",
            a => new CheckCommand(a.Text("user"), a.Text("name"), a.Flag("repair") ?? false, a.Int("version")),
            User<CheckCommand>(c => c.User, "only this owner's models"),
            Name<CheckCommand>(c => c.Name, "only this model (of every user, unless user= is given)", required: false),
            Version<CheckCommand>(c => c.Version, "only this version (with name=)"),
            Param<CheckCommand>("repair", ParamKind.Flag, false,
                "finish deletes, delete orphaned and temporary files, mark broken versions, bring serving back to the registry",
                c => c.Repair ? true : null, values: ["true", "false"], @default: false)),
    ]);

    /// <summary>
    /// The input dtypes <c>dtype=</c> takes: the spec's and IRIS's words (<c>float</c>, <c>double</c>,
    /// <c>int</c>, ...), NumPy's names and TensorFlow's own (<c>DT_FLOAT</c>, as its metadata API
    /// shows them); each names one of TensorFlow's numeric dtypes (the predict stage maps them).
    /// </summary>
    internal static readonly IReadOnlyList<string> Dtypes =
    [
        "float", "double", "half", "int", "long",
        "float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
        "DT_HALF", "DT_BFLOAT16", "DT_FLOAT", "DT_DOUBLE", "DT_INT8", "DT_INT16", "DT_INT32", "DT_INT64",
        "DT_UINT8", "DT_UINT16", "DT_UINT32", "DT_UINT64",
    ];

    public static CommandTable Serving { get; } = new("serving",
    [
        Op(MlModelOperation.ServingStatus, "serving", "status", "serving status (user=)? name=",
            "Per served version: TensorFlow Serving's state (START, LOADING, AVAILABLE, UNLOADING, END) and the version's label.",
            a => new ServingStatusCommand(a.Required("name"), a.Text("user")),
            User<ServingStatusCommand>(c => c.User), Name<ServingStatusCommand>(c => c.Name)),
        Op(MlModelOperation.ServingPredict, "serving", "predict",
            "... | serving predict (user=)? name= (col=)? (shape=[(...)])? (dtype=)? (layer_name=)? (version=)? (tag=(...))?",
            "Predicts with a served model for each row of the stage before: adds predictions, probability and, with tag=, interpreted.",
            a => new ServingPredictCommand(a.Required("name"), a.Text("user"), a.Text("col"), a.Shapes("shape"), a.Text("dtype"),
                a.Text("layer_name"), a.Int("version"), a.Words("tag")),
            User<ServingPredictCommand>(c => c.User), Name<ServingPredictCommand>(c => c.Name),
            Param<ServingPredictCommand>("col", ParamKind.Text, false, "the column that holds each row's input: a JSON array or comma-separated numbers",
                c => c.Column, 256, @default: "feature"),
            Param<ServingPredictCommand>("shape", ParamKind.Shapes, false,
                "the input's shape per row, one tuple per model input: [(12,)] or [(28,28,1)]; defaults to the model's signature", c => c.Shape),
            Param<ServingPredictCommand>("dtype", ParamKind.Choice, false, "the input's dtype; defaults to the model's signature", c => c.Dtype, 16, Dtypes),
            Param<ServingPredictCommand>("layer_name", ParamKind.Text, false,
                "the input's name in the model's signature, to send named inputs; defaults to the signature's only input", c => c.LayerName, 256),
            Version<ServingPredictCommand>(c => c.Version, "served version; defaults to the latest available one"),
            Param<ServingPredictCommand>("tag", ParamKind.Words, false,
                "class names by output index: (setosa,versicolor,virginica); adds the interpreted column", c => c.Tag)),
    ]);

    /// <summary>Every command table, <c>mlmodel</c> first.</summary>
    public static IReadOnlyList<CommandTable> All { get; } = [MlModel, Serving];

    private static readonly OperationSpec[] ByOperation = All.SelectMany(t => t.Operations).OrderBy(o => (int)o.Operation).ToArray();

    public static OperationSpec Get(MlModelOperation operation) => ByOperation[(int)operation];

    /// <summary>The table of <paramref name="command"/> (<c>mlmodel</c>, <c>serving</c>, ASCII case-insensitive), or null.</summary>
    public static CommandTable? Find(string command)
    {
        foreach (var table in All)
        {
            if (System.Text.Ascii.EqualsIgnoreCase(table.Command, command))
            {
                return table;
            }
        }
        return null;
    }

    public static string FormatName(ModelFormat format) => format switch
    {
        ModelFormat.SavedModel => "saved_model",
        ModelFormat.H5 => "h5",
        _ => "spark",
    };

    // import's rules across parameters: tf needs a format and an algorithm; the format must fit the tool.
    private static ImportCommand CreateImport(BoundArguments a)
    {
        var tool = a.Required("analysis_tool");
        var format = a.Text("format");
        var algorithm = a.Text("algorithm");
        if (tool == "tf")
        {
            if (format is null || algorithm is null)
            {
                List<string> missing = format is null && algorithm is null ? ["algorithm", "format"] : [format is null ? "format" : "algorithm"];
                throw a.Missing(missing,
                    "a tf model needs " + (format is null ? "format=saved_model or format=h5" : "")
                    + (format is null && algorithm is null ? " and " : "") + (algorithm is null ? "its algorithm (for example algorithm=deep)" : ""));
            }
            if (format == "spark")
            {
                throw a.Invalid("format", "invalid value for 'format': 'spark' with analysis_tool=tf", "a tf model is format=saved_model or format=h5");
            }
        }
        else if (format is not null and not "spark")
        {
            throw a.Invalid("format", $"invalid value for 'format': '{format}' with analysis_tool=spark", "a spark model is format=spark (or leave format out)");
        }
        var modelFormat = format switch
        {
            "saved_model" => ModelFormat.SavedModel,
            "h5" => ModelFormat.H5,
            _ => ModelFormat.Spark,
        };
        return new ImportCommand(a.Required("name"), tool, a.Required("kind"), algorithm, modelFormat, a.Required("connector_id"),
            a.Required("path"), a.Text("description"), a.Text("parameter"));
    }
}
