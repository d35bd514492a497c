using System.Buffers;
using System.Text;
using Pidgin;

namespace MlModel.Dsl.Syntax;

/// <summary>
/// The lexical rules of the language (spec B.1, <c>grammar/mlmodel.ebnf</c> section 1), in one
/// place: which characters are white space, which end a bare word, how far a quoted string,
/// <c>base64(...)</c>, a tuple or a list runs, and how a text is written as a value. The grammar,
/// the canonical rendering, the query splitter, the error messages and the CLI all read them here.
/// </summary>
public static class MlModelLexicon
{
    /// <summary>White space: space, tab, CR and LF, nothing else (a no-break space is part of a word).</summary>
    internal static readonly SearchValues<char> WhiteSpace = SearchValues.Create(" \t\r\n");

    // Spec B.1: a bare word is any run of characters other than white space and these seven.
    internal static readonly SearchValues<char> NonBare = SearchValues.Create(" \t\r\n'\"=|(),");

    // A single-quoted string ends at the next quote; it cannot hold a line break.
    private static readonly SearchValues<char> QuotedEnd = SearchValues.Create("'\r\n");

    /// <summary>Whether <paramref name="c"/> is white space: space, tab, CR or LF.</summary>
    public static bool IsWhiteSpace(char c) => c is ' ' or '\t' or '\r' or '\n';

    /// <summary>
    /// Whether <paramref name="c"/> may be part of a bare word: anything but white space and
    /// <c>' " = | ( ) ,</c>.
    /// </summary>
    public static bool IsBareChar(char c) => !NonBare.Contains(c);

    /// <summary>
    /// Whether <paramref name="text"/> can be written as it is, as one bare word: it is not
    /// empty and holds only bare characters. The grammar then reads it back as exactly that word,
    /// wherever a value may stand (a list starts with <c>[</c> and <c>(</c>, which no bare word holds).
    /// </summary>
    public static bool IsBareWord(ReadOnlySpan<char> text) => !text.IsEmpty && !text.ContainsAny(NonBare);

    /// <summary>
    /// <paramref name="text"/> written as a value that reads back as exactly that text: a bare word
    /// when it is one, else a single-quoted string, else (it holds a quote or a line break)
    /// <c>base64(...)</c> of its UTF-8 bytes.
    /// </summary>
    public static string FormatValue(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (IsBareWord(text))
        {
            return text;
        }
        var sb = new StringBuilder(text.Length + 2);
        AppendValue(sb, text);
        return sb.ToString();
    }

    /// <summary>Appends <paramref name="text"/> as <see cref="FormatValue"/> writes it.</summary>
    internal static void AppendValue(StringBuilder sb, string text)
    {
        if (IsBareWord(text))
        {
            sb.Append(text);
        }
        else if (!text.AsSpan().ContainsAny(QuotedEnd))
        {
            sb.Append('\'').Append(text).Append('\'');
        }
        else
        {
            sb.Append("base64(").Append(Convert.ToBase64String(Encoding.UTF8.GetBytes(text))).Append(')');
        }
    }

