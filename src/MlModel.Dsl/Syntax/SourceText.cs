namespace MlModel.Dsl.Syntax;

/// <summary>Turns 0-based offsets into 1-based lines and columns counted in characters.</summary>
internal static class SourceText
{
    // Pidgin's own SourcePos counts a tab as four columns; the spec counts characters, so we
    // work from offsets and count here. CR LF and a lone CR or LF each end a line.
    public static (int Line, int Column) Position(string text, int offset)
    {
        int line = 1, col = 1;
        offset = Math.Clamp(offset, 0, text.Length);
        for (var i = 0; i < offset; i++)
        {
            var c = text[i];
            if (c == '\n' || (c == '\r' && (i + 1 >= text.Length || text[i + 1] != '\n')))
            {
                line++;
                col = 1;
            }
            else if (c != '\r')
            {
                col++;
            }
        }
        return (line, col);
    }
}
