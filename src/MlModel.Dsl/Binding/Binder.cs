using System.Buffers;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using MlModel.Dsl.Syntax;

namespace MlModel.Dsl.Binding;

/// <summary>How a raw value arrived: from command text or from a dsl-object.</summary>
/// <remarks>
/// <see cref="Tuple"/> and <see cref="List"/> come from text (<c>(0,1,2)</c>, <c>[(12,)]</c>) and
/// from a dsl-object's arrays alike (<c>["0","1","2"]</c>, <c>[[12]]</c>).
/// </remarks>
internal enum RawForm { Bare, Quoted, Base64, JsonString, JsonNumber, JsonBool, JsonOther, Tuple, List }

/// <summary>A value before binding.</summary>
/// <param name="Form">How it arrived.</param>
/// <param name="Text">The text as the binder reads it (base64 still encoded).</param>
/// <param name="Offset">Where it starts in the command text; null for dsl-object input.</param>
/// <param name="Items">
/// A <see cref="RawForm.Tuple"/>'s items (each <see cref="RawForm.Bare"/>, <see cref="RawForm.Quoted"/>,
/// <see cref="RawForm.JsonString"/> or <see cref="RawForm.JsonNumber"/>) or a <see cref="RawForm.List"/>'s
/// tuples, never empty; null for the other forms. <see cref="Text"/> is then the value as written
/// (the JSON array's text for a dsl-object), for messages.
/// </param>
internal readonly record struct RawValue(RawForm Form, string Text, int? Offset, IReadOnlyList<RawValue>? Items = null)
{
    /// <summary>A value of the syntax tree, with its items.</summary>
    // Bare, Quoted and Base64 are the first three of both enums. The items are read apart: with
    // them inline, the method is not inlined and costs a parse about 150 ns.
    public static RawValue From(ValueSyntax value) => value.Form <= ValueForm.Base64
        ? new((RawForm)(int)value.Form, value.Text, value.Offset)
        : WithItems(value);

    private static RawValue WithItems(ValueSyntax value) =>
        new(value.Form == ValueForm.Tuple ? RawForm.Tuple : RawForm.List, value.Text, value.Offset, [.. value.Items.Select(From)]);
}

/// <summary>A parameter before binding; a null key is a positional word.</summary>
internal readonly record struct RawParameter(string? Key, int? Offset, RawValue? Value);

/// <summary>
/// Turns a syntax tree (or a dsl-object's params) into a typed command. Text and JSON input go
/// through the same checks in the same order, so both give the same errors.
/// </summary>
internal static class Binder
{
    /// <summary>The most parameters any operation takes; the per-command scratch lives on the stack.</summary>
    internal const int MaxParameters = 16;

    [InlineArray(MaxParameters)]
    private struct ValueSlots
    {
        private object? _element;
    }

    [InlineArray(MaxParameters)]
    private struct OffsetSlots
    {
        private int _element;
    }

    /// <summary>The parameters to bind, read in place: no copy of the syntax tree's list.</summary>
    internal interface IRawParameters
    {
        int Count { get; }

        RawParameter this[int index] { get; }
    }

    private readonly struct SyntaxParameters(IReadOnlyList<ParameterSyntax> parameters) : IRawParameters
    {
        // The grammar builds an array; index it directly rather than through the interface.
        private readonly ParameterSyntax[]? _array = parameters as ParameterSyntax[];

        public int Count => _array?.Length ?? parameters.Count;

        public RawParameter this[int index]
        {
            get
            {
                var p = _array is not null ? _array[index] : parameters[index];
                return new RawParameter(p.Key, p.Offset, p.Value is null ? null : RawValue.From(p.Value));
            }
        }
    }

    internal readonly struct ArrayParameters(RawParameter[] parameters) : IRawParameters
    {
        public int Count => parameters.Length;

        public RawParameter this[int index] => parameters[index];
    }

    public static MlModelCommand Bind(CommandSyntax syntax, string source) =>
        Bind(CommandTables.Find(syntax.Command)!, syntax.Operation, syntax.OperationOffset, new SyntaxParameters(syntax.Parameters), source);

