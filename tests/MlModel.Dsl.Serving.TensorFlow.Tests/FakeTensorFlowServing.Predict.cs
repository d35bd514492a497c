using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace MlModel.Dsl.Serving.TensorFlow.Tests;

/// <summary>
/// The fake's model metadata and predict APIs, after TensorFlow Serving's own code (commit
/// 9d981c5c2708d23c5407c7c1e30309e6f9798874 of github.com/tensorflow/serving):
/// <list type="bullet">
/// <item>servable lookup as ServerCore::GetServableHandle: a label through the config's
/// version_labels ("Unrecognized servable version label: L", INVALID_ARGUMENT), no version the
/// highest AVAILABLE one, and a version not AVAILABLE "Servable not found for request:
/// Specific(name, N)" / "Latest(name)", NOT_FOUND (core/basic_manager.cc, core/manager.h);</item>
/// <item>metadata as http_rest_api_util.cc ToJsonString(GetModelMetadataResponse):
/// <c>{"model_spec": ..., "metadata": {"signature_def": SignatureDefMap}}</c> in protobuf's JSON
/// mapping with proto field names;</item>
/// <item>predict as http_rest_api_handler.cc ProcessPredictRequest and util/json_tensor.cc:
/// FillPredictRequestFromJson (the request, "instances" in the row format or "inputs" in the
/// columnar one, with its error messages), the model run, and MakeJsonFromTensors: the row format
/// answers <c>{"predictions": [...]}</c> (objects of named outputs when there are several), the
/// columnar one <c>{"outputs": ...}</c>.</item>
/// </list>
/// <c>:classify</c> and <c>:regress</c> are routed but not run (UNIMPLEMENTED): MlModel.Dsl does
/// not call them. Only <c>serving_default</c> is run.
/// </summary>
internal sealed partial class FakeTensorFlowServing
{
    /// <summary>What each model name (or "name/version") stands for; <see cref="FakeModel.HalfPlusTwo"/> for the rest.</summary>
    public ConcurrentDictionary<string, FakeModel> Models { get; } = new(StringComparer.Ordinal);

    /// <summary>While set, a :predict request waits for it once its body is read: a request in flight, to cancel.</summary>
    public Task? PredictGate { get; set; }

    /// <summary>Completed when a :predict request first waits at <see cref="PredictGate"/>.</summary>
    public TaskCompletionSource PredictArrived { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private FakeModel ModelOf(string model, long version) =>
        Models.TryGetValue($"{model}/{version.ToString(CultureInfo.InvariantCulture)}", out var exact) ? exact
        : Models.TryGetValue(model, out var any) ? any
        : FakeModel.HalfPlusTwo;

    /// <summary>ServerCore::GetServableHandle for a model spec of a name and a version, a label or neither.</summary>
    private (long Version, FakeModel Model) ServableHandle(string model, long? version, string? label)
    {
        lock (_gate)
        {
            if (label is not null)
            {
                if (!AllowVersionLabels)
                {
                    throw FakeStatusException.InvalidArgument("ModelSpec has 'version_label' set, but it is not currently allowed by the server.");
                }

                if (!_labels.TryGetValue(model, out var labels) || !labels.TryGetValue(label, out var labelled))
                {
                    throw FakeStatusException.InvalidArgument($"Unrecognized servable version label: {label}");
                }

                version = labelled;
            }

            if (version is { } v)
            {
                return _servables.TryGetValue((model, v), out var s) && s.State == ModelVersionState.Available
                    ? (v, ModelOf(model, v))
                    : throw new FakeStatusException("NOT_FOUND", $"Servable not found for request: Specific({model}, {v.ToString(CultureInfo.InvariantCulture)})");
            }

            var latest = -1L;
            foreach (var ((name, candidate), s) in _servables)
            {
                if (name == model && s.State == ModelVersionState.Available && candidate > latest)
                {
                    latest = candidate;
                }
            }

            return latest >= 0
                ? (latest, ModelOf(model, latest))
                : throw new FakeStatusException("NOT_FOUND", $"Servable not found for request: Latest({model})");
        }
    }

    private string MetadataJson(string model, long? version, string? label)
    {
        var (served, fake) = ServableHandle(model, version, label);
        var options = new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        var spec = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(spec, options))
        {
            // ModelSpec: the version is an Int64Value, an int64 in JSON is a string; the oneof's
            // version_label is left out as it is not set (get_model_metadata_impl.cc sets the version).
            w.WriteStartObject();
            w.WriteString("name", model);
            w.WriteString("signature_name", string.Empty);
            w.WriteString("version", served.ToString(CultureInfo.InvariantCulture));
            w.WriteEndObject();
        }

        var map = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(map, options))
        {
            w.WriteStartObject();
            w.WriteStartObject("signature_def");
            foreach (var signature in fake.Signatures)
            {
                w.WriteStartObject(signature.Name);
                WriteTensorInfos(w, "inputs", signature.Inputs);
                WriteTensorInfos(w, "outputs", signature.Outputs);
                w.WriteString("method_name", signature.Method);
                w.WriteStartObject("defaults");
                w.WriteEndObject();
                w.WriteEndObject();
            }

            w.WriteEndObject();
            w.WriteEndObject();
        }

