using System.Globalization;
using System.Text;
using MlModel.Dsl.Binding;
using Pidgin;

namespace MlModel.Dsl.Syntax;

/// <summary>
/// Turns Pidgin's parse error into ours: the command, the parameter whose value is at fault,
/// the position, what was found and expected, and how to fix it. No raw Pidgin text leaks.
/// </summary>
internal static class SyntaxErrors
{
    private const string Base64Advice = "write the value in single quotes ('...') or as base64(...)";

    public static MlModelException Translate(ParseError<char> error, string source, int start, int end, bool keywordOptional = false)
    {
        var expected = ExpectedLabels(error);
        var offset = Math.Clamp(start + error.ErrorOffset, start, end);
        if (expected.Contains(SyntaxLabels.Keyword))
        {
            // Pidgin stops where the word stopped matching (the x of mlmodelx); the message shows
            // the whole word, from its start.
            offset = Math.Min(SkipWhiteSpace(source, start), end);
        }
        var atEnd = offset >= end;
        var unexpected = atEnd ? '\0' : source[offset];
        var tag = Where(source, start, offset, atEnd, unexpected, expected);
        var op = OperationOf(source, start, end, keywordOptional);

        // `name= version=1`: the grammar read `version` as name's value and then met '='.
        if (unexpected == '=' && (tag == SyntaxTags.AfterBare || expected.Contains(SyntaxLabels.Parameter))
            && MissingValueKey(source, offset, start) is (string key, int keyOffset))
        {
            return Binder.Error(ErrorCodes.MissingValue, op, $"parameter '{Display.Word(key)}' has no value", keyOffset, source,
                $"write {Display.Word(key)}=<value>");
        }

        string found;
        if (atEnd)
        {
            found = "end of input";
        }
        else if (tag == SyntaxTags.Keyword)
        {
            found = "'" + Display.Word(WordAt(source, offset, end)) + "'";
        }
        else
        {
            found = Describe(source, offset);
        }
        found += tag switch
        {
            SyntaxTags.AfterQuoted => " after the quoted string",
            SyntaxTags.AfterBase64 => " after base64(...)",
            _ => "",
        };

        var (line, column) = SourceText.Position(source, offset);
        var what = new StringBuilder("syntax error");
        var inKey = tag == SyntaxTags.Pipe ? null : KeyOfValueAt(source, start, offset);
        if (inKey is not null)
        {
            what.Append(" in '").Append(Display.Word(inKey)).Append('\'');
        }
        what.Append(CultureInfo.InvariantCulture, $" (line {line}, column {column}): unexpected {found}");
        if (expected.Count > 0)
        {
            what.Append(", expected ").Append(JoinOr(expected));
        }
        var hint = inKey is not null && op?.Find(inKey)?.Kind == ParamKind.Version && tag != SyntaxTags.UnclosedQuote
            ? "a version is a whole number from 1 to 2147483647, such as 1000, written without quotes"
            : Hint(source, start, offset, tag, atEnd, unexpected, expected);
        if (hint is not null)
        {
            what.Append("; ").Append(hint);
        }
        return new MlModelException(MlModelError.Create(ErrorCodes.Syntax, op is null ? CommandWords.MlModel : CommandWords.Of(op.Operation), op?.Name, what.ToString(), line, column, expected));
    }

    // Pidgin's expectations as labels, each once, in the grammar's order.
    private static List<string> ExpectedLabels(ParseError<char> error)
    {
        var labels = new List<string>();
        foreach (var e in error.Expected)
        {
            var label = e.Label ?? (e.IsEof ? SyntaxLabels.EndOfInput : e.Tokens.IsDefaultOrEmpty ? null : "'" + new string(e.Tokens.AsSpan()) + "'");
            if (label is not null && !labels.Contains(label))
            {
                labels.Add(label);
            }
        }
        return [.. labels.OrderBy(l => Array.IndexOf(SyntaxLabels.InOrder, l) is var i and >= 0 ? i : int.MaxValue)];
    }

