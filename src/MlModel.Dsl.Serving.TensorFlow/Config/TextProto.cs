using System.Globalization;
using System.Text;
using System.Text.Unicode;

namespace MlModel.Dsl.Serving.TensorFlow.Config;

// A schema-less tree for the protobuf text format ("ASCII protocol buffer").
//
// TensorFlow Serving reads its --model_config_file as a text-format ModelServerConfig
// (tensorflow_serving/g3doc/serving_config.md, "Model Server Config Details": "The Model
// Server configuration file provided must be an ASCII ModelServerConfig protocol buffer").
// We parse into a generic tree so that every field we do not manage (logging_config,
// other models, custom_model_config, fields of future TF Serving versions) is written back
// with the same values. Comments and the spelling of scalars inside our own edits are not
// preserved; values are.

/// <summary>A text-format message: an ordered list of fields (repeated fields appear once per value).</summary>
internal sealed class TextProtoMessage
{
    public List<TextProtoField> Fields { get; } = [];

    public IEnumerable<TextProtoField> All(string name) => Fields.Where(f => f.Name == name);

    public TextProtoField? Last(string name) => Fields.LastOrDefault(f => f.Name == name);

    public TextProtoMessage? Message(string name) => Last(name)?.Value as TextProtoMessage;

    public TextProtoScalar? Scalar(string name) => Last(name)?.Value as TextProtoScalar;

    /// <summary>The sub-message called <paramref name="name"/>, created (appended) when absent.</summary>
    public TextProtoMessage GetOrAddMessage(string name)
    {
        if (Message(name) is { } existing)
        {
            return existing;
        }

        var created = new TextProtoMessage();
        Fields.Add(new TextProtoField(name, created));
        return created;
    }

    /// <summary>Sets a singular scalar: replaces the last occurrence, drops earlier duplicates, or appends.</summary>
    public void SetScalar(string name, TextProtoScalar value)
    {
        var index = Fields.FindLastIndex(f => f.Name == name);
        if (index < 0)
        {
            Fields.Add(new TextProtoField(name, value));
            return;
        }

        Fields[index] = new TextProtoField(name, value);
        Fields.RemoveAll(f => f.Name == name && !ReferenceEquals(f, Fields[index]));
    }

    public TextProtoMessage DeepClone()
    {
        var clone = new TextProtoMessage();
        foreach (var field in Fields)
        {
            clone.Fields.Add(new TextProtoField(
                field.Name,
                field.Value is TextProtoMessage m ? m.DeepClone() : field.Value));
        }

        return clone;
    }

    /// <summary>Value equality: same fields, same order, same values.</summary>
    public bool ValueEquals(TextProtoMessage other)
    {
        if (Fields.Count != other.Fields.Count)
        {
            return false;
        }

        for (var i = 0; i < Fields.Count; i++)
        {
            var a = Fields[i];
            var b = other.Fields[i];
            if (a.Name != b.Name)
            {
                return false;
            }

            var same = (a.Value, b.Value) switch
            {
                (TextProtoMessage x, TextProtoMessage y) => x.ValueEquals(y),
                (TextProtoScalar x, TextProtoScalar y) => x.Equals(y),
                _ => false,
            };
            if (!same)
            {
                return false;
            }
        }

        return true;
    }

    public override string ToString() => TextProtoWriter.Write(this);
}

/// <summary>One field occurrence. <see cref="Name"/> keeps brackets for extension / Any type URLs.</summary>
internal sealed record TextProtoField(string Name, object Value);

internal enum TextProtoScalarKind
{
    /// <summary>A quoted string; <see cref="TextProtoScalar.Bytes"/> holds its decoded bytes.</summary>
    String,

    /// <summary>A number token, kept as written (e.g. <c>42</c>, <c>-1.5e3</c>, <c>0x1F</c>).</summary>
    Number,

    /// <summary>An identifier: enum value, <c>true</c>, <c>false</c>, <c>inf</c>, <c>-inf</c>, <c>nan</c>.</summary>
    Identifier,
}

