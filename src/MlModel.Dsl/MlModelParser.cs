using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using System.Text.Json;
using MlModel.Dsl.Binding;
using MlModel.Dsl.Syntax;
using Pidgin;

namespace MlModel.Dsl;

/// <summary>The <c>mlmodel</c> stage of a host query, with the text around it.</summary>
/// <param name="Before">The query before the stage, without the <c>|</c> and trimmed ("" when the stage comes first).</param>
/// <param name="Command">The bound command.</param>
/// <param name="After">The query after the stage, without the <c>|</c> and trimmed ("" when it is last).</param>
/// <param name="Start">0-based offset of the stage's <c>mlmodel</c> keyword in the query.</param>
/// <param name="End">0-based offset just past the stage.</param>
public sealed record MlModelQueryStage(string Before, MlModelCommand Command, string After, int Start, int End);

/// <summary>
/// Entry points of the language: command text or a dsl-object in, a typed command (or an
/// <see cref="MlModelException"/> with a position) out. No other exception escapes a parse.
/// </summary>
public static class MlModelParser
{
    /// <summary>Parses one command written as text.</summary>
    /// <exception cref="MlModelException">The text is not a valid command.</exception>
    public static MlModelCommand Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var syntax = ParseSyntax(text);
        return Binder.Bind(syntax, text);
    }

    /// <summary>Parses command text, or a dsl-object when the text starts with <c>{</c>.</summary>
    public static MlModelCommand ParseAny(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.AsSpan().TrimStart().StartsWith("{") ? ParseJson(text) : Parse(text);
    }

    /// <summary>Like <see cref="Parse"/>, without throwing.</summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out MlModelCommand? command, [NotNullWhen(false)] out MlModelError? error)
    {
        try
        {
            command = Parse(text);
            error = null;
            return true;
        }
        catch (MlModelException e)
        {
            command = null;
            error = e.Error;
            return false;
        }
    }

    /// <summary>The context-free syntax tree of one command, before binding.</summary>
    public static CommandSyntax ParseSyntax(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var result = MlModelGrammar.WholeCommand.Parse(text);
        if (!result.Success)
        {
            throw Translate(result.Error!, text, 0, text.Length);
        }
        return result.Value;
    }

    /// <summary>Parses a dsl-object: <c>{"command":"mlmodel","params":{"operation":...}}</c>.</summary>
    public static MlModelCommand ParseJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            var line = (int)(e.LineNumber ?? 0) + 1;
            var col = (int)(e.BytePositionInLine ?? 0) + 1;
            throw new MlModelException(new MlModelError(ErrorCodes.InvalidJson,
                $"mlmodel: the dsl-object is not valid JSON (line {line}, column {col})", line, col));
        }
        using (doc)
        {
            return ParseJson(doc.RootElement);
        }
    }

    /// <summary>Parses a dsl-object that the host has already read.</summary>
    public static MlModelCommand ParseJson(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw JsonShape("the dsl-object must be a JSON object");
        }
        if (!root.TryGetProperty("command", out var command) || command.ValueKind != JsonValueKind.String)
        {
            throw JsonShape("the dsl-object needs \"command\": \"mlmodel\"");
        }
        if (!string.Equals(command.GetString(), "mlmodel", StringComparison.OrdinalIgnoreCase))
        {
            throw JsonShape($"the dsl-object is for command '{command.GetString()}', not 'mlmodel'");
        }
        if (!root.TryGetProperty("params", out var parameters) || parameters.ValueKind != JsonValueKind.Object)
        {
            throw JsonShape("the dsl-object needs a \"params\" object");
        }

        string? operation = null;
        var raw = new List<RawParameter>();
        foreach (var property in parameters.EnumerateObject())
        {
            if (property.NameEquals("operation"))
            {
                if (property.Value.ValueKind != JsonValueKind.String)
                {
                    throw JsonShape("\"operation\" must be a string such as \"list\"");
                }
                operation = property.Value.GetString();
                continue;
            }
            var v = property.Value;
            RawValue? value = v.ValueKind switch
            {
                JsonValueKind.String => new RawValue(RawForm.JsonString, v.GetString()!, null),
                JsonValueKind.Number => new RawValue(RawForm.JsonNumber, v.GetRawText(), null),
                JsonValueKind.True => new RawValue(RawForm.JsonBool, "true", null),
                JsonValueKind.False => new RawValue(RawForm.JsonBool, "false", null),
                JsonValueKind.Object when property.Name == "parameter" => new RawValue(RawForm.JsonString, v.GetRawText(), null),
                JsonValueKind.Null => null,
                _ => new RawValue(RawForm.JsonNumber, v.GetRawText(), null),
            };
            if (value is null)
            {
                continue; // JSON null means "not given", as hosts serialise absent options.
            }
            raw.Add(new RawParameter(property.Name, null, value));
        }
        if (operation is null)
        {
            throw new MlModelException(ErrorCodes.MissingParameter, "mlmodel: missing required parameter 'operation'; allowed: "
                + string.Join(", ", OperationTable.All.Select(o => o.Name)));
        }
        return Binder.Bind(operation, null, raw.ToArray(), null);
    }

    /// <summary>
    /// Finds the <c>mlmodel</c> stage of a whole host query such as
    /// <c>* | mlmodel list | where name = 'a'</c>. A <c>|</c> inside quotes or base64 does not
    /// split. Positions in errors are those of the whole query.
    /// </summary>
    public static MlModelQueryStage ParseQuery(string query)
    {
        ArgumentNullException.ThrowIfNull(query);
        var stages = QuerySplitter.Split(query);
        foreach (var (start, end) in stages)
        {
            var first = FirstWord(query, start, end);
            if (first.Equals("mlmodel", StringComparison.OrdinalIgnoreCase))
            {
                var slice = query[start..end];
                var result = MlModelGrammar.WholeCommand.Parse(slice);
                if (!result.Success)
                {
                    throw Translate(result.Error!, query, start, end);
                }
                var syntax = Shift(result.Value, start);
                var bound = Binder.Bind(syntax, query);
                var before = start == 0 ? "" : query[..Math.Max(0, start - 1)].Trim();
                var after = end >= query.Length ? "" : query[(end + 1)..].Trim();
                return new MlModelQueryStage(before, bound, after, start + syntax.Start - start, end);
            }
        }
        throw new MlModelException(ErrorCodes.Syntax, "mlmodel: the query has no mlmodel stage");
    }

    private static string FirstWord(string text, int start, int end)
    {
        var i = start;
        while (i < end && MlModelGrammar.IsWhiteSpace(text[i]))
        {
            i++;
        }
        var j = i;
        while (j < end && MlModelGrammar.IsBareChar(text[j]))
        {
            j++;
        }
        return text[i..j];
    }

    private static CommandSyntax Shift(CommandSyntax s, int by) => by == 0 ? s : new CommandSyntax(
        s.Operation,
        s.OperationOffset + by,
        s.Parameters.Select(p => new ParameterSyntax(p.Key, p.Offset + by, p.Value is null ? null : p.Value with { Offset = p.Value.Offset + by })).ToList(),
        s.Start + by,
        s.End + by);

    private static MlModelException JsonShape(string what) =>
        new(ErrorCodes.InvalidJson, "mlmodel: " + what);

    /// <summary>Turns Pidgin's error into ours: the operation, the position, what was found and expected.</summary>
    private static MlModelException Translate(ParseError<char> error, string source, int start, int end)
    {
        var offset = start + error.ErrorOffset;
        var op = OperationOf(source, start, end);

        // `name= version=1`: the grammar read `version` as name's value and then met '='.
        if (!error.EOF && error.Unexpected.HasValue && error.Unexpected.Value == '=' && MissingValueKey(source, offset, start) is (string key, int keyOffset))
        {
            return Binder.Error(ErrorCodes.MissingValue, op, $"parameter '{key}' has no value", keyOffset, source, $"write {key}=<value>");
        }

        var found = error.EOF || !error.Unexpected.HasValue || offset >= end ? "end of input" : Describe(error.Unexpected.Value);
        var expected = error.Expected
            .Select(e => e.Label ?? (e.IsEof ? MlModelGrammar.EndLabel : e.Tokens.IsDefaultOrEmpty ? null : "'" + new string(e.Tokens.AsSpan()) + "'"))
            .Where(e => e is not null)
            .Select(e => e!)
            .Distinct()
            .ToList();

        string? hint = null;
        if (offset > start && source[offset - 1] == '\'' && !error.EOF && expected.Contains(MlModelGrammar.WhiteSpaceLabel))
        {
            hint = "a single-quoted string ends at the next quote and cannot contain one; write such text as base64(...)";
        }
        else if (!error.EOF && error.Unexpected.HasValue && error.Unexpected.Value == '|')
        {
            hint = "a '|' ends the mlmodel command and starts the host's next pipeline stage";
        }
        else if (expected.Contains("a closing quote on the same line"))
        {
            hint = "a single-quoted string cannot span lines or contain a quote; write such text as base64(...)";
        }

        var what = new StringBuilder("syntax error");
        var (line, column) = SourceText.Position(source, offset);
        what.Append(CultureInfo.InvariantCulture, $" (line {line}, column {column}): unexpected {found}");
        if (expected.Count > 0)
        {
            what.Append(", expected ").Append(JoinOr(expected));
        }
        if (hint is not null)
        {
            what.Append("; ").Append(hint);
        }
        var prefix = op is null ? "mlmodel: " : $"mlmodel {op.Name}: ";
        return new MlModelException(new MlModelError(ErrorCodes.Syntax, prefix + what, line, column, expected));
    }

    private static (string, int)? MissingValueKey(string source, int offset, int start)
    {
        var i = offset - 1;
        while (i >= start && MlModelGrammar.IsBareChar(source[i]))
        {
            i--;
        }
        var wordStart = i + 1;
        if (wordStart == offset)
        {
            return null;
        }
        var ws = i;
        while (i >= start && MlModelGrammar.IsWhiteSpace(source[i]))
        {
            i--;
        }
        if (i == ws || i < start || source[i] != '=')
        {
            return null;
        }
        i--;
        while (i >= start && MlModelGrammar.IsWhiteSpace(source[i]))
        {
            i--;
        }
        var keyEnd = i + 1;
        while (i >= start && MlModelGrammar.IsBareChar(source[i]))
        {
            i--;
        }
        return keyEnd > i + 1 ? (source[(i + 1)..keyEnd], i + 1) : null;
    }

    private static OperationSpec? OperationOf(string source, int start, int end)
    {
        var i = start;
        while (i < end && MlModelGrammar.IsWhiteSpace(source[i]))
        {
            i++;
        }
        if (end - i < 8 || !source.AsSpan(i, 7).Equals("mlmodel", StringComparison.OrdinalIgnoreCase) || !MlModelGrammar.IsWhiteSpace(source[i + 7]))
        {
            return null;
        }
        return OperationTable.Find(FirstWord(source, i + 7, end));
    }

    private static string Describe(char c) => c switch
    {
        '\n' or '\r' => "line break",
        '\t' => "tab",
        ' ' => "space",
        '\'' => "quote (')",
        _ when char.IsControl(c) => $"control character U+{(int)c:X4}",
        _ => $"'{c}'",
    };

    private static string JoinOr(List<string> items) =>
        items.Count == 1 ? items[0] : string.Join(", ", items.Take(items.Count - 1)) + " or " + items[^1];
}
