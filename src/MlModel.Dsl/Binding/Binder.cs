using System.Globalization;
using System.Text;
using System.Text.Json;
using MlModel.Dsl.Syntax;

namespace MlModel.Dsl.Binding;

/// <summary>How a raw value arrived: from command text or from a dsl-object.</summary>
internal enum RawForm { Bare, Quoted, Base64, JsonString, JsonNumber, JsonBool }

/// <summary>A value before binding. <see cref="Offset"/> is null for dsl-object input.</summary>
internal readonly record struct RawValue(RawForm Form, string Text, int? Offset);

/// <summary>A parameter before binding; a null key is a positional word.</summary>
internal readonly record struct RawParameter(string? Key, int? Offset, RawValue? Value);

/// <summary>
/// Turns a syntax tree (or a dsl-object's params) into a typed command. Text and JSON input go
/// through the same checks in the same order, so both give the same errors.
/// </summary>
internal static class Binder
{
    public static MlModelCommand Bind(CommandSyntax syntax, string source)
    {
        var raw = new RawParameter[syntax.Parameters.Count];
        for (var i = 0; i < raw.Length; i++)
        {
            var p = syntax.Parameters[i];
            raw[i] = new RawParameter(
                p.Key,
                p.Offset,
                p.Value is null ? null : new RawValue((RawForm)(int)p.Value.Form, p.Value.Text, p.Value.Offset));
        }
        return Bind(syntax.Operation, syntax.OperationOffset, raw, source);
    }

    public static MlModelCommand Bind(string operationWord, int? operationOffset, ReadOnlySpan<RawParameter> parameters, string? source)
    {
        var op = OperationTable.Find(operationWord)
            ?? throw Error(ErrorCodes.UnknownOperation, null,
                $"unknown operation '{operationWord}'", operationOffset, source,
                Suggest(operationWord, OperationTable.All.Select(o => o.Name))
                + "allowed: " + string.Join(", ", OperationTable.All.Select(o => o.Name)));

        var values = new object?[op.Parameters.Count];
        var offsets = new int?[op.Parameters.Count];
        var seen = new bool[op.Parameters.Count];

        for (var i = 0; i < parameters.Length; i++)
        {
            var p = parameters[i];
            string key;
            if (p.Key is null)
            {
                // Older documents pass the name positionally: `mlmodel summary mnist_v1`.
                if (i != 0 || !op.AllowsPositionalName)
                {
                    throw Error(ErrorCodes.Syntax, op,
                        $"unexpected value '{p.Value?.Text}'", p.Offset, source,
                        op.AllowsPositionalName
                            ? "only the model name may stand alone, right after the operation; write parameters as key=value"
                            : "write parameters as key=value");
                }
                key = "name";
            }
            else
            {
                key = p.Key.ToLowerInvariant();
            }

            var index = IndexOf(op, key);
            if (index < 0)
            {
                throw Error(ErrorCodes.UnknownParameter, op,
                    $"unknown parameter '{p.Key}'", p.Offset, source,
                    Suggest(key, op.Parameters.Select(s => s.Key))
                    + "allowed: " + string.Join(", ", op.Parameters.Select(s => s.Key)));
            }
            if (seen[index])
            {
                var first = offsets[index] is int f && source is not null ? SourceText.Position(source, f) : default;
                throw Error(ErrorCodes.DuplicateParameter, op,
                    $"duplicate parameter '{key}'", p.Offset, source,
                    source is not null && offsets[index] is not null
                        ? $"it is already given at line {first.Line}, column {first.Column}"
                        : "give each parameter once");
            }
            seen[index] = true;
            offsets[index] = p.Offset;

            if (p.Value is not RawValue value)
            {
                throw Error(ErrorCodes.MissingValue, op, $"parameter '{key}' has no value", p.Offset, source,
                    "write " + key + "=<value>");
            }
            values[index] = Convert(op, op.Parameters[index], value, source);
        }

        for (var i = 0; i < op.Parameters.Count; i++)
        {
            if (op.Parameters[i].Required && !seen[i])
            {
                throw Error(ErrorCodes.MissingParameter, op, $"missing required parameter '{op.Parameters[i].Key}'", null, source, null);
            }
        }

        return Create(op, values, offsets, source);
    }

    private static int IndexOf(OperationSpec op, string key)
    {
        for (var i = 0; i < op.Parameters.Count; i++)
        {
            if (op.Parameters[i].Key == key)
            {
                return i;
            }
        }
        return -1;
    }

    private static object? Convert(OperationSpec op, ParamSpec spec, RawValue value, string? source)
    {
        string text;
        if (value.Form == RawForm.Base64)
        {
            text = DecodeBase64(op, spec, value, source);
        }
        else
        {
            text = value.Text;
        }

