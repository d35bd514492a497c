using System.Globalization;
using System.Text.Json;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Execution.Predict;

namespace MlModel.Dsl.Serving.TensorFlow.Rest;

/// <summary>
/// Reads the answer of TensorFlow Serving's REST predict API (tensorflow_serving/g3doc/api_rest.md,
/// "Response format"; written by json_tensor.cc MakeJsonFromTensors) into one
/// <see cref="PredictOutput"/> per output tensor, values flattened row-major:
/// <list type="bullet">
/// <item>row format, one output: <c>{"predictions": [row, row, ...]}</c>, each row a number or a
/// nested list (the name is left out, so the output's <see cref="PredictOutput.Name"/> is null);</item>
/// <item>row format, several outputs: <c>{"predictions": [{"name": row, ...}, ...]}</c>;</item>
/// <item>columnar format: <c>{"outputs": tensor}</c> or <c>{"outputs": {"name": tensor, ...}}</c>,
/// each tensor's first dimension the batch.</item>
/// </list>
/// A row's shape is what its nesting shows; every row of an output must have the same one.
/// Numbers are read as doubles; <c>true</c>/<c>false</c> (DT_BOOL) as 1 and 0; the tokens <c>NaN</c>,
/// <c>Infinity</c> and <c>-Infinity</c> the server writes for non-finite floats (json_tensor.cc
/// WriteDecimal) as those doubles. One pass with <see cref="Utf8JsonReader"/>, no document.
/// </summary>
internal static class PredictResponseReader
{
    private const int MaxRank = 32;

    /// <summary>The outputs of a batch of <paramref name="rows"/> rows, ordered by name.</summary>
    /// <exception cref="InvalidDataException">The answer is not a predict answer for that many rows, in words.</exception>
    public static IReadOnlyList<PredictOutput> Read(ReadOnlySpan<byte> json, int rows)
    {
        try
        {
            return ReadCore(json, rows);
        }
        catch (JsonException) when (json.IndexOf("NaN"u8) >= 0 || json.IndexOf("Infinity"u8) >= 0)
        {
            // JSON has no NaN or Infinity; TensorFlow Serving writes them bare. Quote them and read again
            // (the slow path, only for answers that hold them).
            try
            {
                return ReadCore(QuoteNonFinite(json), rows);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException("the answer is not JSON: " + e.Message, e);
            }
        }
        catch (JsonException e)
        {
            throw new InvalidDataException("the answer is not JSON: " + e.Message, e);
        }
    }

    private static List<PredictOutput> ReadCore(ReadOnlySpan<byte> json, int rows)
    {
        var reader = new Utf8JsonReader(json);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            throw new InvalidDataException("the answer is not a JSON object");
        }

        List<Output>? outputs = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var predictions = reader.ValueTextEquals("predictions"u8);
            var columnar = !predictions && reader.ValueTextEquals("outputs"u8);
            reader.Read();
            if (!predictions && !columnar)
            {
                reader.Skip();
                continue;
            }

            if (outputs is not null)
            {
                throw new InvalidDataException("the answer has both 'predictions' and 'outputs'");
            }