    /// <summary>
    /// Shell words (a program's <c>argv</c>) back to command text, for a command line such as
    /// <c>mlmodel deploy name=mnist "label=CNN wineQ model"</c>. The shell has removed its own
    /// quotes, so in a <c>key=value</c> word a value that is not already a whole value of the
    /// language (a bare word, <c>'quoted'</c>, <c>base64(...)</c>, a tuple or a list) is written as
    /// one (<see cref="FormatValue"/>): <c>label='CNN wineQ model'</c>. Other words (the command
    /// and operation words, a positional name) are kept as they are. The words are joined with
    /// single spaces; nothing is added, so the text is read with or without its <c>mlmodel</c>
    /// word as the caller chooses (<see cref="MlModelParser.Parse(string, bool)"/>).
    /// </summary>
    /// <param name="arguments">The words, such as <c>["deploy", "name=mnist", "label=CNN wineQ model"]</c>.</param>
    /// <returns>The command text, such as <c>deploy name=mnist label='CNN wineQ model'</c>.</returns>
    public static string FromArguments(string[] arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        var sb = new StringBuilder();
        foreach (var word in arguments)
        {
            ArgumentNullException.ThrowIfNull(word, nameof(arguments));
            if (sb.Length > 0)
            {
                sb.Append(' ');
            }
            var eq = word.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                sb.Append(word);
                continue;
            }
            var value = word[(eq + 1)..];
            sb.Append(word, 0, eq + 1);
            if (IsWholeValue(value))
            {
                sb.Append(value);
            }
            else
            {
                AppendValue(sb, value);
            }
        }
        return sb.ToString();
    }

    /// <summary>Whether the grammar reads all of <paramref name="text"/> as one value, in any form.</summary>
    internal static bool IsWholeValue(string text) => MlModelGrammar.WholeValue.Parse(text).Success;

    // ---- Scanners: how far a token runs, as the grammar reads it. The query splitter and the
    // error messages look at text the grammar has not accepted (or not yet seen), so each also
    // says where an unclosed token stops.

    /// <summary>The offset of the first character at or after <paramref name="i"/> that is not white space.</summary>
    internal static int SkipWhiteSpace(string s, int i)
    {
        var n = s.AsSpan(i).IndexOfAnyExcept(WhiteSpace);
        return n < 0 ? s.Length : i + n;
    }

    /// <summary>The offset just past the bare word (possibly empty) that starts at <paramref name="i"/>.</summary>
    internal static int SkipWord(string s, int i)
    {
        var n = s.AsSpan(i).IndexOfAny(NonBare);
        return n < 0 ? s.Length : i + n;
    }

    /// <summary>Whether a <c>base64(</c> (in any case) starts at <paramref name="i"/>, as a word of its own.</summary>
    internal static bool StartsBase64(string s, int i) =>
        s.AsSpan(i).StartsWith("base64(", StringComparison.OrdinalIgnoreCase) && (i == 0 || !IsBareChar(s[i - 1]));

    /// <summary>Whether a list starts at <paramref name="i"/>: <c>[</c>, optional white space, then <c>(</c>.</summary>
    internal static bool StartsList(string s, int i) =>
        i < s.Length && s[i] == '[' && SkipWhiteSpace(s, i + 1) is var j && j < s.Length && s[j] == '(';

    /// <summary>
    /// The offset just past the quoted string that starts at <paramref name="i"/> (a quote); an
    /// unclosed one stops at the line break or the end that cut it.
    /// </summary>
    internal static int QuotedStringEnd(string s, int i)
    {
        var n = s.AsSpan(i + 1).IndexOfAny(QuotedEnd);
        return n < 0 ? s.Length : s[i + 1 + n] == '\'' ? i + n + 2 : i + 1 + n;
    }

    /// <summary>The offset just past the <c>base64(...)</c> that starts at <paramref name="i"/>, or the end when it is not closed.</summary>
    internal static int Base64End(string s, int i)
    {
        var close = s.IndexOf(')', i + 7);
        return close < 0 ? s.Length : close + 1;
    }

    /// <summary>
    /// The offset just past the tuple that starts at <paramref name="i"/> (a <c>(</c>): its
    /// <c>)</c>, quoted items skipped whole. An unclosed one runs to the end, so that a <c>|</c>
    /// inside it does not end the command there; the grammar then says what is wrong with it.
    /// </summary>
    internal static int TupleEnd(string s, int i)
    {
        var j = i + 1;
        while (j < s.Length && s[j] != ')')
        {
            j = s[j] == '\'' ? QuotedStringEnd(s, j) : j + 1;
        }
        return Math.Min(j + 1, s.Length);
    }

    /// <summary>The offset just past the list that starts at <paramref name="i"/> (a <c>[</c>): its <c>]</c>, tuples skipped whole; or the end.</summary>
    internal static int ListEnd(string s, int i)
    {
        var j = i + 1;
        while (j < s.Length && s[j] != ']')
        {
            j = s[j] switch
            {
                '(' => TupleEnd(s, j),
                '\'' => QuotedStringEnd(s, j),
                _ => j + 1,
            };
        }
        return Math.Min(j + 1, s.Length);
    }

    /// <summary>
    /// The offset just past the value that starts at <paramref name="i"/>, in whichever form it
    /// is written; an unclosed quoted string, <c>base64(</c>, tuple or list stops where the
    /// grammar had to stop reading it.
    /// </summary>
    internal static int ValueEnd(string s, int i)
    {
        if (i >= s.Length)
        {
            return i;
        }
        return s[i] switch
        {
            '\'' => QuotedStringEnd(s, i),
            '(' => TupleEnd(s, i),
            '[' when StartsList(s, i) => ListEnd(s, i),
            'b' or 'B' when StartsBase64(s, i) => Base64End(s, i),
            _ => SkipWord(s, i),
        };
    }
}