    public static MlModelCommand Bind(CommandTable table, string operationWord, int? operationOffset, RawParameter[] parameters, string? source) =>
        Bind(table, operationWord, operationOffset, new ArrayParameters(parameters), source);

    private static MlModelCommand Bind<TParameters>(CommandTable table, string operationWord, int? operationOffset, TParameters parameters, string? source)
        where TParameters : IRawParameters
    {
        var op = table.Find(operationWord)
            ?? throw Error(ErrorCodes.UnknownOperation, null,
                $"unknown operation '{Display.Word(operationWord)}'", operationOffset, source,
                Suggest(operationWord, table.Names) + NotAscii(operationWord)
                + "allowed: " + string.Join(", ", table.Names), command: table.Command);

        var valueSlots = default(ValueSlots);
        var offsetSlots = default(OffsetSlots);
        Span<object?> values = valueSlots;
        Span<int> offsets = offsetSlots;
        var seen = 0u;

        for (var i = 0; i < parameters.Count; i++)
        {
            var p = parameters[i];
            int index;
            if (p.Key is null)
            {
                // Older documents pass the name positionally: `mlmodel summary mnist_v1`.
                index = op.IndexOf("name");
                if (i != 0 || index < 0)
                {
                    throw Error(ErrorCodes.Syntax, op,
                        $"unexpected value '{Display.Word(p.Value?.Text ?? "")}'", p.Offset, source,
                        index >= 0
                            ? "only the model name may stand alone, right after the operation; write parameters as key=value"
                            : "write parameters as key=value");
                }
            }
            else
            {
                index = op.IndexOf(p.Key);
                if (index < 0)
                {
                    throw Error(ErrorCodes.UnknownParameter, op,
                        $"unknown parameter '{Display.Word(p.Key)}'", p.Offset, source,
                        Suggest(p.Key, op.Parameters.Select(s => s.Key)) + NotAscii(p.Key)
                        + "allowed: " + string.Join(", ", op.Parameters.Select(s => s.Key)));
                }
            }
            var spec = op.Specs[index];
            if ((seen & (1u << index)) != 0)
            {
                throw Error(ErrorCodes.DuplicateParameter, op,
                    $"duplicate parameter '{spec.Key}'", p.Offset, source,
                    source is not null && offsets[index] >= 0
                        ? $"it is already given at {At(source, offsets[index])}: give each parameter once"
                        : "give each parameter once");
            }
            seen |= 1u << index;
            offsets[index] = p.Offset ?? -1;

            if (p.Value is not RawValue value)
            {
                throw Error(ErrorCodes.MissingValue, op, $"parameter '{spec.Key}' has no value", p.Offset, source,
                    $"write {spec.Key}=<value>");
            }
            values[index] = Convert(op, spec, value, source);
        }

        if ((op.RequiredMask & ~seen) != 0)
        {
            var missing = new List<string>();
            for (var i = 0; i < op.Specs.Length; i++)
            {
                if ((op.RequiredMask & ~seen & (1u << i)) != 0)
                {
                    missing.Add(op.Specs[i].Key);
                }
            }
            throw Missing(op, missing, operationOffset, source, null);
        }

        return op.Create(new BoundArguments(op, values, offsets, operationOffset, source));
    }

    private static string At(string source, int offset)
    {
        var (line, column) = SourceText.Position(source, offset);
        return string.Create(CultureInfo.InvariantCulture, $"line {line}, column {column}");
    }

    private static object? Convert(OperationSpec op, ParamSpec spec, RawValue value, string? source)
    {
        switch (spec.Kind)
        {
            case ParamKind.Words:
                return Words(op, spec, value, source);
            case ParamKind.Shapes:
                return Shapes(op, spec, value, source);
        }
        if (value.Form is RawForm.Tuple or RawForm.List)
        {
            // Tuples and lists are the serving command's (shape, tag); every key here takes one value.
            throw Invalid(op, spec, value, value.Text, source,
                value.Form == RawForm.Tuple ? "expected a single value, not a tuple" : "expected a single value, not a list of tuples");
        }

        var text = value.Form == RawForm.Base64 ? DecodeBase64(op, spec, value, source) : value.Text;

