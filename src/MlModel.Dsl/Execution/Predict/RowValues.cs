using System.Buffers;
using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace MlModel.Dsl.Execution.Predict;

/// <summary>
/// Reads one row's input value as numbers, flattened row-major: JSON array text (nested arrays
/// too), comma-separated numbers, a number, or a host's numeric array (double[], float[], int[],
/// long[], nested or multi-dimensional arrays, lists, a <see cref="JsonElement"/>). NaN and the
/// infinities are not numbers here: JSON cannot carry them to the server. One instance per
/// stage: it reuses its buffer row after row (not thread-safe).
/// </summary>
internal sealed class RowValues
{
    /// <summary>The longest UTF-8 text of a row read on the stack.</summary>
    private const int MaxStackBytes = 512;

    private static readonly JsonReaderOptions JsonOptions = new() { MaxDepth = 64 };

    private double[] _values = new double[64];

    /// <summary>How many numbers the last <see cref="Read"/> found.</summary>
    public int Count { get; private set; }

    /// <summary>The numbers the last <see cref="Read"/> found.</summary>
    public ReadOnlySpan<double> Values => _borrowed is { } host ? host : _values.AsSpan(0, Count);

    /// <summary>A host's <c>double[]</c> of finite numbers, read as it is rather than copied: the last <see cref="Read"/>'s values.</summary>
    private double[]? _borrowed;

    /// <summary>Reads <paramref name="value"/>; null when it is numbers, else what is wrong with it, to follow "column 'x' ".</summary>
    public string? Read(object? value)
    {
        Count = 0;
        _borrowed = null;
        switch (value)
        {
            case null or DBNull:
                return "has no value (null)";
            case string text:
                return ReadText(text);
            case double[] doubles:
                // The usual host value: its own numbers, once checked, with no copy.
                for (var i = 0; i < doubles.Length; i++)
                {
                    if (!double.IsFinite(doubles[i]))
                    {
                        Count = i;
                        return Add(doubles[i]);
                    }
                }
                if (doubles.Length == 0)
                {
                    return "holds an empty array";
                }
                _borrowed = doubles;
                Count = doubles.Length;
                return null;
            case float[] floats:
                foreach (var f in floats)
                {
                    if (Add(f) is { } why)
                    {
                        return why;
                    }
                }
                return floats.Length == 0 ? "holds an empty array" : null;
            case JsonElement element:
                return element.ValueKind == JsonValueKind.String ? ReadText(element.GetString()!) : ReadElement(element) ?? Empty();
            case IEnumerable items:
                return ReadItems(items) ?? Empty();
            default:
                return Number(value, out var number) ? Add(number) : $"holds a value of type {value.GetType().Name}, not numbers";
        }
    }

    private string? Empty() => Count == 0 ? "holds an empty array" : null;

    private string? Add(double value)
    {
        if (!double.IsFinite(value))
        {
            return $"holds {value.ToString(CultureInfo.InvariantCulture)} at item {Count + 1}, which is not a number JSON can carry";
        }
        if (Count == _values.Length)
        {
            Array.Resize(ref _values, _values.Length * 2);
        }
        _values[Count++] = value;
        return null;
    }

    private static bool Number(object value, out double number)
    {
        switch (value)
        {
            case double d:
                number = d;
                return true;
            case float f:
                number = f;
                return true;
            case int i:
                number = i;
                return true;
            case long l:
                number = l;
                return true;
            case decimal m:
                number = (double)m;
                return true;
            case short or byte or sbyte or ushort or uint or ulong:
                number = Convert.ToDouble(value, CultureInfo.InvariantCulture);
                return true;
            default:
                number = 0;
                return false;
        }
    }

    private string? ReadItems(IEnumerable items)
    {
        foreach (var item in items)
        {
            string? why = item switch
            {
                null or DBNull => $"holds a null at item {Count + 1}, not a number",
                string s => $"holds the text '{PredictErrors.Shown(s)}' at item {Count + 1} of an array, not a number",
                JsonElement e => ReadElement(e),
                IEnumerable nested => ReadItems(nested),
                _ => Number(item, out var number) ? Add(number) : $"holds a value of type {item.GetType().Name} at item {Count + 1}, not a number",
            };
            if (why is not null)
            {
                return why;
            }
        }
        return null;
    }

