using System.Buffers;

namespace MlModel.Dsl.Syntax;

/// <summary>
/// The character classes of the lexical rules (<c>grammar/mlmodel.ebnf</c>, section 1) and the
/// cache of the language's own words. <see cref="MlModelGrammar"/> builds its lexemes from these;
/// the binder and the error translator use the same classes.
/// </summary>
internal static class Lexemes
{
    internal static readonly SearchValues<char> WhiteSpace = SearchValues.Create(" \t\r\n");

    // Spec B.1: a bare word is any run of characters other than these.
    internal static readonly SearchValues<char> NonBare = SearchValues.Create(" \t\r\n'\"=|(),");

    /// <summary>
    /// Words the language uses everywhere (keys, operations, the closed values). A word equal to
    /// one of them is returned as that string rather than a new one, so a typical command
    /// allocates no key strings, and the binder finds keys by reference. This is a string
    /// cache, not grammar: the syntax still accepts any word. A test checks that every key and
    /// operation of the binder's tables is here.
    /// </summary>
    internal static readonly string[] KnownWords =
    [
        "mlmodel", "list", "summary", "delete", "import", "export", "deploy", "stop", "history", "status", "check",
        "user", "name", "version", "analysis_tool", "kind", "algorithm", "format", "connector_id", "path",
        "description", "parameter", "label", "serving", "repair",
        "tf", "spark", "saved_model", "h5", "on", "off", "true", "false", "stable", "unstable",
        "classification", "regression", "deep", "root", "demo",
    ];

    // KnownWords by length: a FrozenSet lookup hashes the span (about 30 ns); comparing a few
    // candidates of the same length and first letter costs a few.
    private static readonly string[][] KnownByLength = BuildKnownByLength();

    private static string[][] BuildKnownByLength()
    {
        var max = KnownWords.Max(w => w.Length);
        var buckets = new string[max + 1][];
        for (var length = 0; length <= max; length++)
        {
            buckets[length] = [.. KnownWords.Where(w => w.Length == length)];
        }
        return buckets;
    }

    internal static string Intern(ReadOnlySpan<char> word)
    {
        if (word.Length < KnownByLength.Length)
        {
            foreach (var known in KnownByLength[word.Length])
            {
                if (known[0] == word[0] && word.SequenceEqual(known))
                {
                    return known;
                }
            }
        }
        return word.ToString();
    }

    internal static bool IsWhiteSpace(char c) => c is ' ' or '\t' or '\r' or '\n';

    internal static bool IsBareChar(char c) => !NonBare.Contains(c);
}
