namespace MlModel.Dsl.Binding;

/// <summary>The name rules of spec B.2, checked before a name reaches a path, a key or SQL.</summary>
internal static class Names
{
    public const string Rule =
        "a name is 1 to 128 letters, digits, '_', '.' or '-', starting with a letter or digit";

    /// <summary>Spec B.6: a label is free text (IRIS's 'CNN wineQ model'), written into TensorFlow Serving's
    /// <c>version_labels</c> (a <c>map&lt;string, int64&gt;</c>) exactly; only what cannot be shown on one line is kept out.</summary>
    public const string LabelRule =
        "a label is 1 to 128 characters of text without control characters";

    public const int MaxLabelLength = 128;

    /// <remarks>
    /// Letters and digits are Unicode's (<see cref="System.Text.Rune"/>, so a letter outside the
    /// BMP counts as one letter, and a lone surrogate is no letter). The length is counted in
    /// UTF-16 characters, as columns are. <c>..</c> inside a name (<c>a..b</c>) is allowed, as
    /// spec B.2 says: a name is always one path segment, and it cannot start with a dot.
    /// </remarks>
    public static bool IsValid(string name)
    {
        if (name.Length is 0 or > 128)
        {
            return false;
        }
        var first = true;
        foreach (var c in name)
        {
            // The common case, ASCII, without decoding runes.
            if (char.IsAsciiLetterOrDigit(c) || (!first && c is '_' or '.' or '-'))
            {
                first = false;
                continue;
            }
            if (c < 0x80)
            {
                return false;
            }
            return IsValidUnicode(name);
        }
        return true;
    }

    private static bool IsValidUnicode(string name)
    {
        var first = true;
        var span = name.AsSpan();
        while (!span.IsEmpty)
        {
            if (System.Text.Rune.DecodeFromUtf16(span, out var rune, out var used) != System.Buffers.OperationStatus.Done)
            {
                return false;
            }
            if (!(System.Text.Rune.IsLetterOrDigit(rune) || (!first && rune.Value is '_' or '.' or '-')))
            {
                return false;
            }
            first = false;
            span = span[used..];
        }
        return true;
    }

    /// <summary>The first control character of <paramref name="label"/> (Unicode's Cc: C0, DEL, C1), if any.</summary>
    /// <remarks>
    /// A tab or a line break would end the label where a person reads it (a table cell, the
    /// config file, a log line); everything else, quotes, '/', spaces and any script included,
    /// travels: the config writer escapes it and the REST client URL-encodes it.
    /// </remarks>
    public static char? FirstControl(string label)
    {
        foreach (var c in label)
        {
            if (char.IsControl(c))
            {
                return c;
            }
        }
        return null;
    }
}