        if (spec.Kind == ParamKind.Version)
        {
            // Spec B.1: a bare decimal 1..2^31-1; quoted and base64 versions are errors. A
            // dsl-object may give a JSON number or a string of digits.
            if (value.Form is RawForm.Bare or RawForm.JsonNumber or RawForm.JsonString
                && IsCanonicalPositive(text) && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v))
            {
                return v;
            }
            throw Invalid(op, spec, value, text, source,
                "expected a whole number from 1 to 2147483647, written without quotes, sign or leading zeros");
        }

        // A dsl-object may carry an id-like value as a JSON integer (the spec's connector_id example
        // is 255): taken as the digits written. Fractions and exponents have no one text form.
        if (value.Form is RawForm.JsonNumber or RawForm.JsonBool or RawForm.JsonOther && spec.Kind != ParamKind.Flag
            && !(value.Form == RawForm.JsonNumber && spec.Kind != ParamKind.Json && IsJsonInteger(text)))
        {
            throw Invalid(op, spec, value, text, source,
                value.Form == RawForm.JsonNumber ? $"expected a JSON string, such as \"{Display.Word(text)}\"" : "expected a JSON string");
        }

        if (text.Length > spec.MaxLength)
        {
            throw Error(ErrorCodes.InvalidValue, op, $"value of '{spec.Key}' is too long ({text.Length} characters)", value.Offset, source,
                $"at most {spec.MaxLength} characters");
        }

        if (LoneSurrogate(text) is char lone)
        {
            throw Error(ErrorCodes.InvalidValue, op, $"invalid value for '{spec.Key}': {Show(value, text)}", value.Offset, source,
                $"it holds a lone surrogate {Display.CodePoint(lone)}, which is not Unicode text");
        }

        if (text.Length == 0 && spec.Required && spec.Kind == ParamKind.Text)
        {
            // kind='' or path='' says nothing: a required value must be given (names have their own rule below).
            throw Error(ErrorCodes.InvalidValue, op, $"'{spec.Key}' is empty", value.Offset, source, $"a required parameter needs a value: {spec.Key}=<value>");
        }

