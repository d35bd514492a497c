namespace MlModel.Dsl.Binding;

/// <summary>The name rules of spec B.2, checked before a name reaches a path, a key or SQL.</summary>
internal static class Names
{
    public const string Rule =
        "a name is 1 to 128 letters, digits, '_', '.' or '-', starting with a letter or digit";

    public const string LabelRule =
        "a label is 1 to 64 ASCII letters, digits, '_', '.' or '-', starting with a letter";

    public static bool IsValid(string name)
    {
        if (name.Length is 0 or > 128 || !char.IsLetterOrDigit(name[0]))
        {
            return false;
        }
        foreach (var c in name)
        {
            if (!(char.IsLetterOrDigit(c) || c is '_' or '.' or '-'))
            {
                return false;
            }
        }
        // Letters and digits only from the BMP's ordinary classes: surrogates (emoji) are not
        // letters, so they are already out. ".." cannot start a name; inside it is harmless
        // ("a..b" is one path segment), but we refuse it to keep names boring.
        return !name.Contains("..", StringComparison.Ordinal);
    }

    public static bool IsValidLabel(string label)
    {
        if (label.Length is 0 or > 64 || !char.IsAsciiLetter(label[0]))
        {
            return false;
        }
        foreach (var c in label)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-'))
            {
                return false;
            }
        }
        return true;
    }
}
