using System.Text;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Syntax;

namespace MlModel.Dsl.Execution.Archives;

/// <summary>
/// The rules an entry name of a model archive (or a file of a model folder) must pass before
/// any store sees it, and how names are shown in messages.
/// </summary>
/// <remarks>
/// The store would refuse some of these names itself, but too late and in its own words: a name
/// component over 255 bytes failed in the local store with the file system's error, which names
/// the store's absolute path on the server.
/// </remarks>
internal static class ArchiveNames
{
    /// <summary>The longest name of one file or folder, in UTF-8 bytes (NAME_MAX of Linux file systems, and of most others).</summary>
    public const int MaxComponentBytes = 255;

    /// <summary>How many characters of a name a message shows.</summary>
    private const int MaxShown = 200;

    /// <summary>A name for messages: invisible characters escaped (<c>\u001B</c>), shortened with "..." past 200 characters.</summary>
    public static string Show(string name) => Display.Escape(name, MaxShown);

    /// <summary>
    /// An entry name as a safe relative path: '/'-separated, no '.' segments; never absolute,
    /// '..', backslash or control characters, nor longer or deeper than a store holds (those
    /// are refused, not repaired). "" for the archive's root ("./").
    /// </summary>
    /// <param name="name">The entry's name as the archive gives it.</param>
    /// <param name="keyPrefix">The store prefix the path goes under, whose length counts towards the key limit.</param>
    /// <param name="limits">The limits, for the depth.</param>
    public static string Check(string name, string keyPrefix, ArchiveLimits limits)
    {
        if (name.Length == 0)
        {
            return "";
        }
        foreach (var c in name)
        {
            if (char.IsControl(c))
            {
                // ESC, CR, LF and the like would drive a terminal that prints the name.
                throw new ArchiveException($"entry '{Show(name)}' has a control character in its name");
            }
        }
        if (name[0] == '/' || name.Contains('\\') || (name.Length > 1 && name[1] == ':'))
        {
            throw new ArchiveException($"entry '{Show(name)}' has an absolute or unsafe path");
        }
        var segments = new List<string>();
        foreach (var segment in name.Split('/'))
        {
            if (segment is "" or ".")
            {
                continue; // "./x", "dir/" and "a//b" are harmless spellings
            }
            if (segment == "..")
            {
                throw new ArchiveException($"entry '{Show(name)}' climbs out of the archive with '..'");
            }
            var bytes = Encoding.UTF8.GetByteCount(segment);
            if (bytes > MaxComponentBytes)
            {
                throw new ArchiveException($"entry '{Show(name)}' has a file or folder name of {bytes:N0} bytes; the limit is {MaxComponentBytes} bytes of UTF-8");
            }
            segments.Add(segment);
        }
        if (segments.Count > limits.MaxPathDepth)
        {
            throw new ArchiveException($"entry '{Show(name)}' is {segments.Count:N0} levels deep; the limit is {limits.MaxPathDepth:N0}");
        }
        var path = string.Join('/', segments);
        var keyBytes = Encoding.UTF8.GetByteCount(keyPrefix) + Encoding.UTF8.GetByteCount(path);
        if (keyBytes > ObjectKeyRules.MaxKeyBytes)
        {
            throw new ArchiveException($"entry '{Show(name)}' has a path too long to store: its key '{Show(keyPrefix)}...' would take {keyBytes:N0} bytes; the limit is {ObjectKeyRules.MaxKeyBytes:N0} bytes of UTF-8");
        }
        return path;
    }
}