        if (spec.Kind == ParamKind.Version)
        {
            // Spec B.1: a bare decimal 1..2^31-1; quoted and base64 versions are errors. A
            // dsl-object may give a JSON number or a string of digits.
            var formOk = value.Form is RawForm.Bare or RawForm.JsonNumber or RawForm.JsonString;
            if (formOk && IsCanonicalPositive(text) && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v))
            {
                return v;
            }
            throw Error(ErrorCodes.InvalidValue, op, $"invalid value for '{spec.Key}': {Show(value, text)}", value.Offset, source,
                "expected a whole number from 1 to 2147483647, written without quotes, sign or leading zeros");
        }

        if (value.Form is RawForm.JsonNumber or RawForm.JsonBool && spec.Kind != ParamKind.Flag)
        {
            throw Error(ErrorCodes.InvalidValue, op, $"invalid value for '{spec.Key}': {text}", value.Offset, source, "expected a string");
        }

        if (text.Length > spec.MaxLength)
        {
            throw Error(ErrorCodes.InvalidValue, op, $"value of '{spec.Key}' is too long ({text.Length} characters)", value.Offset, source,
                $"at most {spec.MaxLength} characters");
        }

        switch (spec.Kind)
        {
            case ParamKind.Name:
                if (!Names.IsValid(text))
                {
                    throw Error(ErrorCodes.InvalidValue, op, $"invalid {spec.Key} {Show(value, text)}", value.Offset, source, Names.Rule);
                }
                return text;
            case ParamKind.Label:
                if (!Names.IsValidLabel(text))
                {
                    throw Error(ErrorCodes.InvalidValue, op, $"invalid label {Show(value, text)}", value.Offset, source, Names.LabelRule);
                }
                return text;
            case ParamKind.Choice:
                foreach (var choice in spec.Values!)
                {
                    if (string.Equals(choice, text, StringComparison.OrdinalIgnoreCase))
                    {
                        return choice;
                    }
                }
                throw Error(ErrorCodes.InvalidValue, op, $"invalid value for '{spec.Key}': {Show(value, text)}", value.Offset, source,
                    "expected one of: " + string.Join(", ", spec.Values!));
            case ParamKind.Flag:
                switch (text.ToLowerInvariant())
                {
                    case "true" or "on" or "yes":
                        return true;
                    case "false" or "off" or "no":
                        return false;
                }
                throw Error(ErrorCodes.InvalidValue, op, $"invalid value for '{spec.Key}': {Show(value, text)}", value.Offset, source,
                    spec.Key == "serving" ? "expected on or off" : "expected true or false");
            case ParamKind.Json:
                try
                {
                    using var doc = JsonDocument.Parse(text);
                    if (doc.RootElement.ValueKind != JsonValueKind.Object)
                    {
                        throw new JsonException("not an object");
                    }
                }
                catch (JsonException)
                {
                    throw Error(ErrorCodes.InvalidValue, op, $"invalid value for '{spec.Key}'", value.Offset, source,
                        "expected a JSON object such as base64(eyJlcG9jaHMiOiAzfQ==) for {\"epochs\": 3}");
                }
                return text;
            default:
                return text;
        }
    }

    private static bool IsCanonicalPositive(string text) =>
        text.Length is > 0 and <= 10 && text[0] is >= '1' and <= '9' && text.AsSpan().IndexOfAnyExceptInRange('0', '9') < 0;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static string DecodeBase64(OperationSpec op, ParamSpec spec, RawValue value, string? source)
    {
        // White space inside base64(...) is ignored so that long values can be wrapped.
        var compact = value.Text.AsSpan().ContainsAny(" \t\r\n")
            ? string.Concat(value.Text.Where(c => !MlModelGrammar.IsWhiteSpace(c)))
            : value.Text;
        byte[] bytes;
        if (compact.Length % 4 != 0)
        {
            throw Error(ErrorCodes.InvalidBase64, op, $"invalid base64 in '{spec.Key}'", value.Offset, source,
                "standard base64 with '=' padding: its length is a multiple of 4");
        }
        try
        {
            bytes = System.Convert.FromBase64String(compact);
        }
        catch (FormatException)
        {
            throw Error(ErrorCodes.InvalidBase64, op, $"invalid base64 in '{spec.Key}'", value.Offset, source,
                "standard base64 uses A-Z, a-z, 0-9, '+', '/' and '=' padding");
        }
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw Error(ErrorCodes.InvalidBase64, op, $"base64 in '{spec.Key}' is not UTF-8 text", value.Offset, source,
                "encode the text as UTF-8 before base64");
        }
    }

    private static string Show(RawValue value, string text)
    {
        var shown = text.Length > 40 ? text[..40] + "..." : text;
        return value.Form switch
        {
            RawForm.Quoted => $"'{shown}' (quoted)",
            RawForm.Base64 => $"'{shown}' (from base64)",
            RawForm.JsonNumber or RawForm.JsonBool => shown,
            _ => $"'{shown}'",
        };
    }

    private static MlModelCommand Create(OperationSpec op, object?[] v, int?[] offsets, string? source)
    {
        string? S(int i) => (string?)v[i];
        int? I(int i) => (int?)v[i];
        switch (op.Operation)
        {
            case MlModelOperation.List:
                return new ListCommand(S(0), S(1), S(2), (bool?)v[3]);
            case MlModelOperation.Summary:
                return new SummaryCommand(S(1)!, S(0), I(2));
            case MlModelOperation.Delete:
                return new DeleteCommand(S(1)!, I(2)!.Value, S(0));
            case MlModelOperation.Import:
                {
                    var tool = S(1)!;
                    var format = S(4);
                    if (tool == "tf")
                    {
                        if (format is null)
                        {
                            throw Error(ErrorCodes.MissingParameter, op, "missing required parameter 'format'", null, source,
                                "a tf model is format=saved_model or format=h5");
                        }
                        if (format == "spark")
                        {
                            throw Error(ErrorCodes.InvalidValue, op, "invalid value for 'format': 'spark' with analysis_tool=tf", offsets[4], source,
                                "a tf model is format=saved_model or format=h5");
                        }
                        if (S(3) is null)
                        {
                            throw Error(ErrorCodes.MissingParameter, op, "missing required parameter 'algorithm'", null, source, null);
                        }
                    }
                    else if (format is not null and not "spark")
                    {
                        throw Error(ErrorCodes.InvalidValue, op, $"invalid value for 'format': '{format}' with analysis_tool=spark", offsets[4], source,
                            "a spark model is format=spark (or leave format out)");
                    }
                    var modelFormat = (format ?? "spark") switch
                    {
                        "saved_model" => ModelFormat.SavedModel,
                        "h5" => ModelFormat.H5,
                        _ => ModelFormat.Spark,
                    };
                    return new ImportCommand(S(0)!, tool, S(2)!, S(3), modelFormat, S(5)!, S(6)!, S(7), S(8));
                }
            case MlModelOperation.Export:
                return new ExportCommand(S(1)!, S(0), I(2));
            case MlModelOperation.Deploy:
                return new DeployCommand(S(1)!, S(0), I(2), S(3));
            case MlModelOperation.Stop:
                return new StopCommand(S(1)!, S(0), I(2));
            case MlModelOperation.History:
                return new HistoryCommand(S(1)!, S(0), I(2));
            case MlModelOperation.Status:
                return new StatusCommand(S(1)!, S(0));
            case MlModelOperation.Check:
                return new CheckCommand(S(0), S(1), (bool?)v[2] ?? false);
            default:
                throw new InvalidOperationException("unreachable");
        }
    }

    /// <summary>"did you mean 'x'? " when a candidate is close, else empty.</summary>
    internal static string Suggest(string word, IEnumerable<string> candidates)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        var lower = word.ToLowerInvariant();
        foreach (var c in candidates)
        {
            var d = Distance(lower, c);
            if (d < bestDistance)
            {
                bestDistance = d;
                best = c;
            }
        }
        var limit = Math.Max(1, Math.Min(3, word.Length / 3));
        return best is not null && bestDistance <= limit ? $"did you mean '{best}'? " : "";
    }

    // Optimal string alignment distance: a swap of neighbours (nmae/name) costs one.
    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }
        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }
        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }
        return d[a.Length, b.Length];
    }

    /// <summary>
    /// Builds the error in the house format:
    /// <c>mlmodel OP: WHAT (line L, column C); HINT</c>.
    /// </summary>
    internal static MlModelException Error(string code, OperationSpec? op, string what, int? offset, string? source, string? hint, IReadOnlyList<string>? expected = null)
    {
        var prefix = op is null ? "mlmodel: " : $"mlmodel {op.Name}: ";
        int? line = null, column = null;
        var message = new StringBuilder(prefix).Append(what);
        if (offset is int o && source is not null)
        {
            (var l, var c) = SourceText.Position(source, o);
            line = l;
            column = c;
            message.Append(CultureInfo.InvariantCulture, $" (line {l}, column {c})");
        }
        if (!string.IsNullOrEmpty(hint))
        {
            message.Append("; ").Append(hint.TrimEnd());
        }
        return new MlModelException(new MlModelError(code, message.ToString(), line, column, expected));
    }
}
