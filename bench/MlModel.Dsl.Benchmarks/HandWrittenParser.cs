using MlModel.Dsl.Syntax;

namespace MlModel.Dsl.Benchmarks;

/// <summary>
/// The baseline: a minimal hand-written span-based parser of the same <c>mlmodel op key=value</c>
/// syntax (bare words, single-quoted strings, <c>base64(...)</c>, white space around <c>=</c>,
/// a positional word, a <c>|</c> ends the command) that builds the same <see cref="CommandSyntax"/>.
/// It is the practical limit: one pass, no backtracking, no error reporting beyond "it failed".
/// </summary>
internal static class HandWrittenParser
{
    public static CommandSyntax Parse(string text)
    {
        var s = text.AsSpan();
        var i = SkipWhiteSpace(s, 0);
        var start = i;
        if (!s[i..].StartsWith("mlmodel", StringComparison.OrdinalIgnoreCase))
        {
            throw new FormatException("expected mlmodel");
        }
        i += 7;
        if (i < s.Length && !MlModelLexicon.IsWhiteSpace(s[i]))
        {
            throw new FormatException("expected white space");
        }
        i = SkipWhiteSpace(s, i);
        var operationOffset = i;
        var operation = text[i..(i = EndOfWord(s, i))];
        if (operation.Length == 0)
        {
            throw new FormatException("expected an operation");
        }

        var parameters = new List<ParameterSyntax>(8);
        while (true)
        {
            i = SkipWhiteSpace(s, i);
            if (i == s.Length || s[i] == '|')
            {
                break;
            }
            var keyOffset = i;
            var wordEnd = EndOfWord(s, i);
            if (wordEnd == i)
            {
                throw new FormatException("expected a parameter");
            }
            var j = SkipWhiteSpace(s, wordEnd);
            if (j < s.Length && s[j] == '=')
            {
                var key = text[keyOffset..wordEnd];
                i = SkipWhiteSpace(s, j + 1);
                if (i == s.Length || s[i] == '|')
                {
                    parameters.Add(new ParameterSyntax(key, keyOffset, null));
                    break;
                }
                parameters.Add(new ParameterSyntax(key, keyOffset, ReadValue(text, ref i)));
            }
            else
            {
                var word = text[keyOffset..wordEnd];
                parameters.Add(new ParameterSyntax(null, keyOffset, new ValueSyntax(ValueForm.Bare, word, keyOffset)));
                i = wordEnd;
            }
            if (i < s.Length && !MlModelLexicon.IsWhiteSpace(s[i]) && s[i] != '|')
            {
                throw new FormatException("expected white space");
            }
        }
        return new CommandSyntax(operation, operationOffset, parameters, start, i);
    }

    private static ValueSyntax ReadValue(string text, ref int i)
    {
        var s = text.AsSpan();
        var offset = i;
        if (s[i] == '\'')
        {
            var close = s[(i + 1)..].IndexOfAny('\'', '\r', '\n');
            if (close < 0 || s[i + 1 + close] != '\'')
            {
                throw new FormatException("unclosed quote");
            }
            var value = text.Substring(i + 1, close);
            i += close + 2;
            return new ValueSyntax(ValueForm.Quoted, value, offset);
        }
        if (s[i..].StartsWith("base64(", StringComparison.OrdinalIgnoreCase))
        {
            var close = s[(i + 7)..].IndexOf(')');
            if (close < 0)
            {
                throw new FormatException("unclosed base64(");
            }
            var value = text.Substring(i + 7, close);
            i += close + 8;
            return new ValueSyntax(ValueForm.Base64, value, offset);
        }
        var end = EndOfWord(s, i);
        if (end == i)
        {
            throw new FormatException("expected a value");
        }
        var word = text[i..end];
        i = end;
        return new ValueSyntax(ValueForm.Bare, word, offset);
    }

    private static int SkipWhiteSpace(ReadOnlySpan<char> s, int i)
    {
        while (i < s.Length && MlModelLexicon.IsWhiteSpace(s[i]))
        {
            i++;
        }
        return i;
    }

    private static int EndOfWord(ReadOnlySpan<char> s, int i)
    {
        while (i < s.Length && MlModelLexicon.IsBareChar(s[i]))
        {
            i++;
        }
        return i;
    }
}
