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
    private const string ItemAdvice = "write the item in single quotes ('...')";
    private const string TupleExamples = "such as (12,) or (0, 1, 2)";
    private const string ListExamples = "such as [(12,)] or [(28, 28, 1), (4, 1)]";

    public static MlModelException Translate(ParseError<char> error, string source, int start, int end, bool keywordOptional = false)
    {
        var expected = ExpectedLabels(error);
        var offset = Math.Clamp(start + error.ErrorOffset, start, end);
        if (expected.Contains(SyntaxLabels.Keyword))
        {
            // Pidgin stops where the word stopped matching (the x of mlmodelx); the message shows
            // the whole word, from its start.
            offset = Math.Min(MlModelLexicon.SkipWhiteSpace(source, start), end);
        }
        var atEnd = offset >= end;
        var unexpected = atEnd ? '\0' : source[offset];
        var tag = Where(source, start, offset, atEnd, unexpected, expected);
        var head = HeadOf(source, start, end, keywordOptional);

        // Pidgin forgets what a separated list expected when its separator failed without
        // consuming anything; the closing bracket alone is left. Name the separator (or, after
        // one, the item) again.
        if (tag == SyntaxTags.InTuple && expected is [SyntaxLabels.TupleClose])
        {
            expected = PreviousNonWhiteSpace(source, start, offset) is ',' or '('
                ? [SyntaxLabels.Item, SyntaxLabels.TupleClose]
                : [SyntaxLabels.Comma, SyntaxLabels.TupleClose];
        }
        else if (tag == SyntaxTags.InList && expected is [SyntaxLabels.ListClose])
        {
            expected = [SyntaxLabels.Comma, SyntaxLabels.ListClose];
        }

        // `name= version=1`: the grammar read `version` as name's value and then met '='.
        if (unexpected == '=' && (tag == SyntaxTags.AfterBare || expected.Contains(SyntaxLabels.Parameter))
            && MissingValueKey(source, offset, start) is (string key, int keyOffset))
        {
            return Error(ErrorCodes.MissingValue, head, $"parameter '{Display.Word(key)}' has no value", keyOffset, source,
                $"write {Display.Word(key)}=<value>", null);
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
            SyntaxTags.AfterTuple => " after the tuple",
            SyntaxTags.AfterList => " after the list",
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
        var hint = inKey is not null && head.Spec?.Find(inKey)?.Kind == ParamKind.Version && tag != SyntaxTags.UnclosedQuote
            ? "a version is a whole number from 1 to 2147483647, such as 1000, written without quotes"
            : Hint(source, start, offset, tag, atEnd, unexpected, expected, head);
        if (hint is not null)
        {
            what.Append("; ").Append(hint);
        }
        return new MlModelException(MlModelError.Create(ErrorCodes.Syntax, head.Command, head.Operation, what.ToString(), line, column, expected));
    }

    // The house form, `serving predict: WHAT (line L, column C); HINT`, for the errors the
    // syntax finds before any binder sees the command.
    private static MlModelException Error(string code, CommandHead head, string what, int offset, string source, string hint, IReadOnlyList<string>? expected)
    {
        var (line, column) = SourceText.Position(source, offset);
        return new MlModelException(MlModelError.Create(code, head.Command, head.Operation,
            string.Create(CultureInfo.InvariantCulture, $"{what} (line {line}, column {column}); {hint}"), line, column, expected));
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
    /// its last character (and its first) tell which lexeme it was: a bare word cannot end in a
    /// quote or ')', and a ']' ends a list only when the value began as one.
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
        if (expected.Contains(SyntaxLabels.Item) || expected.Contains(SyntaxLabels.TupleClose))
        {
            return SyntaxTags.InTuple;
        }
        if (expected.Contains(SyntaxLabels.Tuple) || expected.Contains(SyntaxLabels.ListClose))
        {
            return SyntaxTags.InList;
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
                ')' => ValueAt(source, start, offset) is (_, int valueStart) && source[valueStart] == '(' ? SyntaxTags.AfterTuple : SyntaxTags.AfterBase64,
                ']' when ValueAt(source, start, offset) is (_, int valueStart) && MlModelLexicon.StartsList(source, valueStart) => SyntaxTags.AfterList,
                _ => KeyOfValueAt(source, start, offset) is null ? SyntaxTags.AfterOperation : SyntaxTags.AfterBare,
            },
            _ => null,
        };
    }

    private static string? Hint(string source, int start, int offset, string? tag, bool atEnd, char unexpected, List<string> expected, CommandHead head)
    {
        switch (tag)
        {
            case SyntaxTags.Keyword:
                return atEnd ? "a command starts with mlmodel or serving and an operation, such as: mlmodel list" : null;
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
            case SyntaxTags.InTuple:
                return TupleHint(source, start, offset, atEnd, unexpected, expected);
            case SyntaxTags.InList:
                return ListHint(source, start, offset, atEnd, unexpected, expected);
            case SyntaxTags.AfterKeyword:
                var command = CommandWords.Find(PreviousWord(source, start, offset)) ?? CommandWords.MlModel;
                return command == CommandWords.Serving
                    ? "put white space between serving and the operation: serving status name=<model>"
                    : "put white space between mlmodel and the operation: mlmodel list";
            case SyntaxTags.AfterQuoted:
                return "a single-quoted string ends at the next quote and cannot contain one: write text with a quote as base64(...)";
            case SyntaxTags.AfterTuple:
                return "a tuple ends at its ')': put white space before the next parameter";
            case SyntaxTags.AfterList:
                return "a list ends at its ']': put white space before the next parameter";
            case SyntaxTags.Pipe:
                return $"a '|' ends the {head.Command} command and starts the host's next pipeline stage: give the command alone, or parse the whole query with ParseQuery";
        }
        if (tag is SyntaxTags.AfterOperation or SyntaxTags.AfterWord or SyntaxTags.AfterBare
            && Display.FirstInvisible(PreviousWord(source, start, offset)) is char invisible)
        {
            return $"the word before it holds {Display.CodePoint(invisible)}, an invisible character that is not white space here: "
                + "separate words with spaces, tabs or line breaks";
        }
        if (expected.Contains(SyntaxLabels.Operation))
        {
            return "allowed operations: " + string.Join(", ", CommandWords.Operations(head.Command));
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
            case '(' or ',' when tag == SyntaxTags.AfterBare && ValueAt(source, start, offset) is (_, int valueStart) && source[valueStart] == '[':
                return $"a list holds tuples, {ListExamples}; as text, " + Base64Advice;
            case '=' or '(' or ')' or ',' when tag == SyntaxTags.AfterBare || expected.Contains(SyntaxLabels.Value):
                return $"'{unexpected}' cannot appear in a bare word: " + Base64Advice
                    + (unexpected == ',' ? "; parameters are separated by white space, not ','" : "");
            case '=' or '(' or ')' or ',':
                return $"'{unexpected}' cannot appear in a key or a bare word"
                    + (unexpected == ',' ? "; parameters are separated by white space, not ','" : "");
        }
        return null;
    }

    private static string? TupleHint(string source, int start, int offset, bool atEnd, char unexpected, List<string> expected)
    {
        var open = OpeningBracket(source, start, offset, '(', ')');
        var (l, c) = SourceText.Position(source, open);
        var notClosed = $"the tuple that starts at line {l}, column {c} is not closed";
        if (atEnd)
        {
            return notClosed;
        }
        if (offset > start && source[offset - 1] == '\'' && expected.Contains(SyntaxLabels.Comma))
        {
            return "a quoted item ends at the next quote and cannot contain one; items are separated by ','";
        }
        return unexpected switch
        {
            ')' => $"a tuple holds at least one item, {TupleExamples}",
            ',' => $"an item is missing before this ',': a tuple's items are separated by single commas, {TupleExamples}",
            '|' => $"a '|' can appear in a tuple only inside a quoted item ('a|b'); else {notClosed}",
            '"' => "double quotes do not quote in mlmodel: " + ItemAdvice,
            '(' when PreviousWord(source, start, offset).Equals("base64", StringComparison.OrdinalIgnoreCase) =>
                "a tuple item is a number, a word or a quoted string: base64(...) cannot appear in a tuple",
            '(' => $"tuples do not nest; several tuples are written as a list, {ListExamples}",
            '\'' => "a quote cannot appear inside a bare item: " + ItemAdvice,
            '=' => "'=' cannot appear in a bare item: " + ItemAdvice,
            _ when expected.Contains(SyntaxLabels.Comma) => $"separate a tuple's items with ',', {TupleExamples}",
            _ => null,
        };
    }

    private static string? ListHint(string source, int start, int offset, bool atEnd, char unexpected, List<string> expected)
    {
        if (atEnd || unexpected == '|')
        {
            var (l, c) = SourceText.Position(source, OpeningBracket(source, start, offset, '[', ']'));
            return $"the list that starts at line {l}, column {c} is not closed";
        }
        if (expected.Contains(SyntaxLabels.Comma))
        {
            return $"separate the tuples of a list with ',', {ListExamples}";
        }
        return unexpected == ']'
            ? $"a list takes no ',' after its last tuple, {ListExamples}"
            : $"a list holds only tuples, {ListExamples}; a single value needs no list";
    }

    // The bracket that opened the tuple or list the error is in: the last one before the offset
    // that is not closed before it (quoted items skipped).
    private static int OpeningBracket(string s, int start, int offset, char open, char close)
    {
        var candidate = -1;
        var i = start;
        while (i < offset)
        {
            if (s[i] == '\'')
            {
                i = MlModelLexicon.QuotedStringEnd(s, i);
                continue;
            }
            if (s[i] == open)
            {
                candidate = i;
            }
            else if (s[i] == close)
            {
                candidate = -1;
            }
            i++;
        }
        return candidate < 0 ? offset : candidate;
    }

    private static char PreviousNonWhiteSpace(string s, int start, int offset)
    {
        var i = offset;
        while (i > start && MlModelLexicon.IsWhiteSpace(s[i - 1]))
        {
            i--;
        }
        return i > start ? s[i - 1] : '\0';
    }

    // `(user=)?` or `(label='stable')?`, copied from a syntax line: the key inside.
    private static string? OptionalNotation(string s, int offset)
    {
        var i = offset + 1;
        var keyEnd = MlModelLexicon.SkipWord(s, i);
        return keyEnd > i && keyEnd < s.Length && s[keyEnd] == '=' && s.IndexOf(")?", keyEnd, StringComparison.Ordinal) is var close and > 0
            && s.AsSpan(keyEnd, close - keyEnd).IndexOfAny(" \t\r\n") < 0
            ? s[i..keyEnd]
            : null;
    }

    /// <summary>The key whose value contains <paramref name="offset"/> (or ends just before it), if any.</summary>
    private static string? KeyOfValueAt(string source, int start, int offset) => ValueAt(source, start, offset)?.Key;

    /// <summary>
    /// The key whose value contains <paramref name="offset"/> (or ends just before it), and where
    /// that value starts, read the way the grammar reads the command up to there.
    /// </summary>
    private static (string Key, int ValueStart)? ValueAt(string source, int start, int offset)
    {
        var i = MlModelLexicon.SkipWhiteSpace(source, start);
        var first = MlModelLexicon.SkipWord(source, i);
        if (CommandWords.Find(source.AsSpan(i, first - i)) is not null)
        {
            i = MlModelLexicon.SkipWhiteSpace(source, first); // the command word (which a prompt's command may leave out)
            first = MlModelLexicon.SkipWord(source, i);
        }
        i = MlModelLexicon.SkipWhiteSpace(source, first); // the operation
        while (i < offset)
        {
            var wordEnd = MlModelLexicon.SkipWord(source, i);
            if (wordEnd == i)
            {
                return null;
            }
            var j = MlModelLexicon.SkipWhiteSpace(source, wordEnd);
            if (j >= source.Length || source[j] != '=')
            {
                i = MlModelLexicon.SkipWhiteSpace(source, wordEnd);
                continue;
            }
            var key = source[i..wordEnd];
            var valueStart = MlModelLexicon.SkipWhiteSpace(source, j + 1);
            if (offset <= valueStart)
            {
                return offset > j ? (key, valueStart) : null;
            }
            var valueEnd = MlModelLexicon.ValueEnd(source, valueStart);
            if (offset <= valueEnd)
            {
                return (key, valueStart);
            }
            i = MlModelLexicon.SkipWhiteSpace(source, valueEnd);
        }
        return null;
    }

    private static string WordAt(string s, int offset, int end)
    {
        var j = Math.Min(MlModelLexicon.SkipWord(s, offset), Math.Min(end, offset + 40));
        return j == offset ? s[offset].ToString() : s[offset..j];
    }

    private static string PreviousWord(string s, int start, int offset)
    {
        var i = offset;
        while (i > start && MlModelLexicon.IsWhiteSpace(s[i - 1]))
        {
            i--;
        }
        var wordEnd = i;
        while (i > start && MlModelLexicon.IsBareChar(s[i - 1]))
        {
            i--;
        }
        return s[i..wordEnd];
    }

    // From the '=' at `offset`, back over `word`, white space and `key =`: `key= word=`.
    private static (string, int)? MissingValueKey(string source, int offset, int start)
    {
        var i = offset;
        while (i > start && MlModelLexicon.IsWhiteSpace(source[i - 1]))
        {
            i--;
        }
        var wordEnd = i;
        while (i > start && MlModelLexicon.IsBareChar(source[i - 1]))
        {
            i--;
        }
        if (i == wordEnd)
        {
            return null;
        }
        var wordStart = i;
        while (i > start && MlModelLexicon.IsWhiteSpace(source[i - 1]))
        {
            i--;
        }
        if (i == wordStart || i == start || source[i - 1] != '=')
        {
            return null;
        }
        i--;
        while (i > start && MlModelLexicon.IsWhiteSpace(source[i - 1]))
        {
            i--;
        }
        var keyEnd = i;
        while (i > start && MlModelLexicon.IsBareChar(source[i - 1]))
        {
            i--;
        }
        // `key=` must itself start a parameter: white space (or the command's start) before it.
        if (keyEnd == i || (i > start && !MlModelLexicon.IsWhiteSpace(source[i - 1])))
        {
            return null;
        }
        return (source[i..keyEnd], i);
    }

    /// <summary>The command word and the operation, as far as the text shows them: what every message starts with.</summary>
    private readonly record struct CommandHead(string Command, string? Operation, OperationSpec? Spec)
    {
        /// <summary><c>mlmodel deploy: </c>, <c>serving predict: </c>, or <c>mlmodel: </c> when the operation is not known.</summary>
        public string Prefix => Operation is null ? Command + ": " : $"{Command} {Operation}: ";
    }

    private static CommandHead HeadOf(string source, int start, int end, bool keywordOptional = false)
    {
        var i = MlModelLexicon.SkipWhiteSpace(source, start);
        var j = Math.Min(MlModelLexicon.SkipWord(source, i), end);
        var command = j < end && MlModelLexicon.IsWhiteSpace(source[j]) ? CommandWords.Find(source.AsSpan(i, j - i)) : null;
        if (command is not null)
        {
            i = MlModelLexicon.SkipWhiteSpace(source, j);
        }
        else if (keywordOptional)
        {
            command = CommandWords.MlModel;
        }
        else
        {
            return new CommandHead(CommandWords.Find(source.AsSpan(i, j - i)) ?? CommandWords.MlModel, null, null);
        }
        j = Math.Min(MlModelLexicon.SkipWord(source, i), end);
        if (j <= i)
        {
            return new CommandHead(command, null, null);
        }
        var word = source[i..j];
        if (command == CommandWords.MlModel)
        {
            var spec = CommandTables.MlModel.Find(word);
            return new CommandHead(command, spec?.Name, spec);
        }
        return new CommandHead(command, CommandWords.Operation(command, word), null);
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
    public const string InTuple = "in-tuple";
    public const string InList = "in-list";
    public const string AfterTuple = "after-tuple";
    public const string AfterList = "after-list";
    public const string Pipe = "pipe";
}
