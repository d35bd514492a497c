using MlModel.Dsl;
using MlModel.Dsl.Syntax;

namespace MlModel.Cli;

/// <summary>One command of a script: <c>[Start, End)</c> of the text, trimmed, and where it starts.</summary>
/// <param name="Start">Offset of its first character.</param>
/// <param name="End">Offset just past its last character.</param>
/// <param name="Line">1-based line of <paramref name="Start"/>.</param>
/// <param name="Column">1-based column of <paramref name="Start"/>.</param>
/// <param name="HasPipe">Whether it holds an unquoted <c>|</c>: a host query, not one command.</param>
/// <param name="EndsWithSeparator">Whether a <c>;</c> ended it.</param>
internal readonly record struct Statement(int Start, int End, int Line, int Column, bool HasPipe, bool EndsWithSeparator);

/// <summary>
/// What the CLI reads from <c>-c</c>, from standard input and at its prompt: commands (with or
/// without the <c>mlmodel</c> word), host queries (<c>* | mlmodel list</c>) and dsl-objects, each
/// of which may span lines. A command ends
/// <list type="bullet">
/// <item>at an unquoted <c>;</c>,</item>
/// <item>at an empty line,</item>
/// <item>where the next line starts another command: its first word is <c>mlmodel</c>, <c>serving</c>, an
/// operation (not followed by <c>=</c>), <c>help</c>, <c>exit</c> or <c>quit</c>, or it starts
/// with <c>*</c> or <c>{</c> (a line of key=value pairs, a <c>|</c> or the rest of a dsl-object
/// continues the command above it),</item>
/// <item>at the end of the text.</item>
/// </list>
/// Quotes (<c>'...'</c>, the host's <c>"..."</c>) and <c>base64(...)</c> are skipped whole, so a
/// <c>;</c> or <c>|</c> inside them is text. The prompt, which cannot see the next line, also ends
/// a command at Enter when it is complete (<see cref="IsIncomplete"/>).
/// </summary>
internal static class Script
{
    public static List<Statement> Split(string text)
    {
        var statements = new List<Statement>();
        var start = -1;          // first non-white-space character of the current statement
        var last = -1;           // last non-white-space character of it
        var hasPipe = false;
        var depth = 0;           // { } nesting of a dsl-object
        var lineHasText = false; // the current line holds something besides white space
        var i = 0;
        // Where statements start, counted on from the previous one's start (not from 0 each time).
        int at = 0, atLine = 1, atColumn = 1;

        void Close(bool separator)
        {
            if (start >= 0)
            {
                var (dl, dc) = Position(text[at..start], start - at);
                (atLine, atColumn) = dl == 1 ? (atLine, atColumn + dc - 1) : (atLine + dl - 1, dc);
                at = start;
                statements.Add(new Statement(start, last + 1, atLine, atColumn, hasPipe, separator));
            }
            start = -1;
            last = -1;
            hasPipe = false;
            depth = 0;
        }

        while (i < text.Length)
        {
            var c = text[i];
            if (c is '\n' or '\r')
            {
                var lineEnd = c == '\r' && i + 1 < text.Length && text[i + 1] == '\n' ? i + 2 : i + 1;
                if (!lineHasText && start >= 0)
                {
                    // A line of white space only: the command above it ends here.
                    Close(separator: false);
                }
                lineHasText = false;
                i = lineEnd;
                if (start >= 0 && depth == 0 && StartsCommand(text, i))
                {
                    Close(separator: false);
                }
                continue;
            }
            if (MlModelLexicon.IsWhiteSpace(c))
            {
                i++;
                continue;
            }

            lineHasText = true;
            if (c == ';' && depth == 0)
            {
                if (start < 0)
                {
                    // An empty command (";" alone, or ";;"): nothing to run.
                    i++;
                    continue;
                }
                Close(separator: true);
                i++;
                continue;
            }

            if (start < 0)
            {
                start = i;
            }
            var next = Skip(text, i);
            if (c == '|' && depth == 0)
            {
                hasPipe = true;
            }
            else if (c == '{' && text[start] == '{')
            {
                depth++;
            }
            else if (c == '}' && depth > 0)
            {
                depth--;
            }
            last = next - 1;
            while (last > i && MlModelLexicon.IsWhiteSpace(text[last]))
            {
                last--;
            }
            i = next;
        }
        Close(separator: false);
        return statements;
    }

