using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using MlModel.Dsl;
using nietras.SeparatedValues;

namespace MlModel.Cli;

/// <summary>
/// <c>--input FILE|-</c>: the rows a stage that consumes rows reads (<c>serving predict</c>), from
/// CSV with a header row (read with Sep: quoted fields, a UTF-8 BOM) or JSON lines (one object per
/// line, its keys the columns). A <c>.csv</c> file is CSV, a <c>.jsonl</c>/<c>.ndjson</c>/<c>.json</c>
/// one JSON lines; otherwise, and on standard input (<c>-</c>), a first character <c>{</c> means JSON lines.
/// </summary>
internal static class InputRows
{
    /// <summary>The rows of <paramref name="path"/> (<c>-</c>: <paramref name="stdin"/>), read as the stage pulls them.</summary>
    /// <exception cref="UsageException">The file cannot be opened, or holds no header.</exception>
    public static async Task<RowSource> OpenAsync(string path, TextReader stdin, CancellationToken cancellationToken)
    {
        var name = path == "-" ? "standard input" : path;
        TextReader text;
        if (path == "-")
        {
            text = stdin;
        }
        else
        {
            try
            {
                text = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                throw new UsageException($"--input {path}: {Why(e)}", e);
            }
        }
        try
        {
            // A BOM the reader did not take (standard input as text): not part of the first column's name.
            if (text.Peek() == '\uFEFF')
            {
                text.Read();
            }
            var json = Path.GetExtension(path).ToLowerInvariant() switch
            {
                ".csv" => false,
                ".jsonl" or ".ndjson" or ".json" => true,
                _ => FirstCharacter(ref text) == '{',
            };
            return json ? await JsonLinesAsync(name, text, cancellationToken) : await CsvAsync(name, text, cancellationToken);
        }
        catch
        {
            if (path != "-")
            {
                text.Dispose();
            }
            throw;
        }
    }

    private static string Why(Exception e) => e switch
    {
        FileNotFoundException or DirectoryNotFoundException => "no such file",
        UnauthorizedAccessException => "permission denied",
        _ => e.Message,
    };

    /// <summary>The first character that is not white space, without losing what was read before it.</summary>
    private static int FirstCharacter(ref TextReader text)
    {
        var skipped = new StringBuilder();
        int c;
        while ((c = text.Peek()) >= 0 && char.IsWhiteSpace((char)c))
        {
            skipped.Append((char)text.Read());
        }
        if (skipped.Length > 0)
        {
            text = new PrefixedReader(skipped.ToString(), text);
        }
        return c;
    }

    private static async Task<RowSource> CsvAsync(string name, TextReader text, CancellationToken cancellationToken)
    {
        SepReader reader;
        try
        {
            reader = await Sep.New(',').Reader(o => o with { Unescape = true, HasHeader = true }).FromAsync(text, cancellationToken);
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException)
        {
            throw new UsageException($"--input {name}: not CSV with a header row: {e.Message}", e);
        }
        var names = reader.Header.ColNames;
        if (names.Count == 0 || (names.Count == 1 && names[0].Length == 0))
        {
            reader.Dispose();
            text.Dispose();
            throw new UsageException($"--input {name}: empty; CSV input starts with a header row that names the columns (id,features)");
        }
        var fields = names.Select(n => new ResultField(n, FieldType.String)).ToList();
        // The stage's token reaches the rows through their enumerator.
        return RowSource.FromRows(fields, ReadCsvAsync(name, reader, text, names.Count, CancellationToken.None));
    }

    private static async IAsyncEnumerable<object?[]> ReadCsvAsync(string name, SepReader reader, TextReader text, int count,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using (text)
        using (reader)
        {
            var line = 1;
            while (true)
            {
                object?[] row;
                try
                {
                    if (!await reader.MoveNextAsync(cancellationToken))
                    {
                        yield break;
                    }
                    line++;
                    var current = reader.Current;
                    row = new object?[count];
                    for (var i = 0; i < count; i++)
                    {
                        row[i] = current[i].ToString();
                    }
                }
                catch (InvalidDataException e)
                {
                    throw Invalid($"--input {name}: row {line - 1}: {e.Message}", e);
                }
                yield return row;
            }
        }
    }

