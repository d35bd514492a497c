using System.Buffers;
using System.Text.Json;

namespace MlModel.Dsl.Backends;

/// <summary>
/// One tensor of a <see cref="ModelSignature"/>: an input the model takes or an output it gives,
/// as TensorFlow's <c>TensorInfo</c> describes it (meta_graph.proto).
/// </summary>
/// <param name="Key">The signature's key for it (<c>x</c>, <c>Conv1_input</c>): what TensorFlow Serving's REST and gRPC requests name.</param>
/// <param name="Name">The graph tensor (<c>x:0</c>); null for sparse and composite tensors, which have several.</param>
/// <param name="DType">TensorFlow's <c>DataType</c> name (<c>DT_FLOAT</c>, types.proto); <c>DT_&lt;n&gt;</c> for a number this library does not know.</param>
/// <param name="Shape">The dimensions, -1 where unknown (<c>[-1, 28, 28, 1]</c>); empty for a scalar; null when even the rank is unknown.</param>
public sealed record TensorSpec(string Key, string? Name, string DType, IReadOnlyList<long>? Shape);

/// <summary>
/// A serving signature of a TensorFlow SavedModel (its <c>SignatureDef</c>): what a request to
/// TensorFlow Serving sends and gets back. Import records the signatures of the MetaGraph tagged
/// <c>serve</c> in <see cref="ModelVersion.Signature"/>.
/// </summary>
/// <param name="Name">The signature's key (<c>serving_default</c>).</param>
/// <param name="Method">Its <c>method_name</c> (<c>tensorflow/serving/predict</c>), or null.</param>
/// <param name="Inputs">Its inputs, by key.</param>
/// <param name="Outputs">Its outputs, by key.</param>
public sealed record ModelSignature(string Name, string? Method, IReadOnlyList<TensorSpec> Inputs, IReadOnlyList<TensorSpec> Outputs)
{
    /// <summary>The signature TensorFlow Serving uses when a request names none.</summary>
    public const string ServingDefault = "serving_default";

    /// <summary>
    /// The signature a request uses by default: <c>serving_default</c>, else the first by name
    /// that is not TensorFlow's own (<c>__saved_model_init_op</c>); null when there is none.
    /// </summary>
    public static ModelSignature? DefaultOf(IEnumerable<ModelSignature> signatures)
    {
        ArgumentNullException.ThrowIfNull(signatures);
        ModelSignature? first = null;
        foreach (var s in signatures)
        {
            if (s.Name == ServingDefault)
            {
                return s;
            }
            if (!s.Name.StartsWith("__", StringComparison.Ordinal) && (first is null || string.CompareOrdinal(s.Name, first.Name) < 0))
            {
                first = s;
            }
        }
        return first;
    }

    /// <summary>
    /// Reads the JSON of <see cref="ModelVersion.Signature"/> (written by <see cref="ToJson"/>);
    /// an empty list for null or empty text.
    /// </summary>
    /// <exception cref="JsonException">The text is not that JSON.</exception>
    public static IReadOnlyList<ModelSignature> ParseJson(string? json)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            return [];
        }
        using var document = JsonDocument.Parse(json);
        if (document.RootElement.ValueKind != JsonValueKind.Array)
        {
            throw new JsonException("model signatures are a JSON array");
        }
        var result = new List<ModelSignature>();
        foreach (var s in document.RootElement.EnumerateArray())
        {
            result.Add(new ModelSignature(
                Text(s, "name") ?? throw new JsonException("a model signature has no name"),
                Text(s, "method"),
                Tensors(s, "inputs"),
                Tensors(s, "outputs")));
        }
        return result;
    }

    /// <summary>
    /// The signatures as compact JSON, the form <see cref="ModelVersion.Signature"/> stores:
    /// <c>[{"name":"serving_default","method":"tensorflow/serving/predict","inputs":[{"key":"x","name":"x:0","dtype":"DT_FLOAT","shape":[-1,1]}],"outputs":[...]}]</c>,
    /// with <c>"shape":null</c> for an unknown rank.
    /// </summary>
    public static string ToJson(IEnumerable<ModelSignature> signatures)
    {
        ArgumentNullException.ThrowIfNull(signatures);
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartArray();
            foreach (var s in signatures)
            {
                w.WriteStartObject();
                w.WriteString("name", s.Name);
                w.WriteString("method", s.Method);
                WriteTensors(w, "inputs", s.Inputs);
                WriteTensors(w, "outputs", s.Outputs);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteTensors(Utf8JsonWriter w, string property, IReadOnlyList<TensorSpec> tensors)
    {
        w.WriteStartArray(property);
        foreach (var t in tensors)
        {
            w.WriteStartObject();
            w.WriteString("key", t.Key);
            w.WriteString("name", t.Name);
            w.WriteString("dtype", t.DType);
            if (t.Shape is null)
            {
                w.WriteNull("shape");
            }
            else
            {
                w.WriteStartArray("shape");
                foreach (var d in t.Shape)
                {
                    w.WriteNumberValue(d);
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static string? Text(JsonElement e, string property) =>
        e.TryGetProperty(property, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static List<TensorSpec> Tensors(JsonElement e, string property)
    {
        var result = new List<TensorSpec>();
        if (!e.TryGetProperty(property, out var list) || list.ValueKind != JsonValueKind.Array)
        {
            return result;
        }
        foreach (var t in list.EnumerateArray())
        {
            List<long>? shape = null;
            if (t.TryGetProperty("shape", out var dims) && dims.ValueKind == JsonValueKind.Array)
            {
                shape = [.. dims.EnumerateArray().Select(d => d.GetInt64())];
            }
            result.Add(new TensorSpec(
                Text(t, "key") ?? throw new JsonException("a tensor of a model signature has no key"),
                Text(t, "name"),
                Text(t, "dtype") ?? "DT_INVALID",
                shape));
        }
        return result;
    }
}
