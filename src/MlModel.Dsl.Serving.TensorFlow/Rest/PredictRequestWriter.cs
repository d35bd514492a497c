using System.Buffers;
using System.Globalization;
using System.Text.Json;
using MlModel.Dsl.Backends;

namespace MlModel.Dsl.Serving.TensorFlow.Rest;

/// <summary>
/// Writes a <see cref="PredictBatch"/> as the body of TensorFlow Serving's REST predict API in
/// the row format (tensorflow_serving/g3doc/api_rest.md, "Specifying input tensors in row
/// format"): <c>{"instances":[row, row, ...]}</c>, each row its value nested to the row shape
/// (<c>[1.0,2.0]</c> for <c>(2,)</c>, a bare number for <c>()</c>); with named inputs each row is an
/// object, <c>{"instances":[{"features":[...]}, ...]}</c>. The row format keeps one request per
/// batch whatever the model's inputs, and its answer comes back per row (<c>predictions</c>),
/// which is what the predict stage hands on. Numbers follow api_rest.md's JSON mapping: whole
/// numbers for the DT_INT*/DT_UINT* dtypes, <c>true</c>/<c>false</c> for DT_BOOL, and for
/// DT_FLOAT/DT_DOUBLE the shortest text that reads back as the same float or double, with the
/// special tokens <c>NaN</c>, <c>Infinity</c> and <c>-Infinity</c> the server accepts
/// (json_tensor.cc parses with rapidjson's kParseNanAndInfFlag).
/// </summary>
internal static class PredictRequestWriter
{
    private static readonly JsonWriterOptions Options = new() { SkipValidation = true };

    [ThreadStatic]
    private static Utf8JsonWriter? _threadWriter;

    private enum Kind
    {
        Float,
        Double,
        Integer,
        Bool,
    }

    /// <summary>Checks what can be checked before writing: rows, names, value counts and dtypes.</summary>
    /// <exception cref="MlModelException"><see cref="ErrorCodes.InvalidValue"/> or <see cref="ErrorCodes.Unsupported"/>, naming the input.</exception>
    public static void Validate(PredictBatch batch)
    {
        if (batch.Rows < 1)
        {
            throw new MlModelException(ErrorCodes.InvalidValue, $"a batch for {batch.ServingName} has {batch.Rows} rows; TensorFlow Serving refuses an empty 'instances' list");
        }

        if (batch.Version is < 1)
        {
            throw new MlModelException(ErrorCodes.InvalidValue, $"version {batch.Version} of {batch.ServingName} is not a version; versions start at 1");
        }

        if (batch.Inputs.Count == 0)
        {
            throw new MlModelException(ErrorCodes.InvalidValue, $"a batch for {batch.ServingName} has no input");
        }

        var names = batch.Inputs.Count > 1 ? new HashSet<string>(StringComparer.Ordinal) : null;
        foreach (var input in batch.Inputs)
        {
            if (names is not null && (input.Name is null || !names.Add(input.Name)))
            {
                throw new MlModelException(ErrorCodes.InvalidValue, input.Name is null
                    ? $"a batch for {batch.ServingName} has {batch.Inputs.Count} inputs and one without a name; several inputs are sent by name (layer_name)"
                    : $"a batch for {batch.ServingName} names input '{input.Name}' twice");
            }

            KindOf(input, batch.ServingName);
            long perRow = 1;
            foreach (var dim in input.RowShape)
            {
                if (dim < 0)
                {
                    throw new MlModelException(ErrorCodes.InvalidValue, $"input {Describe(input)} has the row shape {ShapeText(input.RowShape)}; a dimension of a row is 0 or more");
                }

                perRow *= dim;
            }

            if (perRow * batch.Rows != input.Values.Length)
            {
                throw new MlModelException(ErrorCodes.InvalidValue,
                    $"input {Describe(input)} holds {input.Values.Length} values for {batch.Rows} rows of shape {ShapeText(input.RowShape)}, which take {perRow * batch.Rows}");
            }
        }
    }

    /// <summary>Writes the request body of <paramref name="batch"/> (validated by <see cref="Validate"/>) into <paramref name="output"/>.</summary>
    /// <exception cref="MlModelException"><see cref="ErrorCodes.InvalidValue"/>: a value an integer or bool dtype cannot take.</exception>
    public static void Write(IBufferWriter<byte> output, PredictBatch batch)
    {
        var w = _threadWriter ??= new Utf8JsonWriter(output, Options);
        w.Reset(output);
        try
        {
            w.WriteStartObject();
            w.WriteStartArray("instances"u8);
            var inputs = batch.Inputs;
            var named = inputs.Count > 1 || inputs[0].Name is not null;
            var kinds = new Kind[inputs.Count];
            var perRow = new int[inputs.Count];
            for (var i = 0; i < inputs.Count; i++)
            {
                kinds[i] = KindOf(inputs[i], batch.ServingName);
                perRow[i] = Product(inputs[i].RowShape);
            }

            for (var row = 0; row < batch.Rows; row++)
            {
                if (named)
                {
                    w.WriteStartObject();
                }

                for (var i = 0; i < inputs.Count; i++)
                {
                    var input = inputs[i];
                    if (named)
                    {
                        w.WritePropertyName(input.Name!);
                    }

                    var values = input.Values.Span.Slice(row * perRow[i], perRow[i]);
                    WriteTensor(w, values, input.RowShape, 0, kinds[i], input, row);
                }

                if (named)
                {
                    w.WriteEndObject();
                }
            }

            w.WriteEndArray();
            w.WriteEndObject();
            w.Flush();
        }
        finally
        {
            // Drop the reference to the caller's buffer: the writer is kept for the thread's next batch.
            w.Reset(Stream.Null);
        }
    }

