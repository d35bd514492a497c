using MlModel.Dsl.Backends;

namespace MlModel.Dsl.Execution.Predict;

/// <summary>One model input as a request sends it.</summary>
/// <param name="Name">The input's name (<c>layer_name</c>, or the signature's key when the model takes several); null: plain <c>instances</c>.</param>
/// <param name="Dtype">TensorFlow's dtype name (<c>DT_FLOAT</c>).</param>
/// <param name="RowShape">The shape of one row's value.</param>
/// <param name="Width">The values one row gives it: the product of <paramref name="RowShape"/>.</param>
internal sealed record PlannedInput(string? Name, string Dtype, IReadOnlyList<int> RowShape, int Width)
{
    /// <summary>The whole-number range of an integer dtype; null for floating point.</summary>
    public (double Min, double Max)? IntegerRange { get; } = Dtypes.IntegerRange(Dtype);
}

/// <summary>
/// What a <c>serving predict</c> sends, settled before the first row: the version, the input
/// column, one <see cref="PlannedInput"/> per model input (a row's values are split between them
/// in order) and the tags. What the command leaves out (shape, dtype, layer_name) comes from the
/// served version's signature.
/// </summary>
internal sealed record PredictPlan(
    string ServingName,
    int Version,
    int Column,
    string ColumnName,
    IReadOnlyList<PlannedInput> Inputs,
    IReadOnlyList<string>? Tags,
    string ShapeSource)
{
    /// <summary>The values one row holds: the sum of the inputs' widths.</summary>
    public int Width { get; } = Inputs.Sum(i => i.Width);

    /// <summary>
    /// The parameters' own rules, checked before anything is asked of the registry or the server:
    /// a dtype predict can send, shape tuples of whole numbers from 1 up, tags and a column that are not empty.
    /// </summary>
    /// <exception cref="MlModelException"><see cref="ErrorCodes.InvalidValue"/>, naming the parameter.</exception>
    public static void Validate(ServingPredictCommand command)
    {
        if (command.Column is { } column && (column.Length is 0 or > 256 || column.Any(char.IsControl)))
        {
            throw PredictErrors.Fail(ErrorCodes.InvalidValue, $"invalid value for 'col': '{PredictErrors.Shown(column)}'; expected a column name of 1 to 256 characters without control characters");
        }
        if (command.Version is < 1)
        {
            throw PredictErrors.Fail(ErrorCodes.InvalidValue, $"invalid value for 'version': '{command.Version}'; expected a whole number from 1 to 2147483647");
        }
        if (command.Dtype is { } dtype && Dtypes.Normalize(dtype) is null)
        {
            throw PredictErrors.Fail(ErrorCodes.InvalidValue, $"invalid value for 'dtype': '{PredictErrors.Shown(dtype)}'; expected one of {Dtypes.Names}");
        }
        if (command.Shape is { } shape && (shape.Count == 0 || shape.Any(t => t is null || t.Count == 0 || t.Any(d => d < 1))))
        {
            throw PredictErrors.Fail(ErrorCodes.InvalidValue,
                $"invalid value for 'shape': {PredictErrors.ShapeText(shape.Where(t => t is not null))}; give one tuple per model input, each dimension a whole number from 1 up, such as shape=[(12,)] or shape=[(28,28,1)]");
        }
        if (command.Tag is { } tags && (tags.Count == 0 || tags.Any(t => string.IsNullOrEmpty(t))))
        {
            throw PredictErrors.Fail(ErrorCodes.InvalidValue, "invalid value for 'tag': give one non-empty tag per output value, such as tag=(setosa,versicolor,virginica)");
        }
        if (command.LayerName is { Length: 0 })
        {
            throw PredictErrors.Fail(ErrorCodes.InvalidValue, "invalid value for 'layer_name': ''; expected the name of one of the model's inputs");
        }
    }

    /// <summary>The plan for <paramref name="command"/> on the version <paramref name="signature"/> was read from.</summary>
    /// <exception cref="MlModelException">A parameter that does not fit the model, naming it.</exception>
    public static PredictPlan Resolve(ServingPredictCommand command, string servingName, int column, string columnName, ServingSignature signature)
    {
        Validate(command);
        var inputs = signature.Signature.Inputs;
        var dtype = command.Dtype is null ? null : Dtypes.Normalize(command.Dtype);
        var planned = new List<PlannedInput>();
        string source;
        if (command.Shape is { } shape)
        {
            source = "shape " + PredictErrors.ShapeText(shape);
            if (shape.Count == 1)
            {
                var spec = command.LayerName is { } layer ? Find(inputs, layer) : inputs.Count == 1 ? inputs[0] : null;
                if (spec is null && command.LayerName is null && inputs.Count > 1)
                {
                    throw PredictErrors.Fail(ErrorCodes.InvalidValue,
                        $"shape {PredictErrors.ShapeText(shape)} gives one input, but the model takes {inputs.Count} ({Keys(inputs)}); give a tuple for each, in that order, or layer_name= for the one to send");
                }
                planned.Add(Input(command.LayerName, dtype ?? spec?.DType, shape[0], spec));
            }
            else
            {
                if (command.LayerName is not null)
                {
                    throw PredictErrors.Fail(ErrorCodes.InvalidValue,
                        $"layer_name names one input, but shape {PredictErrors.ShapeText(shape)} gives {shape.Count}; leave layer_name out: the inputs are the signature's, in order");
                }
                if (inputs.Count != shape.Count)
                {
                    throw PredictErrors.Fail(ErrorCodes.InvalidValue,
                        $"shape {PredictErrors.ShapeText(shape)} gives {shape.Count} inputs, but the model takes {inputs.Count}" + (inputs.Count > 0 ? $" ({Keys(inputs)})" : ""));
                }
                for (var i = 0; i < shape.Count; i++)
                {
                    planned.Add(Input(inputs[i].Key, dtype ?? inputs[i].DType, shape[i], inputs[i]));
                }
            }
        }
        else
        {
            if (inputs.Count == 0)
            {
                throw PredictErrors.Fail(ErrorCodes.InvalidValue, $"the signature of version {signature.Version} has no inputs to take a shape from; give shape=");
            }
            IReadOnlyList<TensorSpec> used = command.LayerName is { } layer ? [Find(inputs, layer)] : inputs;
            foreach (var spec in used)
            {
                var name = command.LayerName ?? (inputs.Count == 1 ? null : spec.Key);
                planned.Add(Input(name, dtype ?? spec.DType, RowShapeOf(spec, signature.Version), spec));
            }
            source = "the signature's shape " + PredictErrors.ShapeText(planned.Select(p => p.RowShape));
        }
        var plan = new PredictPlan(servingName, command.Version ?? signature.Version, column, columnName, planned, command.Tag, source);
        // A tag count that cannot match the output is known before the first row, when the signature says the output's size.
        if (command.Tag is { } tags && signature.Signature.Outputs is [{ Shape: { } outputShape } output] && RowSize(outputShape) is int size && size != tags.Count)
        {
            throw TagMismatch(tags.Count, output.Key, size);
        }
        return plan;
    }

    public static MlModelException TagMismatch(int tags, string? output, int size) =>
        PredictErrors.Fail(ErrorCodes.InvalidValue,
            $"tag gives {tags} tag(s), but the model's output{(output is null ? "" : $" '{output}'")} has {size} value(s) per row; give one tag per value, in order");

    /// <summary>Values per row of an output shape with its batch dimension, when every other dimension is known.</summary>
    private static int? RowSize(IReadOnlyList<long> shape)
    {
        long size = 1;
        for (var i = shape.Count > 0 && shape[0] == -1 ? 1 : 0; i < shape.Count; i++)
        {
            if (shape[i] < 0)
            {
                return null;
            }
            size *= shape[i];
        }
        return size <= int.MaxValue ? (int)size : null;
    }

    private static PlannedInput Input(string? name, string? dtype, IReadOnlyList<int> rowShape, TensorSpec? spec)
    {
        if (dtype is null)
        {
            throw PredictErrors.Fail(ErrorCodes.InvalidValue, $"the model's signature does not name input '{name}'; give dtype= (and layer_name= for a named input)");
        }
        if (Dtypes.Normalize(dtype) is not { } normalized)
        {
            throw PredictErrors.Fail(ErrorCodes.Unsupported,
                $"the model's input '{spec?.Key ?? name}' is {dtype}; serving predict sends numbers ({Dtypes.Names})");
        }
        long width = 1;
        foreach (var d in rowShape)
        {
            width *= d;
            if (width > MaxValuesPerRow)
            {
                throw PredictErrors.Fail(ErrorCodes.InvalidValue,
                    $"shape {PredictErrors.TupleText(rowShape)} takes more than {MaxValuesPerRow} values per row");
            }
        }
        return new PlannedInput(name, normalized, rowShape, (int)width);
    }

    /// <summary>The most values one row may give (16 Mi doubles, 128 MiB), so that one row cannot exhaust memory.</summary>
    public const int MaxValuesPerRow = 1 << 24;

    /// <summary>A signature input's shape without its batch dimension (a leading -1).</summary>
    private static List<int> RowShapeOf(TensorSpec spec, int version)
    {
        if (spec.Shape is not { } shape)
        {
            throw PredictErrors.Fail(ErrorCodes.InvalidValue,
                $"the signature of version {version} does not give the shape of input '{spec.Key}'; give shape=, such as shape=[(12,)]");
        }
        var dims = shape.Count > 0 && shape[0] == -1 ? shape.Skip(1).ToList() : [.. shape];
        if (dims.Any(d => d < 1 || d > int.MaxValue))
        {
            throw PredictErrors.Fail(ErrorCodes.InvalidValue,
                $"input '{spec.Key}' of version {version} has a dimension of unknown size (shape [{string.Join(",", shape)}]); give shape=, such as shape=[(12,)]");
        }
        return dims.Select(d => (int)d).ToList();
    }

    private static TensorSpec Find(IReadOnlyList<TensorSpec> inputs, string layer) =>
        inputs.FirstOrDefault(i => i.Key == layer)
        ?? throw PredictErrors.Fail(ErrorCodes.InvalidValue,
            $"invalid value for 'layer_name': '{PredictErrors.Shown(layer)}' is not an input of the model; its inputs: {(inputs.Count == 0 ? "none" : Keys(inputs))}");

    private static string Keys(IReadOnlyList<TensorSpec> inputs) => string.Join(", ", inputs.Select(i => i.Key));
}

