using MlModel.Dsl.Backends;

namespace MlModel.Dsl.Execution.Archives;

/// <summary>What a model's files say about it once the archive has been read.</summary>
/// <param name="Filename">The main file (saved_model.pb, model.h5, metadata).</param>
/// <param name="Algorithm">From a Spark model's metadata (<c>class</c>), else null.</param>
/// <param name="Parameter">From a Spark model's metadata (<c>paramMap</c>), else null.</param>
internal sealed record LayoutFacts(string Filename, string? Algorithm, string? Parameter)
{
    /// <summary>The default serving signature's input keys (a SavedModel), or Spark's <c>featuresCol</c>.</summary>
    public string? Feature { get; init; }

    /// <summary>The default serving signature's output keys (a SavedModel), or Spark's <c>labelCol</c>.</summary>
    public string? Label { get; init; }

    /// <summary>A SavedModel's serving signatures as <see cref="ModelSignature.ToJson"/> writes them.</summary>
    public string? Signature { get; init; }
}

/// <summary>
/// The files each format must hold (spec Part A's import table, B.3), checked on the paths
/// of an archive after its top folder is stripped.
/// </summary>
internal static class ModelLayout
{
    public const string SavedModelFile = "saved_model.pb";
    public const string H5File = "model.h5";
    public const string ManifestFile = "MANIFEST.sha256";

    /// <summary>HDF5's format signature (HDF5 spec, "Format Signature"): \x89HDF\r\n\x1a\n.</summary>
    public static ReadOnlySpan<byte> Hdf5Signature => [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

    /// <summary>Whether the stripping loop should stop at this root: the format's marker is here.</summary>
    public static bool HasMarker(ModelFormat format, IEnumerable<string> paths) => format switch
    {
        ModelFormat.SavedModel => paths.Contains(SavedModelFile),
        ModelFormat.H5 => paths.Any(p => !p.Contains('/') && p.EndsWith(".h5", StringComparison.OrdinalIgnoreCase)),
        _ => paths.Any(p => p.StartsWith("metadata/", StringComparison.Ordinal)),
    };

    /// <summary>Checks the layout and returns what it tells; throws a message (without prefix) when it is wrong.</summary>
    public static LayoutFacts Validate(ModelFormat format, IReadOnlyCollection<string> paths, ModelContent content)
    {
        var top = paths.Select(p => p.Split('/')[0]).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var found = "found: " + string.Join(", ", top.Take(8)) + (top.Count > 8 ? ", ..." : "");
        var hasSavedModel = paths.Contains(SavedModelFile);
        var h5Files = paths.Where(p => !p.Contains('/') && p.EndsWith(".h5", StringComparison.OrdinalIgnoreCase)).ToList();
        var isSpark = paths.Any(p => p.StartsWith("metadata/", StringComparison.Ordinal));

        switch (format)
        {
            case ModelFormat.SavedModel:
                if (hasSavedModel)
                {
                    return ServingFacts(content.SavedModel(SavedModelFile));
                }
                if (h5Files.Count > 0)
                {
                    throw new ArchiveException($"format=saved_model, but the archive holds an HDF5 model ({h5Files[0]}) and no saved_model.pb; import it with format=h5");
                }
                if (paths.Contains("export.meta") || paths.Any(p => p.EndsWith("/export.meta", StringComparison.Ordinal)))
                {
                    throw new ArchiveException($"the archive holds no saved_model.pb ({found}): it looks like a legacy TensorFlow session-bundle export, not a SavedModel; re-export it with tf.saved_model.save");
                }
                throw new ArchiveException($"the archive holds no saved_model.pb at its root or under a single top folder ({found}); a SavedModel directory has saved_model.pb with variables/ and assets/");
            case ModelFormat.H5:
                if (hasSavedModel)
                {
                    throw new ArchiveException("format=h5, but the archive holds a SavedModel (saved_model.pb); import it with format=saved_model");
                }
                var h5 = paths.Contains(H5File) ? H5File : h5Files.Count == 1 ? h5Files[0] : null;
                if (h5 is null)
                {
                    throw new ArchiveException(h5Files.Count > 1
                        ? $"the archive holds several .h5 files ({string.Join(", ", h5Files)}); name the model model.h5"
                        : $"the archive holds no model.h5 ({found})");
                }
                if (content.Head(h5) is not { } bytes || !bytes.Span.StartsWith(Hdf5Signature))
                {
                    throw new ArchiveException($"{h5} is not an HDF5 file: it does not start with the HDF5 signature");
                }
                return new LayoutFacts(h5, null, null);
            default:
                if (hasSavedModel)
                {
                    throw new ArchiveException("analysis_tool=spark, but the archive holds a TensorFlow SavedModel (saved_model.pb); import it with analysis_tool=tf format=saved_model");
                }
                if (!isSpark)
                {
                    throw new ArchiveException($"the archive holds no Spark model metadata (metadata/part-00000) ({found}); a Spark ML model is the folder that model.save(path) writes, with metadata/ and data/");
                }
                var hasData = paths.Any(p => p.StartsWith("data/", StringComparison.Ordinal) && p.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase));
                var hasStages = paths.Any(p => p.StartsWith("stages/", StringComparison.Ordinal));
                if (!hasData && !hasStages)
                {
                    throw new ArchiveException("the archive has Spark metadata/ but no data/ folder with parquet files (nor stages/ of a PipelineModel)");
                }
                if (content.BadParquet() is { } bad)
                {
                    throw new ArchiveException($"{bad.Path} is not a parquet file: {bad.Problem}");
                }
                return SparkMetadata.Describe(paths, content);
        }
    }

    /// <summary>
    /// A SavedModel TensorFlow Serving can load: saved_model.pb parses, and has a MetaGraph tagged
    /// <c>serve</c>, whose signatures are recorded; feature and label are the default signature's
    /// input and output keys (comma-separated when several).
    /// </summary>
    private static LayoutFacts ServingFacts(SavedModelFacts? facts)
    {
        if (facts is null)
        {
            // Every saved_model.pb of an archive is read on its way in; this one was not.
            throw new InvalidOperationException("saved_model.pb was stored without being read");
        }
        if (facts.Problem is { } problem)
        {
            throw new ArchiveException(facts.NotProtobuf
                ? $"{SavedModelFile} is not a SavedModel protobuf: {problem}"
                : $"{SavedModelFile} {problem}");
        }
        var preferred = ModelSignature.DefaultOf(facts.Signatures);
        static string? Keys(IReadOnlyList<TensorSpec>? tensors) =>
            tensors is { Count: > 0 } ? string.Join(",", tensors.Select(t => t.Key)) : null;
        return new LayoutFacts(SavedModelFile, null, null)
        {
            Feature = Keys(preferred?.Inputs),
            Label = Keys(preferred?.Outputs),
            Signature = ModelSignature.ToJson(facts.Signatures),
        };
    }
}