/// <summary>A scalar value. Strings are bytes (the text format's strings are byte strings).</summary>
internal sealed class TextProtoScalar : IEquatable<TextProtoScalar>
{
    private TextProtoScalar(TextProtoScalarKind kind, string? raw, byte[]? bytes)
    {
        Kind = kind;
        Raw = raw;
        Bytes = bytes;
    }

    public TextProtoScalarKind Kind { get; }

    /// <summary>The token as written, for numbers and identifiers.</summary>
    public string? Raw { get; }

    /// <summary>The decoded bytes, for strings.</summary>
    public byte[]? Bytes { get; }

    public static TextProtoScalar FromString(string text) =>
        new(TextProtoScalarKind.String, null, Encoding.UTF8.GetBytes(text));

    public static TextProtoScalar FromBytes(byte[] bytes) => new(TextProtoScalarKind.String, null, bytes);

    public static TextProtoScalar FromInt64(long value) =>
        new(TextProtoScalarKind.Number, value.ToString(CultureInfo.InvariantCulture), null);

    public static TextProtoScalar FromNumberToken(string raw) => new(TextProtoScalarKind.Number, raw, null);

    public static TextProtoScalar FromIdentifier(string raw) => new(TextProtoScalarKind.Identifier, raw, null);

    /// <summary>The string value decoded as UTF-8 (invalid sequences become U+FFFD); null for non-strings.</summary>
    public string? AsText() => Kind == TextProtoScalarKind.String ? Encoding.UTF8.GetString(Bytes!) : null;

    /// <summary>The value as a 64-bit integer, if it is an integer literal (decimal, hex or octal).</summary>
    public bool TryGetInt64(out long value)
    {
        value = 0;
        if (Kind != TextProtoScalarKind.Number || Raw is null)
        {
            return false;
        }

        var text = Raw;
        var negative = text.StartsWith('-');
        if (negative)
        {
            text = text[1..];
        }

        ulong magnitude;
        if (text.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            if (!ulong.TryParse(text[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out magnitude))
            {
                return false;
            }
        }
        else if (text.Length > 1 && text[0] == '0' && text.All(c => c is >= '0' and <= '7'))
        {
            magnitude = 0;
            foreach (var c in text)
            {
                magnitude = checked((magnitude * 8) + (ulong)(c - '0'));
            }
        }
        else if (!ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out magnitude))
        {
            return false;
        }

        if (negative)
        {
            if (magnitude > (ulong)long.MaxValue + 1)
            {
                return false;
            }

            value = unchecked(-(long)magnitude);
            return true;
        }

        if (magnitude > long.MaxValue)
        {
            return false;
        }

        value = (long)magnitude;
        return true;
    }

    public bool Equals(TextProtoScalar? other) =>
        other is not null
        && Kind == other.Kind
        && Raw == other.Raw
        && (Bytes is null ? other.Bytes is null : other.Bytes is not null && Bytes.AsSpan().SequenceEqual(other.Bytes));

    public override bool Equals(object? obj) => Equals(obj as TextProtoScalar);

    public override int GetHashCode() => HashCode.Combine(Kind, Raw, Bytes?.Length);

    public override string ToString() => Kind == TextProtoScalarKind.String ? AsText()! : Raw!;
}

/// <summary>A text-format syntax error, with 1-based line and column.</summary>
internal sealed class TextProtoParseException(string message, int line, int column)
    : FormatException($"{message} (line {line}, column {column})")
{
    public int Line { get; } = line;

    public int Column { get; } = column;
}

/// <summary>
/// Parser for the protobuf text format as TensorFlow Serving reads it (google::protobuf::TextFormat):
/// <c>name: value</c>, <c>name { ... }</c> / <c>name: { ... }</c> / <c>name &lt; ... &gt;</c>,
/// list shorthand <c>name: [a, b]</c> (expanded to repeated fields), optional <c>,</c> / <c>;</c>
/// separators, <c>#</c> comments, single- or double-quoted strings with C escapes and
/// adjacent-literal concatenation, and <c>[type.url/Name]</c> extension / Any field names.
/// </summary>
internal static class TextProtoParser
{
    public static TextProtoMessage Parse(string text)
    {
        var reader = new Reader(text);
        var message = new TextProtoMessage();
        reader.ParseFields(message, terminator: null);
        return message;
    }