    private static void WriteTensor(Utf8JsonWriter w, ReadOnlySpan<double> values, IReadOnlyList<int> shape, int dim, Kind kind, PredictInput input, int row)
    {
        if (dim == shape.Count)
        {
            WriteValue(w, values[0], kind, input, row);
            return;
        }

        w.WriteStartArray();
        var length = shape[dim];
        if (length > 0)
        {
            if (dim == shape.Count - 1)
            {
                foreach (var value in values)
                {
                    WriteValue(w, value, kind, input, row);
                }
            }
            else
            {
                var stride = values.Length / length;
                for (var i = 0; i < length; i++)
                {
                    WriteTensor(w, values.Slice(i * stride, stride), shape, dim + 1, kind, input, row);
                }
            }
        }

        w.WriteEndArray();
    }

    private static void WriteValue(Utf8JsonWriter w, double value, Kind kind, PredictInput input, int row)
    {
        switch (kind)
        {
            case Kind.Float:
                var single = (float)value;
                if (float.IsFinite(single))
                {
                    w.WriteNumberValue(single);
                }
                else
                {
                    WriteNonFinite(w, single);
                }

                break;
            case Kind.Double:
                if (double.IsFinite(value))
                {
                    w.WriteNumberValue(value);
                }
                else
                {
                    WriteNonFinite(w, value);
                }

                break;
            case Kind.Bool:
                if (value is not (0 or 1))
                {
                    throw NotRepresentable(input, row, value, "0 (false) or 1 (true)");
                }

                w.WriteBooleanValue(value == 1);
                break;
            default:
                var (min, maxExclusive, text) = IntegerRange(input.Dtype);
                if (!double.IsInteger(value) || value < min || value >= maxExclusive)
                {
                    throw NotRepresentable(input, row, value, "a whole number from " + text);
                }

                if (value >= 9223372036854775808d)
                {
                    w.WriteNumberValue((ulong)value);
                }
                else
                {
                    w.WriteNumberValue((long)value);
                }

                break;
        }
    }

    private static void WriteNonFinite(Utf8JsonWriter w, double value) =>
        w.WriteRawValue(double.IsNaN(value) ? "NaN"u8 : value > 0 ? "Infinity"u8 : "-Infinity"u8, skipInputValidation: true);

    private static MlModelException NotRepresentable(PredictInput input, int row, double value, string wanted) =>
        new(ErrorCodes.InvalidValue,
            $"row {(row + 1).ToString(CultureInfo.InvariantCulture)} of the batch gives input {Describe(input)} the value {value.ToString("R", CultureInfo.InvariantCulture)}, but its dtype {input.Dtype} takes {wanted}");

    private static Kind KindOf(PredictInput input, string servingName) => input.Dtype switch
    {
        "DT_FLOAT" or "DT_HALF" or "DT_BFLOAT16" => Kind.Float,
        "DT_DOUBLE" => Kind.Double,
        "DT_BOOL" => Kind.Bool,
        "DT_INT8" or "DT_INT16" or "DT_INT32" or "DT_INT64" or "DT_UINT8" or "DT_UINT16" or "DT_UINT32" or "DT_UINT64" => Kind.Integer,
        _ => throw new MlModelException(ErrorCodes.Unsupported,
            $"input {Describe(input)} of {servingName} has the dtype {input.Dtype}; predict sends numbers: DT_FLOAT, DT_DOUBLE, DT_HALF, DT_BFLOAT16, DT_INT8 to DT_INT64, DT_UINT8 to DT_UINT64 or DT_BOOL"),
    };

    // The 64-bit bounds are powers of two, which doubles hold exactly: hence an exclusive maximum.
    private static (double Min, double MaxExclusive, string Text) IntegerRange(string dtype) => dtype switch
    {
        "DT_INT8" => (sbyte.MinValue, sbyte.MaxValue + 1d, "-128 to 127"),
        "DT_INT16" => (short.MinValue, short.MaxValue + 1d, "-32768 to 32767"),
        "DT_INT32" => (int.MinValue, int.MaxValue + 1d, "-2147483648 to 2147483647"),
        "DT_UINT8" => (0, byte.MaxValue + 1d, "0 to 255"),
        "DT_UINT16" => (0, ushort.MaxValue + 1d, "0 to 65535"),
        "DT_UINT32" => (0, uint.MaxValue + 1d, "0 to 4294967295"),
        "DT_UINT64" => (0, 18446744073709551616d, "0 to 18446744073709551615"),
        _ => (long.MinValue, 9223372036854775808d, "-9223372036854775808 to 9223372036854775807"),
    };

    private static int Product(IReadOnlyList<int> shape)
    {
        var product = 1;
        foreach (var dim in shape)
        {
            product *= dim;
        }

        return product;
    }

    private static string Describe(PredictInput input) => input.Name is null ? "'instances'" : $"'{input.Name}'";

    internal static string ShapeText(IReadOnlyList<int> shape) =>
        shape.Count == 1 ? $"({shape[0].ToString(CultureInfo.InvariantCulture)},)" : "(" + string.Join(",", shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + ")";
}
