using System.Globalization;
using System.Text;
using System.Text.Json;

namespace MlModel.Dsl.Serving.TensorFlow.Tests;

/// <summary>
/// JSON as TensorFlow Serving's REST handler writes it: rapidjson's PrettyWriter (4-space
/// indent; with kFormatSingleLineArray, arrays on one line with ", " between items), the
/// float text of json_tensor.cc WriteDecimal, and the debug text of JSON values its error
/// messages quote (JsonValueToDebugString, at most 256 bytes).
/// </summary>
internal sealed class FakeJson
{
    private readonly StringBuilder _text = new();
    private readonly List<(bool InArray, int Count)> _levels = [];

    /// <summary>rapidjson's kFormatSingleLineArray.</summary>
    public bool SingleLineArrays { get; set; }

    public override string ToString() => _text.ToString();

    public FakeJson StartObject()
    {
        Prefix();
        _text.Append('{');
        _levels.Add((false, 0));
        return this;
    }

    public FakeJson EndObject()
    {
        var (_, count) = _levels[^1];
        _levels.RemoveAt(_levels.Count - 1);
        if (count > 0)
        {
            _text.Append('\n');
            Indent();
        }

        _text.Append('}');
        return this;
    }

    public FakeJson StartArray()
    {
        Prefix();
        _text.Append('[');
        _levels.Add((true, 0));
        return this;
    }

    public FakeJson EndArray()
    {
        var (_, count) = _levels[^1];
        _levels.RemoveAt(_levels.Count - 1);
        if (count > 0 && !SingleLineArrays)
        {
            _text.Append('\n');
            Indent();
        }

        _text.Append(']');
        return this;
    }

    public FakeJson Key(string name)
    {
        Prefix();
        _text.Append(Quote(name));
        return this;
    }

    public FakeJson String(string value) => Raw(Quote(value));

    /// <summary>A value written as it is (a number's text, true, false).</summary>
    public FakeJson Raw(string text)
    {
        Prefix();
        _text.Append(text);
        return this;
    }

    /// <summary>PrettyWriter::PrettyPrefix: where the next key or value goes.</summary>
    private void Prefix()
    {
        if (_levels.Count == 0)
        {
            return;
        }

        var (inArray, count) = _levels[^1];
        if (inArray)
        {
            if (count > 0)
            {
                _text.Append(SingleLineArrays ? ", " : ",");
            }

            if (!SingleLineArrays)
            {
                _text.Append('\n');
                Indent();
            }
        }
        else
        {
            _text.Append(count == 0 ? "\n" : count % 2 == 0 ? ",\n" : ": ");
            if (count % 2 == 0)
            {
                Indent();
            }
        }

        _levels[^1] = (inArray, count + 1);
    }

    private void Indent() => _text.Append(' ', 4 * _levels.Count);