/// <summary>The numeric dtypes <c>serving predict</c> sends, by TensorFlow's name and the short names people type.</summary>
internal static class Dtypes
{
    public const string Names = "float16, bfloat16, float32, float64, int8, int16, int32, int64, uint8, uint16, uint32, uint64 (or DT_FLOAT, DT_INT32, ...)";

    private static readonly Dictionary<string, string> ByName = new(StringComparer.OrdinalIgnoreCase)
    {
        ["float16"] = "DT_HALF", ["half"] = "DT_HALF", ["DT_HALF"] = "DT_HALF",
        ["bfloat16"] = "DT_BFLOAT16", ["DT_BFLOAT16"] = "DT_BFLOAT16",
        ["float32"] = "DT_FLOAT", ["float"] = "DT_FLOAT", ["DT_FLOAT"] = "DT_FLOAT",
        ["float64"] = "DT_DOUBLE", ["double"] = "DT_DOUBLE", ["DT_DOUBLE"] = "DT_DOUBLE",
        ["int8"] = "DT_INT8", ["DT_INT8"] = "DT_INT8",
        ["int16"] = "DT_INT16", ["DT_INT16"] = "DT_INT16",
        ["int32"] = "DT_INT32", ["int"] = "DT_INT32", ["DT_INT32"] = "DT_INT32",
        ["int64"] = "DT_INT64", ["long"] = "DT_INT64", ["DT_INT64"] = "DT_INT64",
        ["uint8"] = "DT_UINT8", ["DT_UINT8"] = "DT_UINT8",
        ["uint16"] = "DT_UINT16", ["DT_UINT16"] = "DT_UINT16",
        ["uint32"] = "DT_UINT32", ["DT_UINT32"] = "DT_UINT32",
        ["uint64"] = "DT_UINT64", ["DT_UINT64"] = "DT_UINT64",
    };

    /// <summary>TensorFlow's name of a numeric dtype (<c>float32</c> is <c>DT_FLOAT</c>), or null.</summary>
    public static string? Normalize(string dtype) => ByName.GetValueOrDefault(dtype.Trim());

    public static (double Min, double Max)? IntegerRange(string dtype) => dtype switch
    {
        "DT_INT8" => (sbyte.MinValue, sbyte.MaxValue),
        "DT_INT16" => (short.MinValue, short.MaxValue),
        "DT_INT32" => (int.MinValue, int.MaxValue),
        // Doubles hold whole numbers exactly up to 2^53: the range a JSON number keeps.
        "DT_INT64" => (-9007199254740992d, 9007199254740992d),
        "DT_UINT8" => (byte.MinValue, byte.MaxValue),
        "DT_UINT16" => (ushort.MinValue, ushort.MaxValue),
        "DT_UINT32" => (uint.MinValue, uint.MaxValue),
        "DT_UINT64" => (0, 9007199254740992d),
        _ => null,
    };
}