    private sealed class Reader(string text)
    {
        private int _pos;
        private int _line = 1;
        private int _lineStart;

        public void ParseFields(TextProtoMessage message, char? terminator)
        {
            while (true)
            {
                SkipTrivia();
                if (_pos >= text.Length)
                {
                    if (terminator is not null)
                    {
                        throw Error($"expected '{terminator}' before the end of the text");
                    }

                    return;
                }

                if (terminator is not null && text[_pos] == terminator)
                {
                    _pos++;
                    return;
                }

                ParseField(message);
                SkipTrivia();
                if (_pos < text.Length && text[_pos] is ',' or ';')
                {
                    _pos++;
                }
            }
        }

        private void ParseField(TextProtoMessage message)
        {
            var name = ParseFieldName();
            SkipTrivia();
            var hasColon = false;
            if (Peek() == ':')
            {
                hasColon = true;
                _pos++;
                SkipTrivia();
            }

            var c = Peek();
            if (c is '{' or '<')
            {
                message.Fields.Add(new TextProtoField(name, ParseMessageValue()));
                return;
            }

            if (c == '[')
            {
                if (!hasColon)
                {
                    throw Error($"expected ':' after field name '{name}'");
                }

                _pos++;
                SkipTrivia();
                if (Peek() == ']')
                {
                    _pos++;
                    return;
                }

                while (true)
                {
                    SkipTrivia();
                    object value = Peek() is '{' or '<' ? ParseMessageValue() : ParseScalar();
                    message.Fields.Add(new TextProtoField(name, value));
                    SkipTrivia();
                    var next = Peek();
                    _pos++;
                    if (next == ']')
                    {
                        return;
                    }

                    if (next != ',')
                    {
                        _pos--;
                        throw Error("expected ',' or ']' in a list value");
                    }
                }
            }

            if (!hasColon)
            {
                throw Error($"expected ':' or '{{' after field name '{name}'");
            }

            message.Fields.Add(new TextProtoField(name, ParseScalar()));
        }

        private TextProtoMessage ParseMessageValue()
        {
            var open = text[_pos++];
            var child = new TextProtoMessage();
            ParseFields(child, open == '{' ? '}' : '>');
            return child;
        }

        private string ParseFieldName()
        {
            if (Peek() == '[')
            {
                var start = _pos;
                _pos++;
                while (_pos < text.Length && text[_pos] != ']')
                {
                    if (text[_pos] == '\n')
                    {
                        throw Error("unterminated extension name");
                    }

                    _pos++;
                }

                if (_pos >= text.Length)
                {
                    throw Error("unterminated extension name");
                }

                _pos++;
                // Normalise white space inside brackets away: "[ a.b ]" and "[a.b]" name the same field.
                return "[" + new string(text[(start + 1)..(_pos - 1)].Where(ch => !char.IsWhiteSpace(ch)).ToArray()) + "]";
            }

            if (!IsIdentStart(Peek()))
            {
                throw Error($"expected a field name, found {Describe(Peek())}");
            }

            return ReadIdentifier();
        }

        private TextProtoScalar ParseScalar()
        {
            var c = Peek();
            if (c is '"' or '\'')
            {
                var bytes = new List<byte>();
                while (Peek() is '"' or '\'')
                {
                    ReadQuoted(bytes);
                    SkipTrivia();
                }

                return TextProtoScalar.FromBytes([.. bytes]);
            }

            var negative = false;
            if (c == '-')
            {
                negative = true;
                _pos++;
                SkipTrivia();
                c = Peek();
            }

            if (c is >= '0' and <= '9' || (c == '.' && _pos + 1 < text.Length && char.IsAsciiDigit(text[_pos + 1])))
            {
                var start = _pos;
                while (_pos < text.Length && (char.IsAsciiLetterOrDigit(text[_pos]) || text[_pos] == '.'
                       || ((text[_pos] is '+' or '-') && _pos > start && text[_pos - 1] is 'e' or 'E'
                           && !text[start..].StartsWith("0x", StringComparison.OrdinalIgnoreCase))))
                {
                    _pos++;
                }

                var token = text[start.._pos];
                return TextProtoScalar.FromNumberToken(negative ? "-" + token : token);
            }

            if (IsIdentStart(c))
            {
                var ident = ReadIdentifier();
                return TextProtoScalar.FromIdentifier(negative ? "-" + ident : ident);
            }

            throw Error($"expected a value, found {Describe(c)}");
        }