    /// <summary>
    /// Where the error happened, from what the grammar expected there; after a word or a value,
    /// its last character tells which lexeme it was (a bare word cannot end in a quote or ')').
    /// </summary>
    private static string? Where(string source, int start, int offset, bool atEnd, char unexpected, List<string> expected)
    {
        if (expected.Contains(SyntaxLabels.Keyword))
        {
            return SyntaxTags.Keyword;
        }
        if (expected.Contains(SyntaxLabels.ClosingQuote))
        {
            return SyntaxTags.UnclosedQuote;
        }
        if (expected.Contains(SyntaxLabels.ClosingParen))
        {
            return SyntaxTags.UnclosedBase64;
        }
        if (expected.Contains(SyntaxLabels.EndOfInput))
        {
            return !atEnd && unexpected == '|' ? SyntaxTags.Pipe : null;
        }
        if (expected.Contains(SyntaxLabels.EqualsSign))
        {
            return SyntaxTags.AfterWord;
        }
        return expected switch
        {
            [SyntaxLabels.WhiteSpace] => SyntaxTags.AfterKeyword,
            [SyntaxLabels.WhiteSpace, SyntaxLabels.EndOfCommand] => (offset > start ? source[offset - 1] : '\0') switch
            {
                '\'' => SyntaxTags.AfterQuoted,
                ')' => SyntaxTags.AfterBase64,
                _ => KeyOfValueAt(source, start, offset) is null ? SyntaxTags.AfterOperation : SyntaxTags.AfterBare,
            },
            _ => null,
        };
    }

    private static string? Hint(string source, int start, int offset, string? tag, bool atEnd, char unexpected, List<string> expected)
    {
        switch (tag)
        {
            case SyntaxTags.Keyword:
                return atEnd ? "a command starts with mlmodel and an operation, such as: mlmodel list" : null;
            case SyntaxTags.UnclosedQuote:
                {
                    var (l, c) = SourceText.Position(source, source.LastIndexOf('\'', Math.Max(start, offset - 1)));
                    return $"the quoted string that starts at line {l}, column {c} is not closed on its line; "
                        + "a single-quoted string cannot span lines or contain a quote: write such text as base64(...)";
                }
            case SyntaxTags.UnclosedBase64:
                {
                    var open = source.LastIndexOf("base64(", Math.Max(start, offset - 1), StringComparison.OrdinalIgnoreCase);
                    var (l, c) = SourceText.Position(source, open);
                    return $"the base64( at line {l}, column {c} is not closed";
                }
            case SyntaxTags.AfterKeyword:
                return "put white space between mlmodel and the operation: mlmodel list";
            case SyntaxTags.AfterQuoted:
                return "a single-quoted string ends at the next quote and cannot contain one: write text with a quote as base64(...)";
            case SyntaxTags.Pipe:
                return "a '|' ends the mlmodel command and starts the host's next pipeline stage: give the command alone, or parse the whole query with ParseQuery";
        }
        if (tag is SyntaxTags.AfterOperation or SyntaxTags.AfterWord or SyntaxTags.AfterBare
            && Display.FirstInvisible(PreviousWord(source, start, offset)) is char invisible)
        {
            return $"the word before it holds {Display.CodePoint(invisible)}, an invisible character that is not white space here: "
                + "separate words with spaces, tabs or line breaks";
        }
        if (expected.Contains(SyntaxLabels.Operation))
        {
            return "allowed operations: " + string.Join(", ", OperationTable.All.Select(o => o.Name));
        }
        if (atEnd)
        {
            return null;
        }
        var atParameter = expected.Contains(SyntaxLabels.Parameter);
        switch (unexpected)
        {
            case '"':
                return "double quotes do not quote in mlmodel: " + Base64Advice;
            case '\'' when atParameter:
                return "a quoted value needs its key (key='...'); only the model name may stand alone, as a bare word";
            case '\'':
                return "a quote cannot appear inside a bare word: " + Base64Advice;
            case '=' when atParameter:
                return "'=' must come right after a key: write key=value";
            case '(' when atParameter && OptionalNotation(source, offset) is string key:
                return $"'({key}=)?' is the syntax's notation for an optional parameter: write {key}=<value>, or leave it out";
            case '(' when atParameter && PreviousWord(source, start, offset).Equals("base64", StringComparison.OrdinalIgnoreCase):
                return "write base64(...) with no space before '('";
            case '=' or '(' or ')' or ',' when tag == SyntaxTags.AfterBare || expected.Contains(SyntaxLabels.Value):
                return $"'{unexpected}' cannot appear in a bare word: " + Base64Advice
                    + (unexpected == ',' ? "; parameters are separated by white space, not ','" : "");
            case '=' or '(' or ')' or ',':
                return $"'{unexpected}' cannot appear in a key or a bare word"
                    + (unexpected == ',' ? "; parameters are separated by white space, not ','" : "");
        }
        return null;
    }