        return "{\n\"model_spec\":" + Encoding.UTF8.GetString(spec.WrittenSpan) + ",\n\"metadata\": {\"signature_def\": " + Encoding.UTF8.GetString(map.WrittenSpan) + "}\n}\n";

        static void WriteTensorInfos(Utf8JsonWriter w, string property, FakeTensorInfo[] tensors)
        {
            w.WriteStartObject(property);
            foreach (var t in tensors)
            {
                w.WriteStartObject(t.Key);
                w.WriteString("dtype", t.Dtype);
                w.WriteStartObject("tensor_shape");
                w.WriteStartArray("dim");
                foreach (var d in t.Dims ?? [])
                {
                    w.WriteStartObject();
                    w.WriteString("size", d.ToString(CultureInfo.InvariantCulture));
                    w.WriteString("name", string.Empty);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteBoolean("unknown_rank", t.Dims is null);
                w.WriteEndObject();
                w.WriteString("name", t.Name);
                w.WriteEndObject();
            }

            w.WriteEndObject();
        }
    }

    /// <summary><c>POST /v1/models/{name}[/versions/{v}|/labels/{label}]:(classify|regress|predict)</c>.</summary>
    private async Task<string> PredictionApiAsync(string method, string rawPath, Match route, byte[] body)
    {
        var (model, version, label) = ModelInfo(route);
        switch (route.Groups[4].Value)
        {
            case "predict":
                break;
            case "classify" or "regress":
                throw new FakeStatusException("UNIMPLEMENTED", $"The fake TensorFlow Serving does not run :{route.Groups[4].Value}.");
            default:
                // The route matches in any case; the dispatch compares the method exactly.
                throw Malformed(method, rawPath);
        }

        // FillPredictRequestFromJson: the JSON and its signature_name first, then the servable and
        // its signature's inputs, then the tensors.
        using var document = ParseJson(body);
        var root = document.RootElement;
        var signatureName = ModelSignatureName(root);
        var (_, fake) = ServableHandle(model, version, label);
        var name = signatureName.Length == 0 ? "serving_default" : signatureName;
        var signature = fake.Signatures.FirstOrDefault(s => s.Name == name)
            ?? throw FakeStatusException.InvalidArgument($"Serving signature name: \"{name}\" not found in signature def");
        if (signature.Inputs.Length == 0)
        {
            throw FakeStatusException.InvalidArgument($"Failed to get input map for signature: {(signatureName.Length == 0 ? "DEFAULT" : signatureName)}");
        }

        var inputs = signature.Inputs.OrderBy(i => i.Key, StringComparer.Ordinal).ToArray();
        var hasInstances = root.TryGetProperty("instances", out var instances);
        var hasInputs = root.TryGetProperty("inputs", out var columns);
        Dictionary<string, FakeTensor> tensors;
        bool rowFormat;
        if (hasInstances)
        {
            if (hasInputs)
            {
                throw FakeStatusException.InvalidArgument($"JSON Value: {FakeJson.Debug(root)} Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist ");
            }

            if (instances.ValueKind != JsonValueKind.Array)
            {
                throw FakeStatusException.InvalidArgument($"JSON Value: {FakeJson.Debug(root)} Expecting 'instances' to be an list/array");
            }

            if (instances.GetArrayLength() == 0)
            {
                throw FakeStatusException.InvalidArgument($"JSON Value: {FakeJson.Debug(root)} No values in 'instances' array");
            }

            tensors = FromInstances(instances, inputs);
            rowFormat = true;
        }
        else if (hasInputs)
        {
            tensors = FromInputs(columns, inputs);
            rowFormat = false;
        }
        else
        {
            throw FakeStatusException.InvalidArgument("Missing 'inputs' or 'instances' key");
        }

        if (PredictGate is { } gate)
        {
            PredictArrived.TrySetResult();
            await gate.WaitAsync(_stop.Token);
        }

        if (name != "serving_default")
        {
            throw new FakeStatusException("UNIMPLEMENTED", $"The fake TensorFlow Serving runs serving_default only, not {name}.");
        }

        var outputs = fake.Run(tensors);
        return rowFormat ? RowFormat(outputs) : ColumnarFormat(outputs);
    }

