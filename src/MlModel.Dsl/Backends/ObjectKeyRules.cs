using System.Globalization;
using System.Text;

namespace MlModel.Dsl.Backends;

/// <summary>
/// The key rules every object store applies, so that keys move between stores: '/'-separated
/// relative keys without <c>.</c> or <c>..</c> segments, empty segments, backslashes or NUL, at
/// most 1024 bytes of UTF-8 (S3's limit). The local and the S3 store call them on every key and
/// prefix they are given; a host's own <see cref="IObjectStore"/> should too.
/// </summary>
public static class ObjectKeyRules
{
    /// <summary>S3's key length limit, in UTF-8 bytes; applied everywhere so keys move between stores.</summary>
    public const int MaxKeyBytes = 1024;

    /// <summary>Throws <see cref="ErrorCodes.InvalidValue"/> unless <paramref name="key"/> is a valid object key.</summary>
    public static void ValidateKey(string? key)
    {
        if (string.IsNullOrEmpty(key))
        {
            throw Invalid(key ?? "", "a key must not be empty");
        }

        ValidateText(key, key);
        if (key.EndsWith('/'))
        {
            throw Invalid(key, "it ends with '/' (an empty segment)");
        }

        ValidateSegments(key, key);
    }

    /// <summary>
    /// Throws <see cref="ErrorCodes.InvalidValue"/> unless <paramref name="prefix"/> is empty or a valid
    /// key, optionally followed by '/'.
    /// </summary>
    public static void ValidatePrefix(string? prefix)
    {
        if (string.IsNullOrEmpty(prefix))
        {
            return;
        }

        ValidateText(prefix, prefix);
        var body = prefix.EndsWith('/') ? prefix[..^1] : prefix;
        if (body.Length == 0)
        {
            throw Invalid(prefix, "a prefix must not start with '/' (it would be an absolute path)");
        }

        ValidateSegments(body, prefix);
    }

    private static void ValidateText(string text, string shown)
    {
        if (text.Contains('\0', StringComparison.Ordinal))
        {
            throw Invalid(shown, "it contains a NUL character");
        }

        if (text.Contains('\\', StringComparison.Ordinal))
        {
            throw Invalid(shown, "it contains a backslash (keys are '/'-separated)");
        }

        if (text.StartsWith('/') || Path.IsPathRooted(text))
        {
            throw Invalid(shown, "it is an absolute path (keys are relative)");
        }

        if (Encoding.UTF8.GetByteCount(text) > MaxKeyBytes)
        {
            throw Invalid(shown, $"it is longer than {MaxKeyBytes} bytes of UTF-8");
        }
    }

    private static void ValidateSegments(string body, string shown)
    {
        foreach (var segment in body.Split('/'))
        {
            switch (segment)
            {
                case "":
                    throw Invalid(shown, "it contains an empty segment ('//')");
                case ".":
                    throw Invalid(shown, "it contains a '.' segment");
                case "..":
                    throw Invalid(shown, "it contains a '..' segment");
            }
        }
    }

    /// <summary>The error for a refused key: <see cref="ErrorCodes.InvalidValue"/>, naming the key (<see cref="Printable"/>) and <paramref name="reason"/>.</summary>
    public static MlModelException Invalid(string key, string reason) =>
        new(ErrorCodes.InvalidValue, $"invalid object key '{Printable(key)}': {reason}");

    /// <summary>The key with control characters escaped as <c>\uXXXX</c>, for messages.</summary>
    public static string Printable(string key)
    {
        if (!key.Any(char.IsControl))
        {
            return key;
        }

        var builder = new StringBuilder(key.Length + 8);
        foreach (var c in key)
        {
            if (char.IsControl(c))
            {
                builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }
}
