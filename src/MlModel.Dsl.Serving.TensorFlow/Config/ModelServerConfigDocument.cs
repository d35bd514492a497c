namespace MlModel.Dsl.Serving.TensorFlow.Config;

// Typed view over the generic tree, for the part of ModelServerConfig this library manages
// (tensorflow_serving/config/model_server_config.proto):
//
//   message ModelServerConfig { oneof config { ModelConfigList model_config_list = 1;
//                                              google.protobuf.Any custom_model_config = 2; } }
//   message ModelConfigList   { repeated ModelConfig config = 1; }
//   message ModelConfig       { string name = 1; string base_path = 2; string model_platform = 4;
//                               FileSystemStoragePathSourceConfig.ServableVersionPolicy model_version_policy = 7;
//                               map<string, int64> version_labels = 8; LoggingConfig logging_config = 6; ... }
//
// and ServableVersionPolicy (file_system_storage_path_source.proto) has oneof latest / all /
// specific { repeated int64 versions = 1; }. Edits touch only these fields; every other field of
// a config entry, and every other entry, stays in the tree untouched.

/// <summary>A parsed ModelServerConfig file, edited in place.</summary>
internal sealed class ModelServerConfigDocument
{
    private const string ModelConfigListField = "model_config_list";
    private const string CustomModelConfigField = "custom_model_config";
    private const string ConfigField = "config";

    private ModelServerConfigDocument(TextProtoMessage root) => Root = root;

    public TextProtoMessage Root { get; }

    public static ModelServerConfigDocument Empty() => new(new TextProtoMessage());

    /// <summary>Parses the text; a syntax error becomes <see cref="TensorFlowServingErrorKind.ConfigInvalid"/>.</summary>
    public static ModelServerConfigDocument Parse(string text, string? source = null)
    {
        try
        {
            return new ModelServerConfigDocument(TextProtoParser.Parse(text));
        }
        catch (TextProtoParseException e)
        {
            throw new TensorFlowServingException(
                TensorFlowServingErrorKind.ConfigInvalid,
                $"The TensorFlow Serving model config {source ?? "text"} is not a valid text-format ModelServerConfig: {e.Message}",
                e);
        }
    }

    public bool UsesCustomModelConfig => Root.All(CustomModelConfigField).Any();

    public IReadOnlyList<ModelConfigEntry> Models =>
        Root.Message(ModelConfigListField) is { } list
            ? list.All(ConfigField).Select(f => f.Value).OfType<TextProtoMessage>().Select(m => new ModelConfigEntry(m)).ToList()
            : [];

    public ModelConfigEntry? Find(string name) => Models.LastOrDefault(m => m.Name == name);

    /// <summary>Appends a new entry <c>config { name base_path model_platform }</c> to model_config_list.</summary>
    public ModelConfigEntry AddModel(string name, string basePath, string platform)
    {
        if (UsesCustomModelConfig)
        {
            throw new TensorFlowServingException(
                TensorFlowServingErrorKind.ConfigInvalid,
                "The TensorFlow Serving model config uses custom_model_config; only a model_config_list can be managed.");
        }

        var node = new TextProtoMessage();
        node.Fields.Add(new TextProtoField("name", TextProtoScalar.FromString(name)));
        node.Fields.Add(new TextProtoField("base_path", TextProtoScalar.FromString(basePath)));
        node.Fields.Add(new TextProtoField("model_platform", TextProtoScalar.FromString(platform)));
        Root.GetOrAddMessage(ModelConfigListField).Fields.Add(new TextProtoField(ConfigField, node));
        return new ModelConfigEntry(node);
    }

    /// <summary>
    /// Removes every entry called <paramref name="name"/>. The (possibly empty) model_config_list stays:
    /// an empty file would leave the oneof unset, which TF Serving treats as "take no action"
    /// (server_core.cc ReloadConfig: "Taking no action for empty config") instead of unloading.
    /// </summary>
    public bool RemoveModel(string name)
    {
        if (Root.Message(ModelConfigListField) is not { } list)
        {
            return false;
        }

        return list.Fields.RemoveAll(f => f.Name == ConfigField && f.Value is TextProtoMessage m && new ModelConfigEntry(m).Name == name) > 0;
    }

    public ModelServerConfigDocument DeepClone() => new(Root.DeepClone());

    public string ToText() => TextProtoWriter.Write(Root);
}

/// <summary>One <c>config { ... }</c> entry of model_config_list.</summary>
internal sealed class ModelConfigEntry(TextProtoMessage node)
{
    private const string PolicyField = "model_version_policy";
    private const string SpecificField = "specific";
    private const string VersionsField = "versions";
    private const string LabelsField = "version_labels";

    public TextProtoMessage Node { get; } = node;

    public string? Name => Node.Scalar("name")?.AsText();

    public string? BasePath => Node.Scalar("base_path")?.AsText();