    /// <summary>json_tensor.cc ParseJson: rapidjson reads NaN and Infinity; an empty body and a non-object are errors.</summary>
    private static JsonDocument ParseJson(byte[] body)
    {
        if (body.Length == 0)
        {
            throw FakeStatusException.InvalidArgument("JSON Parse error: The document is empty");
        }

        JsonDocument document;
        try
        {
            // Only a body with an 'N' or an 'I' outside a string can hold NaN or Infinity.
            document = JsonDocument.Parse(body.AsSpan().IndexOfAny((byte)'N', (byte)'I') >= 0 ? FakeNonFinite.MarkTokens(body) : body);
        }
        catch (JsonException e)
        {
            // rapidjson names the error ("Invalid value." for a bare word) and its byte offset.
            throw FakeStatusException.InvalidArgument($"JSON Parse error: Invalid value. at offset: {(e.BytePositionInLine ?? 0).ToString(CultureInfo.InvariantCulture)}");
        }

        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            var debug = FakeJson.Debug(document.RootElement);
            document.Dispose();
            throw FakeStatusException.InvalidArgument($"JSON Value: {debug} Is not object");
        }

        return document;
    }

    private static string ModelSignatureName(JsonElement root)
    {
        if (!root.TryGetProperty("signature_name", out var name))
        {
            return string.Empty;
        }

        return name.ValueKind == JsonValueKind.String
            ? name.GetString()!
            : throw FakeStatusException.InvalidArgument($"JSON Value: {FakeJson.Debug(root)} not formatted correctly. 'signature_name' key must be a string value.");
    }

    /// <summary>FillTensorMapFromInstancesList: every element one row, batched along a new first dimension.</summary>
    private static Dictionary<string, FakeTensor> FromInstances(JsonElement instances, FakeTensorInfo[] inputs)
    {
        var first = instances[0];
        if (first.ValueKind != JsonValueKind.Object && inputs.Length > 1)
        {
            throw FakeStatusException.InvalidArgument("instances is a plain list, but expecting list of objects as multiple input tensors required as per tensorinfo_map");
        }

        var objects = IsElementObject(first);
        var names = inputs.Select(i => i.Key).ToHashSet(StringComparer.Ordinal);
        var items = new Dictionary<string, (int Size, List<int> Shape, List<double> Values)>(StringComparer.Ordinal);
        var count = 0;
        foreach (var element in instances.EnumerateArray())
        {
            if (objects)
            {
                if (!IsElementObject(element))
                {
                    throw FakeStatusException.InvalidArgument($"Expecting object but got list at item {count} of input list");
                }

                var keys = new HashSet<string>(StringComparer.Ordinal);
                foreach (var member in element.EnumerateObject())
                {
                    keys.Add(member.Name);
                    try
                    {
                        AddInstanceItem(member.Value, member.Name, inputs, items);
                    }
                    catch (FakeStatusException e)
                    {
                        throw FakeStatusException.InvalidArgument($"Failed to process element: {count} key: {member.Name} of 'instances' list. Error: {e.Code}: {e.Message}");
                    }
                }

                if (!keys.SetEquals(names))
                {
                    throw FakeStatusException.InvalidArgument(
                        $"Failed to process element: {count} of 'instances' list. JSON object: {FakeJson.Debug(element)} keys must be equal to: {string.Join(",", names.Order(StringComparer.Ordinal))}");
                }
            }
            else
            {
                if (IsElementObject(element))
                {
                    throw FakeStatusException.InvalidArgument($"Expecting value/list but got object at item {count} of input list");
                }

                try
                {
                    AddInstanceItem(element, inputs[0].Key, inputs, items);
                }
                catch (FakeStatusException e)
                {
                    throw FakeStatusException.InvalidArgument($"Failed to process element: {count} of 'instances' list. Error: {e.Code}: {e.Message}");
                }
            }

            count++;
        }

        return items.ToDictionary(
            kv => kv.Key,
            kv => new FakeTensor(inputs.First(i => i.Key == kv.Key).Dtype, [count, .. kv.Value.Shape], [.. kv.Value.Values]),
            StringComparer.Ordinal);
    }

    /// <summary>FillTensorMapFromInputsMap: one tensor, or an object of named tensors, each given whole.</summary>
    private static Dictionary<string, FakeTensor> FromInputs(JsonElement value, FakeTensorInfo[] inputs)
    {
        var result = new Dictionary<string, FakeTensor>(StringComparer.Ordinal);
        if (!IsElementObject(value))
        {
            if (inputs.Length > 1)
            {
                throw FakeStatusException.InvalidArgument("inputs is a plain value/list, but expecting an object as multiple input tensors required as per tensorinfo_map");
            }

            result[inputs[0].Key] = Tensor(value, inputs[0].Dtype);
            return result;
        }

        foreach (var input in inputs)
        {
            if (!value.TryGetProperty(input.Key, out var item))
            {
                throw FakeStatusException.InvalidArgument($"Missing named input: {input.Key} in 'inputs' object.");
            }

            result[input.Key] = Tensor(item, input.Dtype);
        }

        return result;

        static FakeTensor Tensor(JsonElement item, string dtype)
        {
            var shape = DenseShape(item);
            var values = new List<double>();
            var size = 0;
            FillTensor(item, 0, dtype, shape, ref size, values);
            return new FakeTensor(dtype, [.. shape], [.. values]);
        }
    }

    private static bool IsElementObject(JsonElement value) =>
        value.ValueKind == JsonValueKind.Object
        && !(value.TryGetProperty("b64", out var b64) && b64.ValueKind == JsonValueKind.String && value.EnumerateObject().Count() == 1);

    /// <summary>AddInstanceItem: one row of one input; every row of an input has the same size and shape.</summary>
    private static void AddInstanceItem(JsonElement item, string name, FakeTensorInfo[] inputs, Dictionary<string, (int Size, List<int> Shape, List<double> Values)> items)
    {
        var info = inputs.FirstOrDefault(i => i.Key == name)
            ?? throw FakeStatusException.InvalidArgument($"JSON object: does not have named input: {name}");
        var shape = DenseShape(item);
        var values = items.TryGetValue(name, out var known) ? known.Values : [];
        var size = 0;
        FillTensor(item, 0, info.Dtype, shape, ref size, values);
        if (known.Values is null)
        {
            items[name] = (size, shape, values);
        }
        else if (known.Size != size)
        {
            throw FakeStatusException.InvalidArgument($"Expecting tensor size: {known.Size} but got: {size}");
        }
        else if (!known.Shape.SequenceEqual(shape))
        {
            throw FakeStatusException.InvalidArgument($"Expecting shape {ShapeText(known.Shape)} but got: {ShapeText(shape)}");
        }
    }

    private static string ShapeText(IEnumerable<int> shape) => "[" + string.Join(",", shape) + "]";

    /// <summary>GetDenseTensorShape: the lengths of the first list at each level.</summary>
    private static List<int> DenseShape(JsonElement value)
    {
        var shape = new List<int>();
        while (value.ValueKind == JsonValueKind.Array)
        {
            var length = value.GetArrayLength();
            shape.Add(length);
            if (length == 0)
            {
                break;
            }

            value = value[0];
        }

        return shape;
    }

    /// <summary>FillTensorProto: every list of the shape's size, every value at the shape's rank and of the dtype.</summary>
    private static void FillTensor(JsonElement value, int level, string dtype, List<int> shape, ref int count, List<double> values)
    {
        var rank = shape.Count;
        if (value.ValueKind != JsonValueKind.Array)
        {
            if (level != rank)
            {
                throw FakeStatusException.InvalidArgument($"JSON Value: {FakeJson.Debug(value)} found at incorrect level: {level + 1} in the JSON DOM. Expected at level: {rank}");
            }

            values.Add(Value(value, dtype));
            count++;
            return;
        }

        if (level >= rank)
        {
            throw FakeStatusException.InvalidArgument($"Encountered list at unexpected level: {level} expected < {rank}");
        }

        if (value.GetArrayLength() != shape[level])
        {
            throw FakeStatusException.InvalidArgument($"Encountered list at unexpected size: {value.GetArrayLength()} at level: {level} expected size: {shape[level]}");
        }

        foreach (var item in value.EnumerateArray())
        {
            FillTensor(item, level + 1, dtype, shape, ref count, values);
        }
    }

    /// <summary>AddValueToTensor: a number for the float types, an integer JSON number (no fraction) for the integer types, true/false for DT_BOOL.</summary>
    private static double Value(JsonElement value, string dtype)
    {
        var ok = true;
        double result = 0;
        switch (dtype)
        {
            case "DT_FLOAT":
                ok = FakeNonFinite.TryNumber(value, out result);
                result = (float)result;
                break;
            case "DT_DOUBLE":
                ok = FakeNonFinite.TryNumber(value, out result);
                break;
            case "DT_INT32" or "DT_INT16" or "DT_INT8" or "DT_UINT8":
                ok = value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out _);
                result = ok ? value.GetInt32() : 0;
                break;
            case "DT_INT64":
                ok = value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out _);
                result = ok ? value.GetInt64() : 0;
                break;
            case "DT_UINT32":
                ok = value.ValueKind == JsonValueKind.Number && value.TryGetUInt32(out _);
                result = ok ? value.GetUInt32() : 0;
                break;
            case "DT_UINT64":
                ok = value.ValueKind == JsonValueKind.Number && value.TryGetUInt64(out _);
                result = ok ? value.GetUInt64() : 0;
                break;
            case "DT_BOOL":
                ok = value.ValueKind is JsonValueKind.True or JsonValueKind.False;
                result = value.ValueKind == JsonValueKind.True ? 1 : 0;
                break;
            default:
                throw new FakeStatusException("UNIMPLEMENTED", $"Conversion of JSON Value: {FakeJson.Debug(value)} to type: {TypeName(dtype)}");
        }

        return ok
            ? result
            : throw FakeStatusException.InvalidArgument($"JSON Value: {FakeJson.Debug(value)} Type: {FakeJson.TypeName(value)} is not of expected type: {TypeName(dtype)}");
    }

    /// <summary>DataTypeString (tensorflow/core/framework/types.cc).</summary>
    private static string TypeName(string dtype) => dtype switch
    {
        "DT_FLOAT" => "float",
        "DT_DOUBLE" => "double",
        "DT_BFLOAT16" => "bfloat16",
        "DT_HALF" => "half",
        _ => dtype.StartsWith("DT_", StringComparison.Ordinal) ? dtype[3..].ToLowerInvariant() : dtype,
    };

    /// <summary>MakeRowFormatJsonFromTensors: one item per row of the batch, an object of the outputs when there are several.</summary>
    private static string RowFormat(IReadOnlyDictionary<string, FakeTensor> outputs)
    {
        var batch = -1;
        foreach (var (name, tensor) in outputs.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (tensor.Shape.Length == 0)
            {
                throw FakeStatusException.InvalidArgument($"Tensor name: {name} has no shape information ");
            }

            if (batch >= 0 && batch != tensor.Shape[0])
            {
                throw FakeStatusException.InvalidArgument($"Tensor name: {name} has inconsistent batch size: {tensor.Shape[0]} expecting: {batch}");
            }

            batch = tensor.Shape[0];
        }

        var json = new FakeJson();
        json.StartObject().Key("predictions").StartArray();
        var named = outputs.Count > 1;
        for (var row = 0; row < batch; row++)
        {
            if (named)
            {
                json.StartObject();
            }

            json.SingleLineArrays = true;
            foreach (var (name, tensor) in outputs.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                if (named)
                {
                    json.Key(name);
                }

                var perRow = tensor.Values.Length / Math.Max(batch, 1);
                WriteTensor(json, tensor, tensor.Values.AsSpan(row * perRow, perRow), 1);
            }

            json.SingleLineArrays = false;
            if (named)
            {
                json.EndObject();
            }
        }

        return json.EndArray().EndObject().ToString();
    }

    /// <summary>MakeColumnarFormatJsonFromTensors: each output whole, an object of them when there are several.</summary>
    private static string ColumnarFormat(IReadOnlyDictionary<string, FakeTensor> outputs)
    {
        var json = new FakeJson();
        json.StartObject().Key("outputs");
        var named = outputs.Count > 1;
        if (named)
        {
            json.StartObject();
        }

        foreach (var (name, tensor) in outputs.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (named)
            {
                json.Key(name);
            }

            WriteTensor(json, tensor, tensor.Values, 0);
        }

        if (named)
        {
            json.EndObject();
        }

        return json.EndObject().ToString();
    }

    /// <summary>AddTensorValues: dimensions from <paramref name="dim"/> on as nested lists; below them, one value.</summary>
    private static void WriteTensor(FakeJson json, FakeTensor tensor, ReadOnlySpan<double> values, int dim)
    {
        if (dim > tensor.Shape.Length - 1)
        {
            json.Raw(ValueText(tensor.Dtype, values[0]));
            return;
        }

        json.StartArray();
        var length = tensor.Shape[dim];
        var stride = length == 0 ? 0 : values.Length / length;
        for (var i = 0; i < length; i++)
        {
            WriteTensor(json, tensor, values.Slice(i * stride, stride), dim + 1);
        }

        json.EndArray();
    }

    /// <summary>AddSingleValueAndAdvance: WriteDecimal for floats, integers as they are, true/false.</summary>
    private static string ValueText(string dtype, double value) => dtype switch
    {
        "DT_FLOAT" => FakeJson.Decimal(value, isFloat: true),
        "DT_DOUBLE" => FakeJson.Decimal(value, isFloat: false),
        "DT_BOOL" => value != 0 ? "true" : "false",
        _ => ((long)value).ToString(CultureInfo.InvariantCulture),
    };
}
