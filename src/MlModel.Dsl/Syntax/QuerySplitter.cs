namespace MlModel.Dsl.Syntax;

/// <summary>Splits a host query into its pipe stages without looking inside strings or values.</summary>
internal static class QuerySplitter
{
    // A `|` inside '...' or "..." (the host's strings, which may span lines), base64(...), or a
    // tuple or list written as a value (after "=") does not split; the lexicon says where each of
    // those ends. Unclosed ones run to the end: the stage's own parser then reports them with a
    // position.
    public static List<(int Start, int End)> Split(string query)
    {
        var stages = new List<(int, int)>();
        var start = 0;
        var i = 0;
        while (i < query.Length)
        {
            var c = query[i];
            if (c is '\'' or '"')
            {
                var close = query.IndexOf(c, i + 1);
                i = close < 0 ? query.Length : close + 1;
                continue;
            }
            if (c is 'b' or 'B' && MlModelLexicon.StartsBase64(query, i))
            {
                i = MlModelLexicon.Base64End(query, i);
                continue;
            }
            if (c is '(' or '[' && AfterEquals(query, start, i) && MlModelLexicon.ValueEnd(query, i) is var end && end > i + 1)
            {
                i = end;
                continue;
            }
            if (c == '|')
            {
                stages.Add((start, i));
                start = i + 1;
            }
            i++;
        }
        stages.Add((start, query.Length));
        return stages;
    }

    private static bool AfterEquals(string query, int start, int i)
    {
        while (i > start && MlModelLexicon.IsWhiteSpace(query[i - 1]))
        {
            i--;
        }
        return i > start && query[i - 1] == '=';
    }
}