    public string? ModelPlatform => Node.Scalar("model_platform")?.AsText();

    /// <summary>latest / all / specific (or another name a newer TF Serving knows); null without a policy.</summary>
    public string? VersionPolicyKind => Node.Message(PolicyField)?.Fields.LastOrDefault()?.Name;

    public IReadOnlyList<long> SpecificVersions =>
        Node.Message(PolicyField)?.Message(SpecificField) is { } specific
            ? specific.All(VersionsField).Select(f => ToVersion(f.Value)).Distinct().ToList()
            : [];

    public bool HasVersion(long version) => SpecificVersions.Contains(version);

    /// <summary>Adds <c>versions: N</c> under model_version_policy.specific, keeping ascending order.</summary>
    public bool AddSpecificVersion(long version)
    {
        if (HasVersion(version))
        {
            return false;
        }

        var specific = Node.GetOrAddMessage(PolicyField).GetOrAddMessage(SpecificField);
        var field = new TextProtoField(VersionsField, TextProtoScalar.FromInt64(version));
        var insertAt = specific.Fields.FindIndex(f => f.Name == VersionsField && ToVersion(f.Value) > version);
        if (insertAt < 0)
        {
            var lastVersion = specific.Fields.FindLastIndex(f => f.Name == VersionsField);
            insertAt = lastVersion < 0 ? specific.Fields.Count : lastVersion + 1;
        }

        specific.Fields.Insert(insertAt, field);
        return true;
    }

    public bool RemoveSpecificVersion(long version)
    {
        if (Node.Message(PolicyField)?.Message(SpecificField) is not { } specific)
        {
            return false;
        }

        return specific.Fields.RemoveAll(f => f.Name == VersionsField && ToVersion(f.Value) == version) > 0;
    }

    /// <summary>Labels as TF Serving reads the map (a later entry for the same key wins).</summary>
    public IReadOnlyDictionary<string, long> Labels
    {
        get
        {
            var labels = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var entry in LabelEntries())
            {
                if (entry.Key is not null)
                {
                    labels[entry.Key] = entry.Value;
                }
            }

            return labels;
        }
    }

    /// <summary>Points <paramref name="label"/> at <paramref name="version"/>; updates in place or appends after the policy / last label.</summary>
    public bool SetLabel(string label, long version)
    {
        if (Labels.TryGetValue(label, out var current) && current == version)
        {
            return false;
        }

        var entryNode = new TextProtoMessage();
        entryNode.Fields.Add(new TextProtoField("key", TextProtoScalar.FromString(label)));
        entryNode.Fields.Add(new TextProtoField("value", TextProtoScalar.FromInt64(version)));
        var field = new TextProtoField(LabelsField, entryNode);

        var existing = Node.Fields.FindIndex(f => f.Name == LabelsField && LabelKey(f) == label);
        if (existing >= 0)
        {
            Node.Fields[existing] = field;
            Node.Fields.RemoveAll(f => f.Name == LabelsField && LabelKey(f) == label && !ReferenceEquals(f, field));
            return true;
        }

        var anchor = Node.Fields.FindLastIndex(f => f.Name == LabelsField);
        if (anchor < 0)
        {
            anchor = Node.Fields.FindLastIndex(f => f.Name == PolicyField);
        }

        Node.Fields.Insert(anchor < 0 ? Node.Fields.Count : anchor + 1, field);
        return true;
    }

    public bool RemoveLabel(string label) =>
        Node.Fields.RemoveAll(f => f.Name == LabelsField && LabelKey(f) == label) > 0;

    /// <summary>Removes every label pointing at <paramref name="version"/>; returns their names.</summary>
    public IReadOnlyList<string> RemoveLabelsPointingTo(long version)
    {
        var names = Labels.Where(kv => kv.Value == version).Select(kv => kv.Key).ToList();
        foreach (var name in names)
        {
            RemoveLabel(name);
        }

        return names;
    }

    private IEnumerable<(string? Key, long Value)> LabelEntries()
    {
        foreach (var field in Node.All(LabelsField))
        {
            if (field.Value is not TextProtoMessage entry)
            {
                continue;
            }

            var key = entry.Scalar("key")?.AsText() ?? string.Empty;
            var value = entry.Scalar("value") is { } v ? ToVersion(v) : 0;
            yield return (key, value);
        }
    }

    private static string? LabelKey(TextProtoField field) =>
        field.Value is TextProtoMessage entry ? entry.Scalar("key")?.AsText() ?? string.Empty : null;

    private static long ToVersion(object value)
    {
        if (value is TextProtoScalar scalar && scalar.TryGetInt64(out var version))
        {
            return version;
        }

        throw new TensorFlowServingException(
            TensorFlowServingErrorKind.ConfigInvalid,
            $"The TensorFlow Serving model config has a version that is not an integer: {value}");
    }
}