    /// <summary>rapidjson's string escaping: quotes, backslashes and control characters; the rest as it is.</summary>
    public static string Quote(string value)
    {
        var sb = new StringBuilder(value.Length + 2).Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case < ' ': sb.Append("\\u00").Append(((int)c).ToString("X2", CultureInfo.InvariantCulture)); break;
                default: sb.Append(c); break;
            }
        }

        return sb.Append('"').ToString();
    }

    /// <summary>
    /// json_tensor.cc WriteDecimal: absl::StrCat's six significant digits ("%g"), or max_digits10
    /// when those do not read back as the same value, ".0" added to a whole number, and the tokens
    /// NaN, Infinity and -Infinity.
    /// </summary>
    public static string Decimal(double value, bool isFloat)
    {
        if (double.IsNaN(value))
        {
            return "NaN";
        }

        if (double.IsInfinity(value))
        {
            return value > 0 ? "Infinity" : "-Infinity";
        }

        string text;
        if (isFloat)
        {
            var f = (float)value;
            text = f.ToString("G6", CultureInfo.InvariantCulture);
            if (float.Parse(text, CultureInfo.InvariantCulture) != f)
            {
                text = f.ToString("G9", CultureInfo.InvariantCulture);
            }
        }
        else
        {
            text = value.ToString("G6", CultureInfo.InvariantCulture);
            if (double.Parse(text, CultureInfo.InvariantCulture) != value)
            {
                text = value.ToString("G17", CultureInfo.InvariantCulture);
            }
        }

        text = text.Replace("E", "e", StringComparison.Ordinal);
        return text.Contains('.', StringComparison.Ordinal) || text.Contains('e', StringComparison.Ordinal) ? text : text + ".0";
    }

    /// <summary>JsonValueToDebugString: the value in PrettyWriter form with single-line arrays, cut at 256 bytes.</summary>
    public static string Debug(JsonElement value)
    {
        var json = new FakeJson { SingleLineArrays = true };
        Write(json, value);
        var text = json.ToString();
        var bytes = Encoding.UTF8.GetBytes(text);
        return bytes.Length <= 256 ? text : Encoding.UTF8.GetString(bytes, 0, 256);
    }

    /// <summary>rapidjson's name of a value's type (JsonTypeString).</summary>
    public static string TypeName(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Null => "Null",
        JsonValueKind.False => "False",
        JsonValueKind.True => "True",
        JsonValueKind.Object => "Object",
        JsonValueKind.Array => "Array",
        JsonValueKind.String => "String",
        _ => "Number",
    };

    private static void Write(FakeJson json, JsonElement value)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                json.StartObject();
                foreach (var p in value.EnumerateObject())
                {
                    json.Key(p.Name);
                    Write(json, p.Value);
                }

                json.EndObject();
                break;
            case JsonValueKind.Array:
                json.StartArray();
                foreach (var item in value.EnumerateArray())
                {
                    Write(json, item);
                }

                json.EndArray();
                break;
            case JsonValueKind.String:
                json.String(FakeNonFinite.Unmark(value.GetString()!) ?? value.GetString()!);
                break;
            default:
                json.Raw(value.GetRawText());
                break;
        }
    }
}

/// <summary>
/// rapidjson reads NaN, Infinity and -Infinity (json_tensor.cc ParseJson: kParseNanAndInfFlag);
/// System.Text.Json does not. Such bare tokens are turned into marked strings before parsing
/// and read back as numbers where a number belongs.
/// </summary>
internal static class FakeNonFinite
{
    private const string Mark = "\u0001nonfinite:";

    public static byte[] MarkTokens(ReadOnlySpan<byte> json)
    {
        var result = new List<byte>(json.Length + 32);
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

            var length = json[i..].StartsWith("NaN"u8) ? 3 : json[i..].StartsWith("Infinity"u8) ? 8 : json[i..].StartsWith("-Infinity"u8) ? 9 : 0;
            if (length == 0)
            {
                result.Add(b);
                continue;
            }

            result.AddRange("\"\\u0001nonfinite:"u8.ToArray());
            result.AddRange(json.Slice(i, length).ToArray());
            result.Add((byte)'"');
            i += length - 1;
        }

        return [.. result];
    }

    /// <summary>The token a marked string stands for, or null for an ordinary string.</summary>
    public static string? Unmark(string value) => value.StartsWith(Mark, StringComparison.Ordinal) ? value[Mark.Length..] : null;

    public static bool TryNumber(JsonElement value, out double number)
    {
        number = 0;
        if (value.ValueKind == JsonValueKind.Number)
        {
            number = value.GetDouble();
            return true;
        }

        switch (value.ValueKind == JsonValueKind.String ? Unmark(value.GetString()!) : null)
        {
            case "NaN":
                number = double.NaN;
                return true;
            case "Infinity":
                number = double.PositiveInfinity;
                return true;
            case "-Infinity":
                number = double.NegativeInfinity;
                return true;
            default:
                return false;
        }
    }
}