        switch (spec.Kind)
        {
            case ParamKind.Name:
                if (!Names.IsValid(text))
                {
                    throw text.Length == 0
                        ? Error(ErrorCodes.InvalidValue, op, $"'{spec.Key}' is empty", value.Offset, source, Names.Rule)
                        : Invalid(op, spec, value, text, source, Names.Rule);
                }
                return text;
            case ParamKind.Label:
                if (text.Length == 0)
                {
                    throw Error(ErrorCodes.InvalidValue, op, $"'{spec.Key}' is empty", value.Offset, source, Names.LabelRule);
                }
                if (Names.FirstControl(text) is char control)
                {
                    throw Invalid(op, spec, value, text, source,
                        $"it holds {Display.CodePoint(control)}, a control character; {Names.LabelRule}");
                }
                return text;
            case ParamKind.Choice:
                foreach (var choice in spec.Values!)
                {
                    if (ReferenceEquals(choice, text) || Ascii.EqualsIgnoreCase(choice, text))
                    {
                        return choice;
                    }
                }
                throw Invalid(op, spec, value, text, source,
                    Suggest(text, spec.Values!) + "expected one of: " + string.Join(", ", spec.Values!));
            case ParamKind.Flag:
                if (value.Form == RawForm.JsonBool)
                {
                    return text == "true";
                }
                // Each switch has its own two words (serving=on|off, repair=true|false), in any
                // case; no synonyms, so that 'yes' is refused like any other word.
                if (value.Form != RawForm.JsonNumber)
                {
                    if (Ascii.EqualsIgnoreCase(spec.Values![0], text))
                    {
                        return true;
                    }
                    if (Ascii.EqualsIgnoreCase(spec.Values[1], text))
                    {
                        return false;
                    }
                }
                throw Invalid(op, spec, value, text, source, $"expected {spec.Values![0]} or {spec.Values[1]}");
            case ParamKind.Json:
                if (!IsJsonObject(text))
                {
                    throw Invalid(op, spec, value, text, source,
                        "expected a JSON object, such as base64(eyJlcG9jaHMiOiAzfQ==) for {\"epochs\": 3}");
                }
                return text;
            default:
                return text;
        }
    }

    /// <summary>The most items a tuple may hold (class names of a large classifier fit).</summary>
    internal const int MaxTupleItems = 100_000;

    // tag=(setosa,'versicolor',2): each item a word, a number or a quoted string, as text.
    private static List<string> Words(OperationSpec op, ParamSpec spec, RawValue value, string? source)
    {
        if (value.Form != RawForm.Tuple || value.Items is not { } items)
        {
            throw Error(ErrorCodes.InvalidValue, op, $"invalid value for '{spec.Key}': {(value.Form == RawForm.List ? "a list" : Show(value, value.Text))}",
                value.Offset, source, $"expected a tuple, such as {spec.Key}=(setosa,versicolor,virginica)");
        }
        if (items.Count == 0)
        {
            throw Error(ErrorCodes.InvalidValue, op, $"'{spec.Key}' is empty", value.Offset, source, "a tuple has at least one item");
        }
        if (items.Count > MaxTupleItems)
        {
            throw Error(ErrorCodes.InvalidValue, op, $"'{spec.Key}' has {items.Count} items", value.Offset, source, $"at most {MaxTupleItems}");
        }
        var words = new List<string>(items.Count);
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            var where = $"item {i + 1} of '{spec.Key}'";
            if (item.Form is not (RawForm.Bare or RawForm.Quoted or RawForm.JsonString or RawForm.JsonNumber))
            {
                throw Error(ErrorCodes.InvalidValue, op, $"invalid {where}", item.Offset ?? value.Offset, source,
                    "expected a word, a number or a 'quoted string'");
            }
            if (item.Text.Length == 0 || item.Text.Length > 256 || item.Text.AsSpan().IndexOfAny("'\r\n") >= 0 || LoneSurrogate(item.Text) is not null)
            {
                throw Error(ErrorCodes.InvalidValue, op, $"invalid {where}: {Show(item, item.Text)}", item.Offset ?? value.Offset, source,
                    "an item is 1 to 256 characters of text without quotes, line breaks or lone surrogates");
            }
            words.Add(item.Text);
        }
        return words;
    }

    // shape=[(12,)] or [(28,28,1),(4,)]: per model input, the dimensions of one row, each a
    // whole number from 1 up. A lone tuple (shape=(12,)) is the list of that one.
    private static List<IReadOnlyList<int>> Shapes(OperationSpec op, ParamSpec spec, RawValue value, string? source)
    {
        var hint = $"expected a list of tuples of whole numbers, such as {spec.Key}=[(12,)] or {spec.Key}=[(28,28,1)]";
        IReadOnlyList<RawValue> tuples = value switch
        {
            { Form: RawForm.List, Items: { } items } => items,
            { Form: RawForm.Tuple } => [value],
            _ => throw Error(ErrorCodes.InvalidValue, op, $"invalid value for '{spec.Key}': {Show(value, value.Text)}", value.Offset, source, hint),
        };
        if (tuples.Count is 0 or > 64)
        {
            throw Error(ErrorCodes.InvalidValue, op, $"invalid value for '{spec.Key}': {tuples.Count} tuples", value.Offset, source,
                "one tuple per model input, 1 to 64 of them");
        }
        var shapes = new List<IReadOnlyList<int>>(tuples.Count);
        foreach (var tuple in tuples)
        {
            if (tuple.Form != RawForm.Tuple || tuple.Items is not { Count: > 0 and <= 32 } dims)
            {
                throw Error(ErrorCodes.InvalidValue, op, $"invalid value for '{spec.Key}': {(tuple.Form == RawForm.Tuple ? "a tuple of " + (tuple.Items?.Count ?? 0) + " dimensions" : Show(tuple, tuple.Text))}",
                    tuple.Offset ?? value.Offset, source, hint + "; a tuple has 1 to 32 dimensions");
            }
            var shape = new int[dims.Count];
            long size = 1;
            for (var i = 0; i < dims.Count; i++)
            {
                var d = dims[i];
                if (d.Form is not (RawForm.Bare or RawForm.JsonNumber) || !IsCanonicalPositive(d.Text)
                    || !int.TryParse(d.Text, NumberStyles.None, CultureInfo.InvariantCulture, out shape[i]))
                {
                    throw Error(ErrorCodes.InvalidValue, op, $"invalid dimension in '{spec.Key}': {Show(d, d.Text)}", d.Offset ?? value.Offset, source,
                        "a dimension is a whole number from 1 up, without quotes (the batch dimension is left out)");
                }
                size *= shape[i];
                if (size > int.MaxValue)
                {
                    throw Error(ErrorCodes.InvalidValue, op, $"invalid value for '{spec.Key}': a row of more than {int.MaxValue} values",
                        tuple.Offset ?? value.Offset, source, "check the dimensions");
                }
            }
            shapes.Add(shape);
        }
        return shapes;
    }

    private static bool IsJsonInteger(string text)
    {
        var digits = text.AsSpan(text.StartsWith('-') ? 1 : 0);
        return !digits.IsEmpty && !digits.ContainsAnyExceptInRange('0', '9');
    }

    private static bool IsJsonObject(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 64 });
            return doc.RootElement.ValueKind == JsonValueKind.Object;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static bool IsCanonicalPositive(string text) =>
        text.Length is > 0 and <= 10 && text[0] is >= '1' and <= '9' && text.AsSpan().IndexOfAnyExceptInRange('0', '9') < 0;

    private static char? LoneSurrogate(string text)
    {
        var span = text.AsSpan();
        var i = span.IndexOfAnyInRange('\uD800', '\uDFFF');
        while (i >= 0 && i < span.Length)
        {
            if (char.IsHighSurrogate(span[i]) && i + 1 < span.Length && char.IsLowSurrogate(span[i + 1]))
            {
                i += 2;
            }
            else if (char.IsSurrogate(span[i]))
            {
                return span[i];
            }
            else
            {
                i++;
            }
        }
        return null;
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static string DecodeBase64(OperationSpec op, ParamSpec spec, RawValue value, string? source)
    {
        // White space inside base64(...) is ignored so that long values can be wrapped.
        var encoded = value.Text.AsSpan();
        if (encoded.ContainsAny(MlModelLexicon.WhiteSpace))
        {
            encoded = string.Concat(value.Text.Split([' ', '\t', '\r', '\n'], StringSplitOptions.RemoveEmptyEntries)).AsSpan();
        }
        if (encoded.Length % 4 != 0)
        {
            throw Error(ErrorCodes.InvalidBase64, op, $"invalid base64 in '{spec.Key}'", value.Offset, source,
                $"standard base64 has '=' padding, so its length is a multiple of 4 (this one has {encoded.Length} characters)");
        }
        var max = encoded.Length / 4 * 3;
        byte[]? rented = null;
        var bytes = max <= 512 ? stackalloc byte[max] : (rented = ArrayPool<byte>.Shared.Rent(max));
        try
        {
            if (!TryDecodeBase64(encoded, bytes, out var written))
            {
                throw Error(ErrorCodes.InvalidBase64, op, $"invalid base64 in '{spec.Key}'", value.Offset, source, Base64Hint(encoded));
            }
            try
            {
                return StrictUtf8.GetString(bytes[..written]);
            }
            catch (DecoderFallbackException)
            {
                throw Error(ErrorCodes.InvalidBase64, op, $"base64 in '{spec.Key}' is not UTF-8 text", value.Offset, source,
                    "encode the text as UTF-8 before base64");
            }
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    // Convert's decoder accepts 'YR==' for 'YQ==' (it ignores the bits after the last byte);
    // the strict decoder does not. Say so, with the ending a standard encoder writes.
    private static string Base64Hint(ReadOnlySpan<char> encoded)
    {
        var bytes = new byte[encoded.Length / 4 * 3];
        if (System.Convert.TryFromBase64Chars(encoded, bytes, out var written))
        {
            var canonical = System.Convert.ToBase64String(bytes, 0, written);
            return $"it is not in canonical form: the bits after the last byte must be zero, so it ends '{canonical[^4..]}', not '{encoded[^4..]}'";
        }
        return "standard base64 uses A-Z, a-z, 0-9, '+' and '/', with '=' padding only at the end";
    }

    // Strict, vectorised decoding: narrow the characters to ASCII, then decode as UTF-8 base64.
    // (Convert's decoder of UTF-16 base64 is scalar, about 1.6 ns a character, and lenient
    // about the bits after the last byte.)
    private static bool TryDecodeBase64(ReadOnlySpan<char> encoded, Span<byte> bytes, out int written)
    {
        byte[]? rented = null;
        var ascii = encoded.Length <= 1024 ? stackalloc byte[encoded.Length] : (rented = ArrayPool<byte>.Shared.Rent(encoded.Length));
        try
        {
            written = 0;
            return Ascii.FromUtf16(encoded, ascii, out var narrowed) == OperationStatus.Done
                && System.Buffers.Text.Base64.DecodeFromUtf8(ascii[..narrowed], bytes, out _, out written) == OperationStatus.Done;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private static string Show(RawValue value, string text)
    {
        var shown = Display.Word(text);
        return value.Form switch
        {
            RawForm.Quoted => $"'{shown}' (quoted)",
            RawForm.Base64 => $"'{shown}' (from base64)",
            RawForm.JsonNumber or RawForm.JsonBool or RawForm.JsonOther or RawForm.Tuple or RawForm.List => shown,
            _ => $"'{shown}'",
        };
    }

    private static MlModelException Invalid(OperationSpec op, ParamSpec spec, RawValue value, string text, string? source, string hint) =>
        Error(ErrorCodes.InvalidValue, op, $"invalid value for '{spec.Key}': {Show(value, text)}", value.Offset, source, hint);

    /// <summary>
    /// <c>mlmodel delete: missing required parameter 'version'</c>. The message has no position
    /// (there is no text to point at), but the error carries the operation word's, so a host
    /// can underline the command that lacks it.
    /// </summary>
    internal static MlModelException Missing(OperationSpec op, List<string> keys, int? operationOffset, string? source, string? hint)
    {
        var what = keys.Count == 1
            ? $"missing required parameter '{keys[0]}'"
            : "missing required parameters " + string.Join(", ", keys.Take(keys.Count - 1).Select(k => $"'{k}'")) + $" and '{keys[^1]}'";
        // The position is the operation's: the command that lacks the key (spec B.1).
        return Error(ErrorCodes.MissingParameter, op, what, operationOffset, source, hint);
    }

    // Operations and keys are ASCII (spec B.1). A look-alike, such as the Kelvin sign U+212A in
    // 'Kind' or the full-width 'ｎａｍｅ', would leave the user staring at a word that seems right.
    private static string NotAscii(string word)
    {
        if (Display.FirstNonAscii(word) is not char c)
        {
            return "";
        }
        var folded = char.IsSurrogate(c) ? "" : c.ToString().Normalize(NormalizationForm.FormKC);
        var lookalike = char.ToLowerInvariant(c) < 0x80 || (folded.Length > 0 && Display.FirstNonAscii(folded) is null);
        return lookalike ? $"it holds {Display.CodePoint(c)}, which looks like an ASCII letter but is not one; " : "";
    }

    /// <summary>"did you mean 'x'? " when a candidate is close, else empty.</summary>
    internal static string Suggest(string word, IEnumerable<string> candidates)
    {
        if (word.Length > 64)
        {
            return "";
        }
        string? best = null;
        var bestDistance = int.MaxValue;
        var lower = Fold(word);
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

    // Compatibility forms fold to what they look like ('ｎａｍｅ' is 'name'); text that is not
    // valid Unicode (a lone surrogate) cannot be normalised and is compared as it is.
    private static string Fold(string word)
    {
        try
        {
            return word.Normalize(NormalizationForm.FormKC).ToLowerInvariant();
        }
        catch (ArgumentException)
        {
            return word.ToLowerInvariant();
        }
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
    internal static MlModelException Error(string code, OperationSpec? op, string what, int? offset, string? source, string? hint,
        IReadOnlyList<string>? expected = null, string command = "mlmodel")
    {
        int? line = null, column = null;
        var message = new StringBuilder(what);
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
        return new MlModelException(MlModelError.Create(code, op?.Command ?? command, op?.Name, message.ToString(), line, column, expected));
    }
}