        private void ReadQuoted(List<byte> bytes)
        {
            var quote = text[_pos++];
            Span<byte> utf8 = stackalloc byte[4];
            while (true)
            {
                if (_pos >= text.Length || text[_pos] == '\n')
                {
                    throw Error("unterminated string");
                }

                var c = text[_pos++];
                if (c == quote)
                {
                    return;
                }

                if (c != '\\')
                {
                    if (c < 0x80)
                    {
                        bytes.Add((byte)c);
                    }
                    else
                    {
                        var rune = char.IsHighSurrogate(c) && _pos < text.Length && char.IsLowSurrogate(text[_pos])
                            ? new Rune(c, text[_pos++])
                            : Rune.TryCreate(c, out var r) ? r : Rune.ReplacementChar;
                        var n = rune.EncodeToUtf8(utf8);
                        for (var i = 0; i < n; i++)
                        {
                            bytes.Add(utf8[i]);
                        }
                    }

                    continue;
                }

                if (_pos >= text.Length)
                {
                    throw Error("unterminated string");
                }

                var e = text[_pos++];
                switch (e)
                {
                    case 'a': bytes.Add(7); break;
                    case 'b': bytes.Add(8); break;
                    case 'f': bytes.Add(12); break;
                    case 'n': bytes.Add(10); break;
                    case 'r': bytes.Add(13); break;
                    case 't': bytes.Add(9); break;
                    case 'v': bytes.Add(11); break;
                    case '\\': bytes.Add((byte)'\\'); break;
                    case '\'': bytes.Add((byte)'\''); break;
                    case '"': bytes.Add((byte)'"'); break;
                    case '?': bytes.Add((byte)'?'); break;
                    case >= '0' and <= '7':
                        {
                            var value = e - '0';
                            for (var i = 0; i < 2 && _pos < text.Length && text[_pos] is >= '0' and <= '7'; i++)
                            {
                                value = (value * 8) + (text[_pos++] - '0');
                            }

                            bytes.Add((byte)value);
                            break;
                        }

                    case 'x' or 'X':
                        {
                            var value = 0;
                            var digits = 0;
                            while (digits < 2 && _pos < text.Length && char.IsAsciiHexDigit(text[_pos]))
                            {
                                value = (value * 16) + Convert.ToInt32(text[_pos++].ToString(), 16);
                                digits++;
                            }

                            if (digits == 0)
                            {
                                throw Error("\\x escape without hex digits");
                            }

                            bytes.Add((byte)value);
                            break;
                        }

                    case 'u' or 'U':
                        {
                            var length = e == 'u' ? 4 : 8;
                            if (_pos + length > text.Length
                                || !int.TryParse(text.AsSpan(_pos, length), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code)
                                || !Rune.IsValid(code))
                            {
                                throw Error($"invalid \\{e} escape");
                            }

                            _pos += length;
                            var n = new Rune(code).EncodeToUtf8(utf8);
                            for (var i = 0; i < n; i++)
                            {
                                bytes.Add(utf8[i]);
                            }

                            break;
                        }

                    default:
                        _pos--;
                        throw Error($"invalid escape '\\{e}'");
                }
            }
        }

        private string ReadIdentifier()
        {
            var start = _pos;
            while (_pos < text.Length && (char.IsAsciiLetterOrDigit(text[_pos]) || text[_pos] == '_'))
            {
                _pos++;
            }

            return text[start.._pos];
        }

        private static bool IsIdentStart(char c) => char.IsAsciiLetter(c) || c == '_';

        private char Peek() => _pos < text.Length ? text[_pos] : '\0';