    private static async Task<RowSource> JsonLinesAsync(string name, TextReader text, CancellationToken cancellationToken)
    {
        // The first object's keys are the columns; the rows stream after it.
        string? first;
        var line = 0;
        do
        {
            first = await text.ReadLineAsync(cancellationToken);
            line++;
        }
        while (first is not null && first.Trim().Length == 0);
        if (first is null)
        {
            text.Dispose();
            throw new UsageException($"--input {name}: empty; JSON lines input holds one object per line, such as {{\"id\": 1, \"features\": [1.5, 2]}}");
        }
        var firstRow = ParseLine(name, line, first, null);
        var fields = firstRow.Select(kv => new ResultField(kv.Key, kv.Value.Type)).ToList();
        return RowSource.FromRows(fields, ReadJsonLinesAsync(name, text, fields, firstRow, line, CancellationToken.None));
    }

    private static async IAsyncEnumerable<object?[]> ReadJsonLinesAsync(string name, TextReader text, List<ResultField> fields,
        List<KeyValuePair<string, (object? Value, FieldType Type)>> firstRow, int line, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using (text)
        {
            yield return firstRow.Select(kv => kv.Value.Value).ToArray();
            string? next;
            while ((next = await text.ReadLineAsync(cancellationToken)) is not null)
            {
                line++;
                if (next.Trim().Length == 0)
                {
                    continue;
                }
                var values = ParseLine(name, line, next, fields);
                var row = new object?[fields.Count];
                foreach (var (key, value) in values)
                {
                    var i = fields.FindIndex(f => f.Name == key);
                    if (i >= 0)
                    {
                        row[i] = value.Value;
                    }
                }
                yield return row;
            }
        }
    }

    /// <summary>One line's object: its values as the CLI's rows hold them (text, numbers, arrays and objects as JSON text).</summary>
    private static List<KeyValuePair<string, (object? Value, FieldType Type)>> ParseLine(string name, int line, string text, List<ResultField>? fields)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text);
        }
        catch (JsonException e)
        {
            var cut = e.Message.IndexOf(" LineNumber:", StringComparison.Ordinal);
            throw Invalid($"--input {name}: line {line} is not valid JSON: {(cut >= 0 ? e.Message[..cut] : e.Message)}", e);
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw Invalid($"--input {name}: line {line} is not a JSON object; each line holds one row, such as {{\"id\": 1, \"features\": [1.5, 2]}}");
            }
            var values = new List<KeyValuePair<string, (object?, FieldType)>>();
            foreach (var p in document.RootElement.EnumerateObject())
            {
                (object?, FieldType) value = p.Value.ValueKind switch
                {
                    JsonValueKind.String => (p.Value.GetString(), FieldType.String),
                    JsonValueKind.Number when p.Value.TryGetInt64(out var l) => (l, FieldType.Long),
                    JsonValueKind.Number => (p.Value.GetDouble(), FieldType.Double),
                    JsonValueKind.True => ("true", FieldType.String),
                    JsonValueKind.False => ("false", FieldType.String),
                    JsonValueKind.Null => (null, FieldType.String),
                    _ => (p.Value.GetRawText(), FieldType.Json),
                };
                values.Add(new(p.Name, value));
            }
            return values;
        }
    }

    /// <summary>
    /// Input that cannot be read, an error of the serving predict reading it (its command and
    /// operation set, so that <c>--format json</c> names them as for the stage's own errors).
    /// </summary>
    private static MlModelException Invalid(string detail, Exception? inner = null) =>
        new(MlModelError.Create(ErrorCodes.InvalidValue, "serving", "predict", detail), inner);

    /// <summary>A reader that gives <paramref name="prefix"/> back before the rest.</summary>
    private sealed class PrefixedReader(string prefix, TextReader rest) : TextReader
    {
        private int _at;

        public override int Peek() => _at < prefix.Length ? prefix[_at] : rest.Peek();

        public override int Read() => _at < prefix.Length ? prefix[_at++] : rest.Read();

        public override int Read(Span<char> buffer)
        {
            if (_at < prefix.Length)
            {
                var n = Math.Min(buffer.Length, prefix.Length - _at);
                prefix.AsSpan(_at, n).CopyTo(buffer);
                _at += n;
                return n;
            }
            return rest.Read(buffer);
        }

        public override int Read(char[] buffer, int index, int count) => Read(buffer.AsSpan(index, count));

        public override ValueTask<int> ReadAsync(Memory<char> buffer, CancellationToken cancellationToken = default) =>
            _at < prefix.Length ? ValueTask.FromResult(Read(buffer.Span)) : rest.ReadAsync(buffer, cancellationToken);

        public override Task<int> ReadAsync(char[] buffer, int index, int count) => ReadAsync(buffer.AsMemory(index, count)).AsTask();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                rest.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