    // `(user=)?` or `(label='stable')?`, copied from a syntax line: the key inside.
    private static string? OptionalNotation(string s, int offset)
    {
        var i = offset + 1;
        var keyEnd = SkipWord(s, i);
        return keyEnd > i && keyEnd < s.Length && s[keyEnd] == '=' && s.IndexOf(")?", keyEnd, StringComparison.Ordinal) is var close and > 0
            && s.AsSpan(keyEnd, close - keyEnd).IndexOfAny(" \t\r\n") < 0
            ? s[i..keyEnd]
            : null;
    }

    /// <summary>The key whose value contains <paramref name="offset"/> (or ends just before it), if any.</summary>
    internal static string? KeyOfValueAt(string source, int start, int offset)
    {
        var i = SkipWhiteSpace(source, start);
        var first = SkipWord(source, i);
        if (source.AsSpan(i, first - i).Equals("mlmodel", StringComparison.OrdinalIgnoreCase))
        {
            i = SkipWhiteSpace(source, first); // mlmodel (which a prompt's command may leave out)
            first = SkipWord(source, i);
        }
        i = SkipWhiteSpace(source, first); // the operation
        while (i < offset)
        {
            var wordEnd = SkipWord(source, i);
            if (wordEnd == i)
            {
                return null;
            }
            var j = SkipWhiteSpace(source, wordEnd);
            if (j >= source.Length || source[j] != '=')
            {
                i = SkipWhiteSpace(source, wordEnd);
                continue;
            }
            var key = source[i..wordEnd];
            var valueStart = SkipWhiteSpace(source, j + 1);
            if (offset <= valueStart)
            {
                return offset > j ? key : null;
            }
            var valueEnd = ValueEnd(source, valueStart);
            if (offset <= valueEnd)
            {
                return key;
            }
            i = SkipWhiteSpace(source, valueEnd);
        }
        return null;
    }

    // Where a value that starts at `i` ends, the way the grammar reads it; at an unclosed quote
    // or base64( it is the line break or the end that stopped it.
    private static int ValueEnd(string s, int i)
    {
        if (i >= s.Length)
        {
            return i;
        }
        if (s[i] == '\'')
        {
            var close = s.AsSpan(i + 1).IndexOfAny('\'', '\r', '\n');
            return close < 0 ? s.Length : s[i + 1 + close] == '\'' ? i + close + 2 : i + 1 + close;
        }
        if (s.AsSpan(i).StartsWith("base64(", StringComparison.OrdinalIgnoreCase))
        {
            var close = s.IndexOf(')', i + 7);
            return close < 0 ? s.Length : close + 1;
        }
        return SkipWord(s, i);
    }

    private static int SkipWhiteSpace(string s, int i)
    {
        while (i < s.Length && Lexemes.IsWhiteSpace(s[i]))
        {
            i++;
        }
        return i;
    }

    private static int SkipWord(string s, int i)
    {
        while (i < s.Length && Lexemes.IsBareChar(s[i]))
        {
            i++;
        }
        return i;
    }

    private static string WordAt(string s, int offset, int end)
    {
        var j = offset;
        while (j < end && Lexemes.IsBareChar(s[j]) && j - offset < 40)
        {
            j++;
        }
        return j == offset ? s[offset].ToString() : s[offset..j];
    }

    private static string PreviousWord(string s, int start, int offset)
    {
        var i = offset;
        while (i > start && Lexemes.IsWhiteSpace(s[i - 1]))
        {
            i--;
        }
        var wordEnd = i;
        while (i > start && Lexemes.IsBareChar(s[i - 1]))
        {
            i--;
        }
        return s[i..wordEnd];
    }

    // From the '=' at `offset`, back over `word`, white space and `key =`: `key= word=`.
    private static (string, int)? MissingValueKey(string source, int offset, int start)
    {
        var i = offset;
        while (i > start && Lexemes.IsWhiteSpace(source[i - 1]))
        {
            i--;
        }
        var wordEnd = i;
        while (i > start && Lexemes.IsBareChar(source[i - 1]))
        {
            i--;
        }
        if (i == wordEnd)
        {
            return null;
        }
        var wordStart = i;
        while (i > start && Lexemes.IsWhiteSpace(source[i - 1]))
        {
            i--;
        }
        if (i == wordStart || i == start || source[i - 1] != '=')
        {
            return null;
        }
        i--;
        while (i > start && Lexemes.IsWhiteSpace(source[i - 1]))
        {
            i--;
        }
        var keyEnd = i;
        while (i > start && Lexemes.IsBareChar(source[i - 1]))
        {
            i--;
        }
        // `key=` must itself start a parameter: white space (or the command's start) before it.
        if (keyEnd == i || (i > start && !Lexemes.IsWhiteSpace(source[i - 1])))
        {
            return null;
        }
        return (source[i..keyEnd], i);
    }

