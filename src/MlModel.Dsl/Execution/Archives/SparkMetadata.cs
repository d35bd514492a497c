using System.Globalization;
using System.Text.Json;

namespace MlModel.Dsl.Execution.Archives;

/// <summary>
/// What a Spark ML model's metadata tells: Spark's <c>DefaultParamsWriter</c> writes
/// <c>metadata/part-00000</c> as one JSON line with <c>class</c>, <c>timestamp</c>,
/// <c>sparkVersion</c>, <c>uid</c>, <c>paramMap</c> (the params set; every param before Spark
/// 2.4) and, from 2.4, <c>defaultParamMap</c>. A <c>PipelineModel</c>'s <c>paramMap</c> holds
/// <c>stageUids</c>, and each stage is saved the same way under <c>stages/&lt;index&gt;_&lt;uid&gt;/</c>
/// (Pipeline.SharedReadWrite), the index zero-padded to the number of stages' digits.
/// </summary>
internal static class SparkMetadata
{
    private const string PipelineModelClass = "org.apache.spark.ml.PipelineModel";

    /// <summary>Pipelines inside pipelines, at most this deep.</summary>
    private const int MaxNesting = 8;

    /// <summary>Whether a path is a metadata part file that import keeps for this (the model's, or a stage's).</summary>
    public static bool IsMetadataPart(string path)
    {
        var slash = path.LastIndexOf('/');
        return slash >= 8 && path.AsSpan(0, slash).EndsWith("metadata", StringComparison.Ordinal)
            && (slash == 8 || path[slash - 9] == '/')
            && path.AsSpan(slash + 1).StartsWith("part-", StringComparison.Ordinal);
    }

    /// <summary>
    /// The facts of the model whose folder is <paramref name="paths"/>' root: algorithm and
    /// parameter from its class and paramMap, feature and label from featuresCol and labelCol;
    /// for a PipelineModel, those of its last predictor stage (a stage with featuresCol or
    /// predictionCol), or of its last stage when no stage predicts.
    /// </summary>
    public static LayoutFacts Describe(IReadOnlyCollection<string> paths, ModelContent content)
    {
        var model = Read(paths, content, "");
        for (var depth = 0; model.Class == PipelineModelClass; depth++)
        {
            if (depth == MaxNesting)
            {
                throw new InvalidDataException($"the PipelineModel nests pipelines deeper than {MaxNesting} levels");
            }
            model = LastPredictor(paths, content, model);
        }
        return new LayoutFacts("metadata", model.Algorithm, model.ParamMap)
        {
            Feature = model.Param("featuresCol"),
            Label = model.Param("labelCol"),
        };
    }

    private sealed record Stage(string Prefix, string? Class, string? ParamMap, JsonElement Params, JsonElement Defaults)
    {
        public string? Algorithm => Class is null ? null : Class[(Class.LastIndexOf('.') + 1)..];

        public string? Param(string name) =>
            Text(Params, name) ?? Text(Defaults, name);

        public bool Predicts => Param("featuresCol") is not null || Param("predictionCol") is not null;

        private static string? Text(JsonElement map, string name) =>
            map.ValueKind == JsonValueKind.Object && map.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
    }

    private static Stage LastPredictor(IReadOnlyCollection<string> paths, ModelContent content, Stage pipeline)
    {
        var stagesPrefix = pipeline.Prefix + "stages/";
        var folders = paths
            .Where(p => p.StartsWith(stagesPrefix, StringComparison.Ordinal) && p.IndexOf('/', stagesPrefix.Length) > 0)
            .Select(p => p[stagesPrefix.Length..p.IndexOf('/', stagesPrefix.Length)])
            .Distinct(StringComparer.Ordinal)
            .ToList();
        var uids = StageUids(pipeline);
        var ordered = new List<string>();
        if (uids is not null)
        {
            foreach (var (uid, index) in uids.Select((u, i) => (u, i)))
            {
                // <index>_<uid>, the index padded with zeros (Spark 2.x and 3.x).
                var folder = folders.FirstOrDefault(f => f.EndsWith("_" + uid, StringComparison.Ordinal)
                    && int.TryParse(f.AsSpan(0, f.Length - uid.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var i) && i == index);
                ordered.Add(folder ?? throw new InvalidDataException(
                    $"the PipelineModel's stage {index} ({uid}) has no folder {stagesPrefix}{index}_{uid}/"));
            }
        }
        else
        {
            ordered.AddRange(folders.OrderBy(f => int.TryParse(f.Split('_')[0], NumberStyles.None, CultureInfo.InvariantCulture, out var i) ? i : int.MaxValue)
                .ThenBy(f => f, StringComparer.Ordinal));
        }
        if (ordered.Count == 0)
        {
            throw new InvalidDataException($"the PipelineModel has no stages (no folders under {stagesPrefix})");
        }
        var stages = ordered.Select(f => Read(paths, content, stagesPrefix + f + "/")).ToList();
        return stages.LastOrDefault(s => s.Predicts) ?? stages[^1];
    }

    private static List<string>? StageUids(Stage pipeline)
    {
        if (pipeline.Params.ValueKind != JsonValueKind.Object || !pipeline.Params.TryGetProperty("stageUids", out var uids) || uids.ValueKind != JsonValueKind.Array)
        {
            return null;
        }
        return [.. uids.EnumerateArray().Where(u => u.ValueKind == JsonValueKind.String).Select(u => u.GetString()!)];
    }

    /// <summary>The metadata under <paramref name="prefix"/> (its first part file by name).</summary>
    private static Stage Read(IReadOnlyCollection<string> paths, ModelContent content, string prefix)
    {
        var metadataPrefix = prefix + "metadata/part-";
        var part = paths
            .Where(p => p.StartsWith(metadataPrefix, StringComparison.Ordinal) && p.IndexOf('/', metadataPrefix.Length) < 0)
            .Order(StringComparer.Ordinal)
            .FirstOrDefault();
        var text = part is null ? null : content.SparkMetadata(part);
        if (part is not null && text is null)
        {
            // Kept only up to a total (ModelArchiveReader.MaxSparkMetadataBytes): many large ones.
            throw new InvalidDataException($"the Spark metadata part file {part} was not read: the archive's metadata part files take more than the 16 MiB import reads of them");
        }
        if (text is null)
        {
            throw new InvalidDataException(prefix.Length == 0
                ? "the Spark metadata/ folder holds no part file with the model's JSON metadata"
                : $"the PipelineModel's stage {prefix.TrimEnd('/')} has no metadata part file ({prefix}metadata/part-00000)");
        }
        try
        {
            using var doc = JsonDocument.Parse(text.Split('\n', 2)[0]);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new JsonException();
            }
            string? cls = root.TryGetProperty("class", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
            JsonElement Map(string name) =>
                root.TryGetProperty(name, out var m) && m.ValueKind == JsonValueKind.Object ? m.Clone() : default;
            var paramMap = Map("paramMap");
            return new Stage(prefix, cls, paramMap.ValueKind == JsonValueKind.Object ? paramMap.GetRawText() : null, paramMap, Map("defaultParamMap"));
        }
        catch (JsonException)
        {
            throw new InvalidDataException(prefix.Length == 0
                ? "the Spark metadata part file is not the JSON that Spark's model writer produces"
                : $"the Spark metadata part file {part} is not the JSON that Spark's model writer produces");
        }
    }
}