            outputs = predictions ? ReadRows(ref reader, rows) : ReadColumns(ref reader, rows);
        }

        if (outputs is null)
        {
            throw new InvalidDataException("the answer has neither 'predictions' nor 'outputs'");
        }

        var result = new List<PredictOutput>(outputs.Count);
        foreach (var output in outputs.OrderBy(o => o.Name, StringComparer.Ordinal))
        {
            if (output.RowsRead != rows)
            {
                throw new InvalidDataException(
                    $"{output.Describe()} has {output.RowsRead.ToString(CultureInfo.InvariantCulture)} rows for a batch of {rows.ToString(CultureInfo.InvariantCulture)}");
            }

            result.Add(new PredictOutput(output.Name, output.RowShape, output.Values));
        }

        return result;
    }

    /// <summary><c>"predictions": [row, ...]</c>: rows of one unnamed output, or objects of named outputs.</summary>
    private static List<Output> ReadRows(ref Utf8JsonReader reader, int rows)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            throw new InvalidDataException("'predictions' is not a list");
        }

        var outputs = new List<Output>();
        var row = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (row == rows)
            {
                throw new InvalidDataException($"'predictions' has more rows than the batch's {rows.ToString(CultureInfo.InvariantCulture)}");
            }

            if (row == 0)
            {
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    outputs.Add(new Output(null, rows));
                }
            }
            else if ((reader.TokenType == JsonTokenType.StartObject) != (outputs[0].Name is not null))
            {
                throw new InvalidDataException($"row {(row + 1).ToString(CultureInfo.InvariantCulture)} of 'predictions' is {(reader.TokenType == JsonTokenType.StartObject ? "an object" : "not an object")}, unlike the first");
            }

            if (reader.TokenType != JsonTokenType.StartObject)
            {
                outputs[0].ReadRow(ref reader);
            }
            else
            {
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var name = reader.GetString()!;
                    var output = Find(outputs, name);
                    if (output is null)
                    {
                        if (row > 0)
                        {
                            throw new InvalidDataException($"row {(row + 1).ToString(CultureInfo.InvariantCulture)} of 'predictions' has output '{name}', which the first row has not");
                        }

                        output = new Output(name, rows);
                        outputs.Add(output);
                    }

                    reader.Read();
                    if (output.RowsRead != row)
                    {
                        throw new InvalidDataException($"row {(row + 1).ToString(CultureInfo.InvariantCulture)} of 'predictions' has output '{name}' twice");
                    }

                    output.ReadRow(ref reader);
                }

                foreach (var output in outputs)
                {
                    if (output.RowsRead != row + 1)
                    {
                        throw new InvalidDataException($"row {(row + 1).ToString(CultureInfo.InvariantCulture)} of 'predictions' lacks output '{output.Name}'");
                    }
                }
            }

            row++;
        }

        return outputs;
    }

    /// <summary><c>"outputs": tensor</c> or <c>{"name": tensor, ...}</c>: each tensor's first dimension is the batch.</summary>
    private static List<Output> ReadColumns(ref Utf8JsonReader reader, int rows)
    {
        var outputs = new List<Output>();
        if (reader.TokenType == JsonTokenType.StartArray)
        {
            var output = new Output(null, rows);
            outputs.Add(output);
            ReadBatch(ref reader, output, rows);
            return outputs;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new InvalidDataException("'outputs' is neither a list (the batch of one output) nor an object of named outputs");
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            if (Find(outputs, name) is not null)
            {
                throw new InvalidDataException($"'outputs' has output '{name}' twice");
            }

            var output = new Output(name, rows);
            outputs.Add(output);
            reader.Read();
            if (reader.TokenType != JsonTokenType.StartArray)
            {
                throw new InvalidDataException($"output '{name}' of 'outputs' is not a list over the batch");
            }

            ReadBatch(ref reader, output, rows);
        }

        return outputs;
    }

    private static void ReadBatch(ref Utf8JsonReader reader, Output output, int rows)
    {
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (output.RowsRead == rows)
            {
                throw new InvalidDataException($"{output.Describe()} has more rows than the batch's {rows.ToString(CultureInfo.InvariantCulture)}");
            }

            output.ReadRow(ref reader);
        }
    }

    private static Output? Find(List<Output> outputs, string name)
    {
        foreach (var output in outputs)
        {
            if (output.Name == name)
            {
                return output;
            }
        }

        return null;
    }

    /// <summary>Puts quotes around the bare NaN, Infinity and -Infinity tokens outside strings.</summary>
    internal static byte[] QuoteNonFinite(ReadOnlySpan<byte> json)
    {
        var result = new List<byte>(json.Length + 64);
        var inString = false;
        for (var i = 0; i < json.Length; i++)
        {
            var b = json[i];
            if (inString)
            {
                result.Add(b);
                if (b == (byte)'\\' && i + 1 < json.Length)
                {
                    result.Add(json[++i]);
                }
                else if (b == (byte)'"')
                {
                    inString = false;
                }

                continue;
            }

            if (b == (byte)'"')
            {
                inString = true;
                result.Add(b);
                continue;
            }

            var token = json[i..].StartsWith("NaN"u8) ? 3
                : json[i..].StartsWith("Infinity"u8) ? 8
                : json[i..].StartsWith("-Infinity"u8) ? 9
                : 0;
            if (token == 0)
            {
                result.Add(b);
                continue;
            }

            result.Add((byte)'"');
            result.AddRange(json.Slice(i, token));
            result.Add((byte)'"');
            i += token - 1;
        }

        return [.. result];
    }

    /// <summary>One output being read: its row shape (learnt from the first row) and its values.</summary>
    private sealed class Output
    {
        private readonly int _rows;
        private readonly int[] _dims = new int[MaxRank];
        private int _leafDepth = -1;
        private List<double>? _firstRow = [];
        private double[] _values = [];
        private int _perRow;
        private int _count;

        public Output(string? name, int rows)
        {
            Name = name;
            _rows = rows;
            Array.Fill(_dims, -1);
        }

        public string? Name { get; }

        public int RowsRead { get; private set; }

        public IReadOnlyList<int> RowShape { get; private set; } = [];

        public double[] Values => _values;

        public string Describe() => Name is null ? "the output" : $"output '{Name}'";

        /// <summary>Reads the value the reader is on (a number or a nested list) as the next row.</summary>
        public void ReadRow(ref Utf8JsonReader reader)
        {
            _count = 0;
            ReadNode(ref reader, 0);
            if (_firstRow is { } first)
            {
                var unset = Array.IndexOf(_dims, -1);
                var rank = _leafDepth >= 0 ? _leafDepth : unset < 0 ? MaxRank : unset;
                RowShape = _dims[..rank];
                _perRow = first.Count;
                if ((long)_perRow * _rows > Array.MaxLength)
                {
                    throw new InvalidDataException($"{Describe()} has {_perRow.ToString(CultureInfo.InvariantCulture)} values a row, too many for {_rows.ToString(CultureInfo.InvariantCulture)} rows");
                }

                _values = new double[_perRow * _rows];
                first.CopyTo(_values);
                _firstRow = null;
            }
            else if (_count != _perRow)
            {
                throw Ragged();
            }

            RowsRead++;
        }

        private void ReadNode(ref Utf8JsonReader reader, int depth)
        {
            var first = _firstRow is not null;
            if (reader.TokenType == JsonTokenType.StartArray)
            {
                if (depth == MaxRank || (_leafDepth >= 0 && depth >= _leafDepth))
                {
                    throw Ragged();
                }

                var length = 0;
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    ReadNode(ref reader, depth + 1);
                    length++;
                }

                if (_dims[depth] < 0 && first)
                {
                    _dims[depth] = length;
                }
                else if (_dims[depth] != length)
                {
                    throw Ragged();
                }

                return;
            }

            if (_leafDepth < 0 && first)
            {
                _leafDepth = depth;
            }
            else if (depth != _leafDepth)
            {
                throw Ragged();
            }

            var value = Scalar(ref reader);
            if (_firstRow is { } row)
            {
                row.Add(value);
            }
            else
            {
                if (_count == _perRow)
                {
                    throw Ragged();
                }

                _values[(RowsRead * _perRow) + _count] = value;
            }

            _count++;
        }

        private double Scalar(ref Utf8JsonReader reader)
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.Number:
                    // A float32 answer has at most 9 significant digits: the short path reads it
                    // several times faster than the reader, with the same value.
                    return !reader.HasValueSequence && ShortDecimal.TryParse(reader.ValueSpan, out var number) ? number : reader.GetDouble();
                case JsonTokenType.True:
                    return 1;
                case JsonTokenType.False:
                    return 0;
                case JsonTokenType.String when reader.ValueTextEquals("NaN"u8):
                    return double.NaN;
                case JsonTokenType.String when reader.ValueTextEquals("Infinity"u8):
                    return double.PositiveInfinity;
                case JsonTokenType.String when reader.ValueTextEquals("-Infinity"u8):
                    return double.NegativeInfinity;
                case JsonTokenType.String:
                    throw new InvalidDataException($"{Describe()} holds text (a DT_STRING tensor); predict reads numbers");
                default:
                    throw new InvalidDataException($"{Describe()} holds {reader.TokenType.ToString().ToLowerInvariant()} where a number or a list belongs");
            }
        }

        private InvalidDataException Ragged() => new(_firstRow is not null
            ? $"the first row of {Describe()} is not a tensor: its lists differ in length or depth"
            : $"row {(RowsRead + 1).ToString(CultureInfo.InvariantCulture)} of {Describe()} does not have the shape {PredictRequestWriter.ShapeText(RowShape)} of the first row");
    }
}