    private string? ReadElement(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Number:
                return element.TryGetDouble(out var d) ? Add(d) : $"holds {PredictErrors.Shown(element.GetRawText())} at item {Count + 1}, which is out of range";
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    if (ReadElement(item) is { } why)
                    {
                        return why;
                    }
                }
                return null;
            default:
                return $"holds {Kind(element.ValueKind)} at item {Count + 1}, not a number";
        }
    }

    private static string Kind(JsonValueKind kind) => kind switch
    {
        JsonValueKind.String => "a JSON string",
        JsonValueKind.Object => "a JSON object",
        JsonValueKind.True or JsonValueKind.False => "a JSON boolean",
        JsonValueKind.Null => "a JSON null",
        _ => "a JSON value",
    };

    private string? ReadText(string text)
    {
        var span = text.AsSpan().Trim();
        if (span.IsEmpty)
        {
            return "is empty";
        }
        if (span[0] != '[')
        {
            return ReadList(span);
        }
        if (TryReadFlatJson(span))
        {
            return null;
        }
        Count = 0;
        return ReadJson(span);
    }

    /// <summary>
    /// The usual JSON text of a row, a flat array of numbers (<c>[5.1, 3.5, 1.4, 0.2]</c>), read
    /// without the JSON reader (its UTF-8 copy and tokens cost more than the numbers): true when the
    /// whole text is one and every number is finite, with the same values as the reader gives (both
    /// round correctly). Anything else, nested arrays, another token, a number JSON does not allow
    /// (<c>01</c>, <c>.5</c>, <c>+1</c>), a syntax error or a number out of range, returns false
    /// and <see cref="ReadJson"/> reads the text from the start, with its messages.
    /// </summary>
    internal bool TryReadFlatJson(ReadOnlySpan<char> span)
    {
        if (span.IsEmpty || span[0] != '[')
        {
            return false;
        }
        var i = 1;
        while (true)
        {
            SkipJsonSpace(span, ref i);
            var start = i;
            if (!SkipJsonNumber(span, ref i)
                || !TryParseNumber(span[start..i], out var value)
                || Add(value) is not null)
            {
                return false;
            }
            SkipJsonSpace(span, ref i);
            if (i == span.Length)
            {
                return false;
            }
            if (span[i] == ']')
            {
                return i == span.Length - 1;
            }
            if (span[i++] != ',')
            {
                return false;
            }
        }
    }

    private static void SkipJsonSpace(ReadOnlySpan<char> span, ref int i)
    {
        while (i < span.Length && span[i] is ' ' or '\t' or '\n' or '\r')
        {
            i++;
        }
    }

    /// <summary>Moves past a number as JSON writes it: <c>-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?</c>; false when there is none.</summary>
    private static bool SkipJsonNumber(ReadOnlySpan<char> span, ref int i)
    {
        if (i < span.Length && span[i] == '-')
        {
            i++;
        }
        if (i == span.Length || !char.IsAsciiDigit(span[i]))
        {
            return false;
        }
        if (span[i++] != '0')
        {
            SkipDigits(span, ref i);
        }
        if (i < span.Length && span[i] == '.')
        {
            i++;
            if (SkipDigits(span, ref i) == 0)
            {
                return false;
            }
        }
        if (i < span.Length && span[i] is 'e' or 'E')
        {
            i++;
            if (i < span.Length && span[i] is '+' or '-')
            {
                i++;
            }
            if (SkipDigits(span, ref i) == 0)
            {
                return false;
            }
        }
        return true;
    }

    private static int SkipDigits(ReadOnlySpan<char> span, ref int i)
    {
        var start = i;
        while (i < span.Length && char.IsAsciiDigit(span[i]))
        {
            i++;
        }
        return i - start;
    }

    /// <summary>A number as <see cref="double.TryParse(ReadOnlySpan{char}, NumberStyles, IFormatProvider, out double)"/> reads it (<see cref="NumberStyles.Float"/>, invariant).</summary>
    internal static bool TryParseNumber(ReadOnlySpan<char> text, out double value) =>
        ShortDecimal.TryParse(text, out value) || double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value);

    /// <summary>Comma-separated numbers: <c>1.5, 2, -3e-2</c>.</summary>
    private string? ReadList(ReadOnlySpan<char> span)
    {
        foreach (var range in span.Split(','))
        {
            var item = span[range].Trim();
            if (item.IsEmpty)
            {
                return $"has an empty item {Count + 1} (two commas, or a comma at an end)";
            }
            if (!TryParseNumber(item, out var value))
            {
                return $"holds '{PredictErrors.Shown(item.ToString())}' at item {Count + 1}, which is not a number";
            }
            if (Add(value) is { } why)
            {
                return why;
            }
        }
        return null;
    }

    /// <summary>A JSON array of numbers, arrays nested as deep as a tensor's rank: <c>[[1,2],[3,4]]</c>.</summary>
    internal string? ReadJson(ReadOnlySpan<char> span)
    {
        // A row's text is usually short: its UTF-8 on the stack, a pooled buffer for a long one.
        var length = Encoding.UTF8.GetMaxByteCount(span.Length);
        var rented = length > MaxStackBytes ? ArrayPool<byte>.Shared.Rent(length) : null;
        Span<byte> utf8 = rented ?? stackalloc byte[length];
        var depth = 0;
        try
        {
            var written = Encoding.UTF8.GetBytes(span, utf8);
            var reader = new Utf8JsonReader(utf8[..written], JsonOptions);
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartArray:
                        depth++;
                        break;
                    case JsonTokenType.EndArray:
                        depth--;
                        break;
                    case JsonTokenType.Number:
                        if (!reader.TryGetDouble(out var value))
                        {
                            return $"holds a number out of range at item {Count + 1}";
                        }
                        if (Add(value) is { } why)
                        {
                            return why;
                        }
                        break;
                    default:
                        return $"is not a JSON array of numbers: item {Count + 1} is {Token(reader.TokenType)}";
                }
            }
            return Count == 0 ? "holds an empty array" : null;
        }
        catch (JsonException) when (depth >= JsonOptions.MaxDepth)
        {
            // Valid JSON, perhaps, but no tensor has that many dimensions.
            return $"nests arrays more than {JsonOptions.MaxDepth} deep";
        }
        catch (JsonException e)
        {
            // System.Text.Json's own text speaks of payloads and depths; the place is what helps.
            return $"is not valid JSON (line {(e.LineNumber ?? 0) + 1}, byte {(e.BytePositionInLine ?? 0) + 1} of the line)";
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private static string Token(JsonTokenType token) => token switch
    {
        JsonTokenType.String or JsonTokenType.PropertyName => "a string",
        JsonTokenType.StartObject => "an object",
        JsonTokenType.True or JsonTokenType.False => "a boolean",
        JsonTokenType.Null => "null",
        _ => "not a number",
    };
}
