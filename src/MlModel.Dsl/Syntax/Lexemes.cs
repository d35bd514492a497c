using MlModel.Dsl.Binding;

namespace MlModel.Dsl.Syntax;

/// <summary>
/// The cache of the language's own words, which the grammar's bare words are interned through.
/// The lexical rules themselves are <see cref="MlModelLexicon"/>'s.
/// </summary>
internal static class Lexemes
{
    /// <summary>
    /// Words the language uses everywhere (keys, operations, the closed values). A word equal to
    /// one of them is returned as that string rather than a new one, so a typical command
    /// allocates no key strings, and the binder finds keys by reference. This is a string
    /// cache, not grammar: the syntax still accepts any word. A test checks that every key and
    /// operation of the binder's tables is here.
    /// </summary>
    internal static readonly string[] KnownWords =
    [
        .. CommandTables.All.SelectMany(t => t.Operations
            .SelectMany(o => o.Parameters.SelectMany(p => (p.Values ?? []).Prepend(p.Key)).Prepend(o.Name))
            .Prepend(t.Command))
            .Concat(["stable", "unstable", "classification", "regression", "deep", "root", "demo", "feature", "features"])
            .Distinct(StringComparer.Ordinal),
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
}
