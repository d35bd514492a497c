using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using System.Text.Json;
using MlModel.Dsl.Binding;
using MlModel.Dsl.Syntax;
using Pidgin;

namespace MlModel.Dsl;

/// <summary>The <c>mlmodel</c> (or <c>serving</c>) stage of a host query, with the text around it.</summary>
/// <param name="Before">The query before the stage, without the <c>|</c> and trimmed ("" when the stage comes first).</param>
/// <param name="Command">The bound command.</param>
/// <param name="After">The query after the stage, without the <c>|</c> and trimmed ("" when it is last).</param>
/// <param name="Start">0-based offset of the stage's command word (<c>mlmodel</c> or <c>serving</c>) in the query.</param>
/// <param name="End">0-based offset just past the stage.</param>
public sealed record MlModelQueryStage(string Before, MlModelCommand Command, string After, int Start, int End);

/// <summary>
/// Entry points of the language: command text or a dsl-object in, a typed command (or an
/// <see cref="MlModelException"/> with a position) out. No other exception escapes a parse.
/// A command is <c>mlmodel</c>'s or <c>serving</c>'s, by its first word (or its dsl-object's
/// <c>"command"</c>); both reach the same binder with that word.
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

    /// <summary>
    /// Parses one command written as text; with <paramref name="keywordOptional"/> its leading
    /// <c>mlmodel</c> may be left out (<c>list name=a</c>), as a prompt that takes only mlmodel
    /// commands lets people type them. Positions in errors count the text as given, so they point
    /// at what was typed.
    /// </summary>
    /// <exception cref="MlModelException">The text is not a valid command.</exception>
    public static MlModelCommand Parse(string text, bool keywordOptional)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!keywordOptional)
        {
            return Parse(text);
        }
        var result = MlModelGrammar.WholeCommandKeywordOptional.Parse(text);
        if (!result.Success)
        {
            throw SyntaxErrors.Translate(result.Error!, text, 0, text.Length, keywordOptional: true);
        }
        return Binder.Bind(result.Value, text);
    }

    /// <summary>Parses command text, or a dsl-object when the text starts with <c>{</c>.</summary>
    public static MlModelCommand ParseAny(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.AsSpan().TrimStart().StartsWith("{") ? ParseJson(text) : Parse(text);
    }

    /// <summary>Like <see cref="Parse(string)"/>, without throwing.</summary>
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
            throw SyntaxErrors.Translate(result.Error!, text, 0, text.Length);
        }
        return result.Value;
    }

    /// <summary>
    /// Parses a dsl-object: <c>{"command":"mlmodel","params":{"operation":...}}</c>, or
    /// <c>"command":"serving"</c>. A JSON array of strings and numbers is a tuple
    /// (<c>"tag": ["0","1","2"]</c>), an array of such arrays a list of tuples (<c>"shape": [[12]]</c>).
    /// </summary>
    /// <exception cref="MlModelException">The JSON is malformed or is not a valid command.</exception>
    public static MlModelCommand ParseJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (ArgumentException e)
        {
            // The text itself is not UTF-16 (a lone surrogate), so it cannot be read as UTF-8 JSON.
            var at = json.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF');
            while (at >= 0 && at + 1 < json.Length && char.IsHighSurrogate(json[at]) && char.IsLowSurrogate(json[at + 1]))
            {
                var next = json.AsSpan(at + 2).IndexOfAnyInRange('\uD800', '\uDFFF');
                at = next < 0 ? -1 : at + 2 + next;
            }
            var (line, column) = SourceText.Position(json, Math.Max(at, 0));
            throw new MlModelException(MlModelError.Create(ErrorCodes.InvalidJson, CommandWords.MlModel, null,
                $"the dsl-object is not valid Unicode text (line {line}, column {column}): it holds a lone surrogate"
                + (at >= 0 ? " " + Display.CodePoint(json[at]) : ""), line, column), e);
        }
        catch (JsonException e)
        {
            // System.Text.Json counts lines from 0 and columns in UTF-8 bytes; we count characters.
            var line = (int)(e.LineNumber ?? 0) + 1;
            var column = CharacterColumn(json, line, e.BytePositionInLine ?? 0);
            var reason = e.Message;
            var cut = reason.IndexOf(" Path:", StringComparison.Ordinal) is var p and >= 0 ? p
                : reason.IndexOf(" LineNumber:", StringComparison.Ordinal);
            reason = Display.Escape((cut >= 0 ? reason[..cut] : reason).Replace(" Change the reader options.", "", StringComparison.Ordinal).Trim(), 200);
            throw new MlModelException(MlModelError.Create(ErrorCodes.InvalidJson, CommandWords.MlModel, null,
                $"the dsl-object is not valid JSON (line {line}, column {column}): {reason}", line, column));
        }
        using (doc)
        {
            return ParseJson(doc.RootElement);
        }
    }

    private static int CharacterColumn(string text, int line, long bytePosition)
    {
        var start = 0;
        for (var l = 1; l < line && start < text.Length; l++)
        {
            var next = text.IndexOf('\n', start);
            start = next < 0 ? text.Length : next + 1;
        }
        var column = 1;
        long bytes = 0;
        for (var i = start; i < text.Length && bytes < bytePosition && text[i] != '\n'; i++)
        {
            bytes += char.IsHighSurrogate(text[i]) || char.IsLowSurrogate(text[i]) ? 2 : text[i] < 0x80 ? 1 : text[i] < 0x800 ? 2 : 3;
            column++;
        }
        return column;
    }

    /// <summary>Parses a dsl-object that the host has already read.</summary>
    /// <exception cref="MlModelException">The object is not a valid command.</exception>
    public static MlModelCommand ParseJson(JsonElement root)
    {
        string command;
        string operation;
        RawParameter[] raw;
        try
        {
            (command, operation, raw) = ReadDslObject(root);
        }
        catch (InvalidOperationException e)
        {
            // JsonElement throws this for strings that are not UTF-16 (a lone "\ud800").
            throw new MlModelException(MlModelError.Create(ErrorCodes.InvalidJson, CommandWords.MlModel, null,
                "the dsl-object holds a string that is not valid Unicode (a lone surrogate escape such as \"\\ud800\")"), e);
        }
        return Binder.Bind(CommandTables.Find(command)!, operation, null, raw, null);
    }

    /// <summary>The command word, the operation and the parameters of a dsl-object, before binding.</summary>
    internal static (string Command, string Operation, RawParameter[] Parameters) ReadDslObject(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw JsonShape("the dsl-object must be a JSON object: {\"command\": \"mlmodel\", \"params\": {\"operation\": ...}}");
        }
        if (!root.TryGetProperty("command", out var commandProperty) || commandProperty.ValueKind != JsonValueKind.String)
        {
            throw JsonShape("the dsl-object needs \"command\": \"mlmodel\" or \"serving\"");
        }
        var command = CommandWords.Find(commandProperty.GetString())
            ?? throw JsonShape($"the dsl-object is for command '{Display.Word(commandProperty.GetString()!)}', not 'mlmodel' or 'serving'");
        if (!root.TryGetProperty("params", out var parameters) || parameters.ValueKind != JsonValueKind.Object)
        {
            throw JsonShape($"the dsl-object needs a \"params\" object, such as {{\"operation\": \"{CommandWords.Operations(command).First()}\"}}", command);
        }

        string? operation = null;
        var raw = new List<RawParameter>();
        foreach (var property in parameters.EnumerateObject())
        {
            if (Ascii.EqualsIgnoreCase(property.Name, "operation"))
            {
                if (property.Value.ValueKind != JsonValueKind.String)
                {
                    throw JsonShape($"\"operation\" must be a string such as \"{CommandWords.Operations(command).First()}\"", command);
                }
                if (operation is not null)
                {
                    throw new MlModelException(MlModelError.Create(ErrorCodes.DuplicateParameter, command, null, "duplicate parameter 'operation'; give each parameter once"));
                }
                operation = property.Value.GetString()!;
                continue;
            }
            var v = property.Value;
            RawValue? value = v.ValueKind switch
            {
                JsonValueKind.String => new RawValue(RawForm.JsonString, v.GetString()!, null),
                JsonValueKind.Number => new RawValue(RawForm.JsonNumber, v.GetRawText(), null),
                JsonValueKind.True => new RawValue(RawForm.JsonBool, "true", null),
                JsonValueKind.False => new RawValue(RawForm.JsonBool, "false", null),
                // The training parameters may come as the object itself rather than as its text.
                JsonValueKind.Object when Ascii.EqualsIgnoreCase(property.Name, "parameter") => new RawValue(RawForm.JsonString, v.GetRawText(), null),
                JsonValueKind.Array => ArrayValue(v),
                JsonValueKind.Null => null,
                _ => new RawValue(RawForm.JsonOther, v.GetRawText(), null),
            };
            if (value is null)
            {
                continue; // JSON null means "not given", as hosts serialise absent options.
            }
            raw.Add(new RawParameter(property.Name, null, value));
        }
        if (operation is null)
        {
            throw new MlModelException(MlModelError.Create(ErrorCodes.MissingParameter, command, null, "missing required parameter 'operation'; allowed: "
                + string.Join(", ", CommandWords.Operations(command))));
        }
        return (command, operation, raw.ToArray());
    }

    // A tuple is a non-empty array of strings and numbers; a list of tuples, a non-empty array of
    // tuples. Anything else (an empty array, a mix, deeper nesting, other members) stays
    // JsonOther, which no key takes.
    private static RawValue ArrayValue(JsonElement array)
    {
        var text = array.GetRawText();
        var items = new List<RawValue>();
        RawForm? form = null;
        foreach (var e in array.EnumerateArray())
        {
            RawValue? item = e.ValueKind switch
            {
                JsonValueKind.String => new RawValue(RawForm.JsonString, e.GetString()!, null),
                JsonValueKind.Number => new RawValue(RawForm.JsonNumber, e.GetRawText(), null),
                JsonValueKind.Array when ArrayValue(e) is { Form: RawForm.Tuple } tuple => tuple,
                _ => null,
            };
            var itemForm = item?.Form == RawForm.Tuple ? RawForm.List : RawForm.Tuple;
            if (item is null || (form is not null && form != itemForm))
            {
                return new RawValue(RawForm.JsonOther, text, null);
            }
            form = itemForm;
            items.Add(item.Value);
        }
        return form is RawForm f ? new RawValue(f, text, null, items) : new RawValue(RawForm.JsonOther, text, null);
    }

    /// <summary>
    /// Finds the <c>mlmodel</c> (or <c>serving</c>) stage of a whole host query such as
    /// <c>* | mlmodel list | where name = 'a'</c> or <c>.. | serving predict name=m tag=(0,1,2)</c>:
    /// the first stage that starts with one of the two words. A <c>|</c> inside quotes, base64, a
    /// tuple or a list does not split. Positions in errors are those of the whole query.
    /// </summary>
    public static MlModelQueryStage ParseQuery(string query)
    {
        ArgumentNullException.ThrowIfNull(query);
        var stage = ParseQuerySyntax(query);
        return new MlModelQueryStage(stage.Before, Binder.Bind(stage.Syntax, query), stage.After, stage.Syntax.Start, stage.End);
    }

    /// <summary>
    /// <see cref="ParseQuery"/> before binding: the syntax tree of the query's <c>mlmodel</c> or
    /// <c>serving</c> stage (its offsets those of the whole query), the text around it, and where
    /// it ends.
    /// </summary>
    internal static (string Before, CommandSyntax Syntax, string After, int End) ParseQuerySyntax(string query)
    {
        foreach (var (start, end) in QuerySplitter.Split(query))
        {
            var i = MlModelLexicon.SkipWhiteSpace(query, start);
            if (CommandWords.Find(query.AsSpan(i, Math.Min(MlModelLexicon.SkipWord(query, i), end) - i)) is not null)
            {
                var result = MlModelGrammar.WholeCommand.Parse(query[start..end]);
                if (!result.Success)
                {
                    throw SyntaxErrors.Translate(result.Error!, query, start, end);
                }
                var before = start == 0 ? "" : query[..Math.Max(0, start - 1)].Trim();
                var after = end >= query.Length ? "" : query[(end + 1)..].Trim();
                return (before, Shift(result.Value, start), after, end);
            }
        }
        throw new MlModelException(MlModelError.Create(ErrorCodes.Syntax, CommandWords.MlModel, null,
            "the query has no mlmodel or serving stage; a stage starts with the word mlmodel or serving, as in: * | mlmodel list"));
    }

    private static CommandSyntax Shift(CommandSyntax s, int by) => by == 0 ? s : new CommandSyntax(
        s.Operation,
        s.OperationOffset + by,
        s.Parameters.Select(p => new ParameterSyntax(p.Key, p.Offset + by, p.Value is null ? null : Shift(p.Value, by))).ToList(),
        s.Start + by,
        s.End + by)
    {
        Command = s.Command,
    };

    private static ValueSyntax Shift(ValueSyntax v, int by) =>
        v with { Offset = v.Offset + by, Items = v.Items.Count == 0 ? v.Items : [.. v.Items.Select(i => Shift(i, by))] };

    private static MlModelException JsonShape(string what, string command = CommandWords.MlModel) =>
        new(MlModelError.Create(ErrorCodes.InvalidJson, command, null, what));
}
