namespace MlModel.Dsl.Syntax;

/// <summary>Splits a host query into its pipe stages without looking inside strings.</summary>
internal static class QuerySplitter
{
    // A `|` inside '...', "..." (the host's strings) or base64(...) does not split. Unclosed
    // quotes run to the end: the stage's own parser then reports them with a position.
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
            if ((c is 'b' or 'B') && query.AsSpan(i).StartsWith("base64(", StringComparison.OrdinalIgnoreCase)
                && (i == 0 || !MlModelGrammar.IsBareChar(query[i - 1])))
            {
                var close = query.IndexOf(')', i);
                i = close < 0 ? query.Length : close + 1;
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
}