    /// <summary>Past the token at <paramref name="i"/>: a quoted string, base64(...) or one character.</summary>
    private static int Skip(string text, int i)
    {
        var c = text[i];
        if (c == '\'')
        {
            // The language's quoted string ends at the next quote or, unclosed, at the line's end
            // (the parser reports it there).
            var j = i + 1;
            while (j < text.Length && text[j] is not ('\'' or '\n' or '\r'))
            {
                j++;
            }
            return j < text.Length && text[j] == '\'' ? j + 1 : j;
        }
        if (c == '"')
        {
            // The host's strings and a dsl-object's JSON strings, with JSON's backslash escapes.
            var j = i + 1;
            while (j < text.Length && text[j] is not ('"' or '\n' or '\r'))
            {
                j += text[j] == '\\' && j + 1 < text.Length ? 2 : 1;
            }
            return j < text.Length && text[j] == '"' ? j + 1 : Math.Min(j, text.Length);
        }
        if (c is 'b' or 'B' && text.AsSpan(i).StartsWith("base64(", StringComparison.OrdinalIgnoreCase)
            && (i == 0 || !MlModelLexicon.IsBareChar(text[i - 1])))
        {
            var close = text.IndexOf(')', i);
            return close < 0 ? text.Length : close + 1;
        }
        return i + 1;
    }

    /// <summary>Whether the line at <paramref name="i"/> starts a command of its own.</summary>
    private static bool StartsCommand(string text, int i)
    {
        while (i < text.Length && text[i] is ' ' or '\t')
        {
            i++;
        }
        if (i >= text.Length)
        {
            return false;
        }
        if (text[i] is '*' or '{')
        {
            return true;
        }
        var j = i;
        while (j < text.Length && MlModelLexicon.IsBareChar(text[j]))
        {
            j++;
        }
        var word = text[i..j];
        if (word.Length == 0)
        {
            return false;
        }
        var k = j;
        while (k < text.Length && text[k] is ' ' or '\t')
        {
            k++;
        }
        var isKey = k < text.Length && text[k] == '=';
        return MlModelLanguage.FindCommand(word) is not null
            || (!isKey && (MlModelLanguage.Find(word) is not null || word is "help" or "exit" or "quit" or "--help" or "-h"));
    }

    /// <summary>
    /// The text of <paramref name="s"/> laid where it stands in <paramref name="text"/>: line
    /// breaks and spaces in front, so that a parser counting from the start of what it is given
    /// counts lines and columns as the user does, without copying the rest of the text.
    /// </summary>
    public static string InPlace(string text, Statement s) =>
        string.Concat(new string('\n', s.Line - 1), new string(' ', s.Column - 1), text.AsSpan(s.Start, s.End - s.Start));

    /// <summary>1-based line and column of <paramref name="offset"/>, counted as the library counts them (CR LF, CR and LF each end a line).</summary>
    public static (int Line, int Column) Position(string text, int offset)
    {
        int line = 1, column = 1;
        for (var i = 0; i < offset && i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\n' || (c == '\r' && (i + 1 >= text.Length || text[i + 1] != '\n')))
            {
                line++;
                column = 1;
            }
            else if (c != '\r')
            {
                column++;
            }
        }
        return (line, column);
    }

    /// <summary>
    /// Whether the prompt should read another line for the command rather than run it: its error
    /// is one that more text could mend (a missing parameter, a key whose value is on the next
    /// line, text that ends inside base64(...) or a dsl-object).
    /// </summary>
    public static bool IsIncomplete(string text, Statement s, MlModelError error)
    {
        if (error.Code == ErrorCodes.MissingParameter)
        {
            return true;
        }
        if (error.Code == ErrorCodes.MissingValue)
        {
            return text[s.End - 1] == '=';
        }
        if (error.Code is ErrorCodes.Syntax or ErrorCodes.InvalidJson && error.Line is int line && error.Column is int column)
        {
            // At the end of the text, but not a quoted string left open: one cannot span lines,
            // so the next line would not close it.
            // (System.Text.Json reports the end of data at the last character, the grammar past it.)
            var (endLine, endColumn) = Position(text, error.Code == ErrorCodes.InvalidJson ? s.End - 1 : s.End);
            return (line, column).CompareTo((endLine, endColumn)) >= 0 && !HasUnclosedQuote(text, s);
        }
        return false;
    }

    private static bool HasUnclosedQuote(string text, Statement s)
    {
        for (var i = s.Start; i < s.End;)
        {
            var next = Skip(text, i);
            if (text[i] == '\'' && (next > s.End || text[next - 1] != '\'' || next == i + 1))
            {
                return true;
            }
            i = next;
        }
        return false;
    }
}