        private void SkipTrivia()
        {
            while (_pos < text.Length)
            {
                var c = text[_pos];
                if (c == '\n')
                {
                    _pos++;
                    _line++;
                    _lineStart = _pos;
                }
                else if (char.IsWhiteSpace(c) || c == '\uFEFF')
                {
                    _pos++;
                }
                else if (c == '#')
                {
                    while (_pos < text.Length && text[_pos] != '\n')
                    {
                        _pos++;
                    }
                }
                else
                {
                    return;
                }
            }
        }

        private string Describe(char c) => _pos >= text.Length ? "the end of the text" : $"'{c}'";

        private TextProtoParseException Error(string message) => new(message, _line, _pos - _lineStart + 1);
    }
}

/// <summary>
/// Writes the layout of the examples in tensorflow_serving/g3doc/serving_config.md: two-space
/// indentation, <c>name {</c> ... <c>}</c> blocks, <c>name: 'string'</c> in single quotes,
/// bare numbers, one field per line, a final newline.
/// </summary>
internal static class TextProtoWriter
{
    public static string Write(TextProtoMessage message)
    {
        var sb = new StringBuilder();
        WriteFields(sb, message, 0);
        return sb.ToString();
    }

    private static void WriteFields(StringBuilder sb, TextProtoMessage message, int depth)
    {
        foreach (var field in message.Fields)
        {
            sb.Append(' ', depth * 2).Append(field.Name);
            switch (field.Value)
            {
                case TextProtoMessage child:
                    sb.Append(" {\n");
                    WriteFields(sb, child, depth + 1);
                    sb.Append(' ', depth * 2).Append("}\n");
                    break;
                case TextProtoScalar scalar:
                    sb.Append(": ");
                    AppendScalar(sb, scalar);
                    sb.Append('\n');
                    break;
                default:
                    throw new InvalidOperationException($"unexpected value for field {field.Name}");
            }
        }
    }

    public static void AppendScalar(StringBuilder sb, TextProtoScalar scalar)
    {
        if (scalar.Kind != TextProtoScalarKind.String)
        {
            sb.Append(scalar.Raw);
            return;
        }

        var bytes = scalar.Bytes!;
        // protobuf's tokenizer (io/tokenizer.cc, ConsumeString) reads a string byte by byte up to
        // its closing quote: a backslash starts an escape, a line break or NUL ends it in error,
        // and every other byte, UTF-8 of any script included, is taken as it is. So readable text
        // is written as it is (a label 'CNN wineQ model', '모델 v2'); the quote, the backslash and
        // what a reader cannot see (C0 and C1 controls, DEL, U+2028/U+2029, which editors break
        // lines at) are escaped, the latter as the octal of their UTF-8 bytes. Bytes that are not
        // UTF-8 are all escaped.
        var utf8 = Utf8.IsValid(bytes);
        sb.Append('\'');
        if (utf8)
        {
            Span<byte> encoded = stackalloc byte[4];
            foreach (var rune in Encoding.UTF8.GetString(bytes).EnumerateRunes())
            {
                if (rune.Value < 0x80)
                {
                    AppendEscapedByte(sb, (byte)rune.Value);
                }
                else if (Rune.IsControl(rune) || Rune.GetUnicodeCategory(rune) is UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator)
                {
                    var n = rune.EncodeToUtf8(encoded);
                    foreach (var b in encoded[..n])
                    {
                        AppendEscapedByte(sb, b);
                    }
                }
                else
                {
                    sb.Append(rune.ToString());
                }
            }
        }
        else
        {
            foreach (var b in bytes)
            {
                AppendEscapedByte(sb, b);
            }
        }

        sb.Append('\'');
    }

    private static void AppendEscapedByte(StringBuilder sb, byte b)
    {
        switch (b)
        {
            case (byte)'\n': sb.Append("\\n"); break;
            case (byte)'\r': sb.Append("\\r"); break;
            case (byte)'\t': sb.Append("\\t"); break;
            case (byte)'\\': sb.Append("\\\\"); break;
            case (byte)'\'': sb.Append("\\'"); break;
            case < 0x20 or >= 0x7F:
                sb.Append('\\').Append(Convert.ToString(b, 8).PadLeft(3, '0'));
                break;
            default: sb.Append((char)b); break;
        }
    }
}