    internal static OperationSpec? OperationOf(string source, int start, int end, bool keywordOptional = false)
    {
        var i = SkipWhiteSpace(source, start);
        if (end - i >= 8 && source.AsSpan(i, 7).Equals("mlmodel", StringComparison.OrdinalIgnoreCase) && Lexemes.IsWhiteSpace(source[i + 7]))
        {
            i = SkipWhiteSpace(source, i + 7);
        }
        else if (!keywordOptional)
        {
            return null;
        }
        var j = Math.Min(SkipWord(source, i), end);
        return j > i ? OperationTable.Find(source[i..j]) : null;
    }

    private static string Describe(string s, int offset) => s[offset] switch
    {
        '\n' or '\r' => "line break",
        '\t' => "tab",
        ' ' => "space",
        '\'' => "quote (')",
        '"' => "double quote (\")",
        var c when char.IsHighSurrogate(c) && offset + 1 < s.Length && char.IsLowSurrogate(s[offset + 1]) => string.Concat("'", s.AsSpan(offset, 2), "'"),
        var c when Display.NeedsEscape(c) => "character " + Display.CodePoint(c),
        var c => $"'{c}'",
    };

    private static string JoinOr(List<string> items) =>
        items.Count == 1 ? items[0] : string.Join(", ", items.Take(items.Count - 1)) + " or " + items[^1];
}

/// <summary>How user text is shown inside messages: short, and with invisible characters made visible.</summary>
internal static class Display
{
    public const int MaxShown = 40;

    /// <summary>Control, format and separator characters, lone surrogates and odd spaces print as <c>\uXXXX</c>.</summary>
    public static bool NeedsEscape(char c) =>
        c != ' ' && (char.IsControl(c) || char.IsSurrogate(c) || CharUnicodeInfo.GetUnicodeCategory(c) is
            UnicodeCategory.Format or UnicodeCategory.SpaceSeparator or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
            or UnicodeCategory.OtherNotAssigned or UnicodeCategory.PrivateUse);

    /// <summary>The first character of <paramref name="text"/> that <see cref="NeedsEscape"/>, if any.</summary>
    public static char? FirstInvisible(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (NeedsEscape(c))
            {
                return c;
            }
        }
        return null;
    }

    /// <summary>The first character of a would-be key or operation that is not ASCII, if any.</summary>
    public static char? FirstNonAscii(string text)
    {
        var i = text.AsSpan().IndexOfAnyExceptInRange('\0', '\u007F');
        return i < 0 ? null : text[i];
    }

    public static string CodePoint(char c) => "U+" + ((int)c).ToString("X4", CultureInfo.InvariantCulture);

    /// <summary>Up to <see cref="MaxShown"/> characters of <paramref name="text"/>, escaped, with "..." when cut.</summary>
    public static string Word(string text) => Escape(text, MaxShown);

    /// <summary><paramref name="text"/> with invisible characters escaped, cut after <paramref name="max"/> characters.</summary>
    public static string Escape(string text, int max = int.MaxValue)
    {
        var cut = text.Length > max;
        var length = cut ? max : text.Length;
        if (cut && char.IsHighSurrogate(text[length - 1]))
        {
            length--;
        }
        StringBuilder? sb = null;
        for (var i = 0; i < length; i++)
        {
            var c = text[i];
            var paired = char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])
                || char.IsLowSurrogate(c) && i > 0 && char.IsHighSurrogate(text[i - 1]);
            if (!paired && NeedsEscape(c))
            {
                sb ??= new StringBuilder(text, 0, i, length + 16);
                sb.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
            else
            {
                sb?.Append(c);
            }
        }
        var shown = sb?.ToString() ?? (length == text.Length ? text : text[..length]);
        return cut ? shown + "..." : shown;
    }
}

/// <summary>Where a syntax error happened, as <see cref="SyntaxErrors"/> reads it from Pidgin's error.</summary>
internal static class SyntaxTags
{
    public const string Keyword = "keyword";
    public const string AfterKeyword = "after-keyword";
    public const string AfterOperation = "after-operation";
    public const string AfterWord = "after-word";
    public const string AfterBare = "after-bare";
    public const string AfterQuoted = "after-quoted";
    public const string AfterBase64 = "after-base64";
    public const string UnclosedQuote = "unclosed-quote";
    public const string UnclosedBase64 = "unclosed-base64";
    public const string Pipe = "pipe";
}
