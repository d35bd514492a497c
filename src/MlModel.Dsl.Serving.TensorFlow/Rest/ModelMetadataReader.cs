using System.Globalization;
using System.Text.Json;
using MlModel.Dsl.Backends;

namespace MlModel.Dsl.Serving.TensorFlow.Rest;

/// <summary>
/// Reads the answer of TensorFlow Serving's model metadata API
/// (<c>GET /v1/models/${MODEL_NAME}[/versions/${VERSION}|/labels/${LABEL}]/metadata</c>,
/// tensorflow_serving/g3doc/api_rest.md "Model Metadata API"). http_rest_api_util.cc ToJsonString
/// writes it as <c>{"model_spec": ModelSpec, "metadata": {"signature_def": SignatureDefMap}}</c>,
/// each part in protobuf's JSON mapping with the proto field names: a version is an int64 (a
/// string, <c>"123"</c>), a dtype the DataType enum's name (<c>"DT_FLOAT"</c>), a dimension's size
/// an int64 string (<c>"-1"</c> where unknown), and a tensor of unknown rank has
/// <c>"unknown_rank": true</c> and no dims. The REST handler's own test compares its answer for
/// half_plus_two with servables/tensorflow/testdata/saved_model_half_plus_two_2_versions_metadata.json.
/// </summary>
internal static class ModelMetadataReader
{
    /// <summary>The version the answer describes (its <c>model_spec.version</c>) and every signature, by name.</summary>
    /// <exception cref="InvalidDataException">The text is not that answer, in words.</exception>
    public static (long? Version, IReadOnlyList<ModelSignature> Signatures) Read(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException("the answer is not a JSON object");
            }

            long? version = root.TryGetProperty("model_spec", out var spec) && spec.ValueKind == JsonValueKind.Object
                && spec.TryGetProperty("version", out var v) ? Int64(v) : null;

            if (!root.TryGetProperty("metadata", out var metadata) || metadata.ValueKind != JsonValueKind.Object
                || !metadata.TryGetProperty("signature_def", out var map) || map.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException("the answer has no metadata.signature_def");
            }

            var signatures = new List<ModelSignature>();
            if (map.TryGetProperty("signature_def", out var defs))
            {
                if (defs.ValueKind != JsonValueKind.Object)
                {
                    throw new InvalidDataException("metadata.signature_def.signature_def is not an object");
                }

                foreach (var def in defs.EnumerateObject())
                {
                    if (def.Value.ValueKind != JsonValueKind.Object)
                    {
                        throw new InvalidDataException($"signature '{def.Name}' is not an object");
                    }

                    signatures.Add(new ModelSignature(
                        def.Name,
                        def.Value.TryGetProperty("method_name", out var method) && method.ValueKind == JsonValueKind.String && method.GetString() is { Length: > 0 } m ? m : null,
                        Tensors(def.Value, "inputs", def.Name),
                        Tensors(def.Value, "outputs", def.Name)));
                }
            }

            signatures.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
            return (version, signatures);
        }
        catch (Exception e) when (e is JsonException or FormatException or OverflowException or InvalidOperationException)
        {
            throw new InvalidDataException(e.Message, e);
        }
    }

    private static List<TensorSpec> Tensors(JsonElement signature, string property, string signatureName)
    {
        var result = new List<TensorSpec>();
        if (!signature.TryGetProperty(property, out var map))
        {
            return result; // proto3 JSON leaves out an empty map unless asked to print it
        }

        if (map.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"{property} of signature '{signatureName}' is not an object");
        }

        foreach (var tensor in map.EnumerateObject())
        {
            var info = tensor.Value;
            string? name = info.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
            var dtype = info.TryGetProperty("dtype", out var d)
                ? d.ValueKind == JsonValueKind.Number ? "DT_" + d.GetInt32().ToString(CultureInfo.InvariantCulture) : d.GetString() ?? "DT_INVALID"
                : "DT_INVALID"; // proto3 JSON may leave out the default, DT_INVALID (0)
            result.Add(new TensorSpec(tensor.Name, name, dtype, Shape(info)));
        }

        result.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        return result;
    }

    private static long[]? Shape(JsonElement info)
    {
        if (!info.TryGetProperty("tensor_shape", out var shape) || shape.ValueKind != JsonValueKind.Object)
        {
            return null; // no shape at all: nothing is known, not even the rank
        }

        if (shape.TryGetProperty("unknown_rank", out var unknown) && unknown.ValueKind == JsonValueKind.True)
        {
            return null;
        }

        if (!shape.TryGetProperty("dim", out var dims))
        {
            return []; // a scalar: known rank 0
        }

        var result = new long[dims.GetArrayLength()];
        var i = 0;
        foreach (var dim in dims.EnumerateArray())
        {
            // A dim without "size" has the proto default 0.
            result[i++] = dim.TryGetProperty("size", out var size) ? Int64(size) : 0;
        }

        return result;
    }

    /// <summary>An int64 in protobuf's JSON mapping: a string (<c>"-1"</c>), a number, or an Int64Value wrapper's <c>{"value": ...}</c>.</summary>
    private static long Int64(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String => long.Parse(e.GetString()!, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture),
        JsonValueKind.Object when e.TryGetProperty("value", out var value) => Int64(value),
        _ => e.GetInt64(),
    };
}
