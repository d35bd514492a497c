using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace MlModel.Dsl;

/// <summary>Renders result sets as a text table, as the host engine's job JSON, or as CSV.</summary>
public static class ResultWriter
{
    /// <summary>The buffer and writer of <see cref="JsonText"/>, the thread's own.</summary>
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? _threadJsonBuffer;

    [ThreadStatic]
    private static Utf8JsonWriter? _threadJsonWriter;

    /// <summary>
    /// Writes the host engine's job shape:
    /// <c>{"fields":[{"name":"id","type":"int"},...],"results":[[1,"root",...],...]}</c>, streaming row by row.
    /// </summary>
    public static void WriteJson(ResultSet result, Stream output, bool indented = false)
    {
        // Relaxed escaping writes ', <, > and non-ASCII text as themselves ("it's", "모델") rather
        // than as \u0027 and \uXXXX: still valid JSON (only ", \ and control characters must be
        // escaped, and are), meant for a JSON reader (the host's job API, a terminal, a file). It is
        // "unsafe" only for text pasted into HTML or a <script> block, which this output is not; a
        // host that embeds it in a page must encode it for that page.
        using var writer = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = indented, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        writer.WriteStartObject();
        writer.WriteStartArray("fields");
        foreach (var f in result.Fields)
        {
            writer.WriteStartObject();
            writer.WriteString("name", f.Name);
            writer.WriteString("type", f.TypeName);
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
        writer.WriteStartArray("results");
        var rows = 0;
        var json = result.Fields.Select(f => f.Type == FieldType.Json).ToArray();
        foreach (var row in result)
        {
            writer.WriteStartArray();
            for (var i = 0; i < row.Length; i++)
            {
                WriteValue(writer, row[i], i < json.Length && json[i]);
            }
            writer.WriteEndArray();
            if (++rows % 1024 == 0)
            {
                writer.Flush();
            }
        }
        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    /// <summary>
    /// One value of a row: numbers as JSON numbers, the text of a <see cref="FieldType.Json"/> column
    /// as the JSON it holds, a host's array (double[], nested arrays) as a JSON array, the rest as text.
    /// </summary>
    private static void WriteValue(Utf8JsonWriter writer, object? value, bool json)
    {
        switch (value)
        {
            case null or DBNull:
                writer.WriteNullValue();
                break;
            case string text when json:
                WriteRawJson(writer, text);
                break;
            case string text:
                writer.WriteStringValue(text);
                break;
            case int i:
                writer.WriteNumberValue(i);
                break;
            case long l:
                writer.WriteNumberValue(l);
                break;
            case double d:
                WriteNumber(writer, d);
                break;
            case float f:
                WriteNumber(writer, f);
                break;
            case decimal m:
                writer.WriteNumberValue(m);
                break;
            case short or byte or sbyte or ushort or uint:
                writer.WriteNumberValue(Convert.ToInt64(value, CultureInfo.InvariantCulture));
                break;
            case ulong u:
                writer.WriteNumberValue(u);
                break;
            case JsonElement e:
                e.WriteTo(writer);
                break;
            // The host's usual arrays without boxing each item (as the IEnumerable case below would).
            case double[] doubles:
                writer.WriteStartArray();
                foreach (var d in doubles)
                {
                    WriteNumber(writer, d);
                }
                writer.WriteEndArray();
                break;
            case float[] floats:
                writer.WriteStartArray();
                foreach (var f in floats)
                {
                    WriteNumber(writer, f);
                }
                writer.WriteEndArray();
                break;
            case System.Collections.IDictionary map:
                // A JSON object: several outputs of serving predict by name, a host's map.
                writer.WriteStartObject();
                foreach (System.Collections.DictionaryEntry entry in map)
                {
                    writer.WritePropertyName(Convert.ToString(entry.Key, CultureInfo.InvariantCulture) ?? "");
                    WriteValue(writer, entry.Value, json: false);
                }
                writer.WriteEndObject();
                break;
            case System.Collections.IEnumerable items:
                writer.WriteStartArray();
                foreach (var item in items)
                {
                    WriteValue(writer, item, json: false);
                }
                writer.WriteEndArray();
                break;
            default:
                writer.WriteStringValue(Convert.ToString(value, CultureInfo.InvariantCulture));
                break;
        }
    }

    /// <summary>A double as a JSON number; JSON has none for NaN and the infinities, written as the strings System.Text.Json reads back (<c>"NaN"</c>).</summary>
    private static void WriteNumber(Utf8JsonWriter writer, double d)
    {
        if (double.IsFinite(d))
        {
            writer.WriteNumberValue(d);
        }
        else
        {
            writer.WriteStringValue(d.ToString(CultureInfo.InvariantCulture));
        }
    }

    /// <summary>JSON text as the value it holds; text that is not JSON (a host's column declared json) as a string.</summary>
    private static void WriteRawJson(Utf8JsonWriter writer, string text)
    {
        if (IsJson(text))
        {
            writer.WriteRawValue(text, skipInputValidation: true);
        }
        else
        {
            writer.WriteStringValue(text);
        }
    }

    private static bool IsJson(string text)
    {
        if (text.Length == 0)
        {
            return false;
        }
        var bytes = Encoding.UTF8.GetBytes(text);
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { MaxDepth = 64 });
        try
        {
            return reader.Read() && reader.TrySkip() && !reader.Read();
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>The job JSON as a string.</summary>
    public static string ToJson(ResultSet result, bool indented = false)
    {
        using var stream = new MemoryStream();
        WriteJson(result, stream, indented);
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>Writes RFC 4180 CSV with a header row.</summary>
    public static void WriteCsv(ResultSet result, TextWriter output)
    {
        output.Write(string.Join(',', result.Fields.Select(f => CsvCell(f.Name))));
        output.Write("\r\n");
        foreach (var row in result)
        {
            for (var i = 0; i < row.Length; i++)
            {
                if (i > 0)
                {
                    output.Write(',');
                }
                output.Write(CsvCell(Text(row[i])));
            }
            output.Write("\r\n");
        }
    }

    private static string CsvCell(string value) =>
        value.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;

    /// <summary>
    /// Writes an aligned text table, like the spec's tables. Control characters in values are
    /// written out (<c>\n</c>, <c>\x1b</c>, <c>\u009b</c>), so that no stored value can drive the terminal. Cells longer than
    /// <paramref name="maxCellWidth"/> columns (but in the last column, and in a table of one row) are cut with an ellipsis; wide (Korean, CJK)
    /// characters count two columns. The table is buffered, so use it for what people read.
    /// </summary>
    public static void WriteTable(ResultSet result, TextWriter output, int maxCellWidth = 48) =>
        WriteTable(result, output, maxCellWidth, wrap: false);

    /// <summary>
    /// <see cref="WriteTable(ResultSet, TextWriter, int)"/>, with long cells wrapped onto more lines of
    /// their row instead of cut when <paramref name="wrap"/> is true: for tables whose text is the point
    /// (check's detail, history's message), where the useful part may come last.
    /// </summary>
    public static void WriteTable(ResultSet result, TextWriter output, int maxCellWidth, bool wrap)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCellWidth, 2);
        // The last column is never cut: its overflow cannot break the alignment, and it is often
        // what the user came for (a download URL, the command in history).
        // A table of one row (import, export, deploy results) is not cut at all: there is nothing
        // to keep aligned, and export's download URL sits in the middle column.
        var last = result.Fields.Count - 1;
        var texts = result.Select(r => r.Select(Text).ToArray()).ToList();
        var width = texts.Count == 1 ? int.MaxValue : maxCellWidth;
        // Each row is one or more lines: its cells cut (one line), or wrapped (as many as its longest cell needs).
        var rows = texts.Select(r => r.Select((t, i) => i == last || width == int.MaxValue ? [Visible(t)]
            : wrap ? Wrap(Visible(t), width) : [Cut(t, width)]).ToArray()).ToList();
        var widths = result.Fields.Select((f, i) => Math.Max(DisplayWidth(f.Name), rows.Count == 0 ? 0 : rows.Max(r => r[i].Max(DisplayWidth)))).ToArray();
        var numeric = result.Fields.Select(f => f.Type is FieldType.Int or FieldType.Long or FieldType.Double).ToArray();

        void Line(IReadOnlyList<string> cells, bool header)
        {
            var sb = new StringBuilder();
            for (var i = 0; i < cells.Count; i++)
            {
                if (i > 0)
                {
                    sb.Append(" | ");
                }
                var pad = new string(' ', widths[i] - DisplayWidth(cells[i]));
                sb.Append(numeric[i] && !header ? pad + cells[i] : cells[i] + (i == cells.Count - 1 ? "" : pad));
            }
            output.WriteLine(sb.ToString().TrimEnd());
        }

        Line(result.Fields.Select(f => f.Name).ToList(), header: true);
        output.WriteLine(string.Join("-+-", widths.Select(w => new string('-', w))));
        foreach (var row in rows)
        {
            var height = row.Max(c => c.Count);
            for (var line = 0; line < height; line++)
            {
                Line(row.Select(c => line < c.Count ? c[line] : "").ToList(), header: false);
            }
        }
        output.WriteLine(rows.Count == 1 ? "(1 row)" : $"({rows.Count} rows)");
    }

    /// <summary>A cell's text in lines of at most <paramref name="max"/> columns, broken after a space where one is near.</summary>
    private static List<string> Wrap(string text, int max)
    {
        var lines = new List<string>();
        while (DisplayWidth(text) > max)
        {
            // The longest prefix that fits, in whole runes (a wide character is not split).
            var fit = 0;
            var used = 0;
            foreach (var rune in text.EnumerateRunes())
            {
                var w = RuneWidth(rune);
                if (used + w > max)
                {
                    break;
                }
                used += w;
                fit += rune.Utf16SequenceLength;
            }
            var space = text.LastIndexOf(' ', fit - 1, fit);
            var cut = space > fit / 2 ? space + 1 : fit;
            lines.Add(text[..cut].TrimEnd());
            text = text[cut..];
        }
        lines.Add(text);
        return lines;
    }

    /// <summary>The table as a string.</summary>
    public static string ToTable(ResultSet result, int maxCellWidth = 48)
    {
        using var writer = new StringWriter(CultureInfo.InvariantCulture);
        WriteTable(result, writer, maxCellWidth);
        return writer.ToString();
    }

    private static string Text(object? value) => value switch
    {
        null or DBNull => "",
        string s => s,
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        // A host's array (double[], nested arrays) reads as the JSON array it is.
        JsonElement or System.Collections.IEnumerable => JsonText(value),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };

    /// <summary>
    /// A host's value (an array, a <see cref="JsonElement"/>) as JSON text. The predict stage calls it
    /// for every row of a json column the host gave as an array: the writer and its buffer are the
    /// thread's own, reused, so that a row costs its string and nothing else.
    /// </summary>
    internal static string JsonText(object value)
    {
        // A short array of finite numbers (a row's features), written straight as characters: the
        // same text as through Utf8JsonWriter (whose numbers are double.ToString's, shortest
        // round-trip), without the UTF-8 round trip.
        switch (value)
        {
            case double[] doubles when NumbersText(doubles, static (d, i) => d[i]) is { } text:
                return text;
            case float[] floats when NumbersText(floats, static (f, i) => f[i]) is { } text:
                return text;
        }
        var buffer = _threadJsonBuffer ??= new ArrayBufferWriter<byte>(256);
        var writer = _threadJsonWriter ??= new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        buffer.ResetWrittenCount();
        writer.Reset(buffer);
        try
        {
            WriteValue(writer, value, json: false);
            writer.Flush();
            return Encoding.UTF8.GetString(buffer.WrittenSpan);
        }
        finally
        {
            if (buffer.Capacity > 64 * 1024)
            {
                // A wide row's buffer is not kept for the thread's lifetime.
                _threadJsonBuffer = null;
                _threadJsonWriter = null;
            }
        }
    }

    /// <summary>
    /// <c>[1.5,-2,3E+20]</c>: every item as a double in its shortest round-trip form, as
    /// <see cref="WriteNumber"/> writes it; null when an item is not finite (written as a string)
    /// or the text would not fit in <see cref="MaxNumbersText"/> characters: the writer's path then.
    /// </summary>
    private static string? NumbersText<T>(T[] items, Func<T[], int, double> item)
    {
        if (items.Length > MaxNumbersText / 2)
        {
            return null;
        }
        // Room for the shortest round trip of any double (at most 24 characters) and a comma each.
        Span<char> chars = stackalloc char[Math.Min(MaxNumbersText, (items.Length * 25) + 2)];
        chars[0] = '[';
        var length = 1;
        for (var i = 0; i < items.Length; i++)
        {
            var d = item(items, i);
            if (!double.IsFinite(d))
            {
                return null;
            }
            if (i > 0)
            {
                chars[length++] = ',';
            }
            // The last character is kept for the ']'.
            if (length >= chars.Length - 1 || !d.TryFormat(chars[length..^1], out var written, default, CultureInfo.InvariantCulture))
            {
                return null;
            }
            length += written;
        }
        chars[length++] = ']';
        return new string(chars[..length]);
    }

    /// <summary>The longest text <see cref="NumbersText"/> writes on the stack (2 KiB).</summary>
    private const int MaxNumbersText = 1024;

    private static string Cut(string text, int max)
    {
        text = Visible(text);
        if (DisplayWidth(text) <= max)
        {
            return text;
        }
        var sb = new StringBuilder();
        var width = 0;
        foreach (var rune in text.EnumerateRunes())
        {
            var w = RuneWidth(rune);
            if (width + w > max - 1)
            {
                break;
            }
            sb.Append(rune.ToString());
            width += w;
        }
        return sb.Append('…').ToString();
    }

    /// <summary>
    /// A value with its control characters written out: <c>\n</c>, <c>\r</c>, <c>\t</c>, other C0
    /// characters and DEL as <c>\x1b</c>, C1 characters as <c>\u009b</c>. A value is whatever a
    /// user stored (a description, a name inside an error message in history): printed as it is,
    /// an ESC or CSI sequence would drive the terminal (clear it, retitle it, fake output), and a
    /// line break would tear the table. JSON and CSV keep the exact value.
    /// </summary>
    private static string Visible(string text)
    {
        if (!text.Any(char.IsControl))
        {
            return text;
        }
        var sb = new StringBuilder(text.Length + 16);
        foreach (var c in text)
        {
            switch (c)
            {
                case '\n':
                    sb.Append("\\n");
                    break;
                case '\r':
                    sb.Append("\\r");
                    break;
                case '\t':
                    sb.Append("\\t");
                    break;
                case < ' ' or '\u007f':
                    sb.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
                    break;
                case >= '\u0080' and <= '\u009f':
                    sb.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
                    break;
                default:
                    sb.Append(c);
                    break;
            }
        }
        return sb.ToString();
    }

    /// <summary>Terminal columns a string takes: East Asian wide and fullwidth characters take two, combining marks none.</summary>
    public static int DisplayWidth(string text)
    {
        var width = 0;
        foreach (var rune in text.EnumerateRunes())
        {
            width += RuneWidth(rune);
        }
        return width;
    }

    private static int RuneWidth(Rune rune)
    {
        var c = rune.Value;
        var category = Rune.GetUnicodeCategory(rune);
        if (category is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark or UnicodeCategory.Format || c == 0x200B)
        {
            return 0;
        }
        if (c < 0x1100)
        {
            return 1;
        }
        // Unicode East Asian Width W and F ranges (UAX #11), the ones that occur in practice.
        return c is <= 0x115F // Hangul Jamo leading consonants
            or (>= 0x2E80 and <= 0x303E) or (>= 0x3041 and <= 0x33FF) or (>= 0x3400 and <= 0x4DBF)
            or (>= 0x4E00 and <= 0x9FFF) or (>= 0xA000 and <= 0xA4CF) or (>= 0xA960 and <= 0xA97F)
            or (>= 0xAC00 and <= 0xD7A3) or (>= 0xF900 and <= 0xFAFF) or (>= 0xFE30 and <= 0xFE4F)
            or (>= 0xFF00 and <= 0xFF60) or (>= 0xFFE0 and <= 0xFFE6) or (>= 0x1F300 and <= 0x1F64F)
            or (>= 0x1F900 and <= 0x1F9FF) or (>= 0x20000 and <= 0x3FFFD)
            ? 2
            : 1;
    }
}
