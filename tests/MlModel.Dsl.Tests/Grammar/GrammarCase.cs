using System.Globalization;
using System.Text;

namespace MlModel.Dsl.Tests.Grammar;

/// <summary>How a case's input is given to the parser.</summary>
public enum CaseInput
{
    /// <summary>Command text, through <see cref="MlModelParser.Parse"/>.</summary>
    Text,
    /// <summary>A dsl-object, through <see cref="MlModelParser.ParseJson(string)"/>.</summary>
    Json,
    /// <summary>A whole host query, through <see cref="MlModelParser.ParseQuery"/>.</summary>
    Query,
    /// <summary>Command text whose <c>mlmodel</c> may be left out, through <see cref="MlModelParser.Parse(string, bool)"/>.</summary>
    KeywordOptional,
}

/// <summary>
/// One case of <c>grammar/cases/*.txt</c>; the format is described in <c>grammar/cases/README.md</c>.
/// </summary>
public sealed record GrammarCase(
    string File,
    int Line,
    string Name,
    CaseInput Input,
    string Text,
    string? ExpectedJson,
    string? ErrorCode,
    (int Line, int Column)? ErrorPosition,
    string? ErrorMessage,
    string? Before,
    string? After,
    bool SyntaxOnly = false)
{
    /// <summary>NUnit shows this, so a failing case names its file and line.</summary>
    public override string ToString() => $"{File}:{Line} {Name}";

    public bool IsValid => ExpectedJson is not null;

    /// <summary>Reads every case of one file.</summary>
    public static IEnumerable<GrammarCase> Load(string path)
    {
        var file = System.IO.Path.GetFileName(path);
        var lines = System.IO.File.ReadAllText(path).Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var i = 0;
        while (i < lines.Length)
        {
            var line = lines[i];
            if (line.Length == 0 || line.StartsWith("//", StringComparison.Ordinal))
            {
                i++;
                continue;
            }
            if (!line.StartsWith("## ", StringComparison.Ordinal))
            {
                throw new FormatException($"{file}:{i + 1}: expected '## case name', found: {line}");
            }
            var headerLine = i + 1;
            var (name, flags) = Header(line[3..]);
            i++;
            var text = new List<string>();
            while (i < lines.Length && !lines[i].StartsWith("=> ", StringComparison.Ordinal))
            {
                text.Add(lines[i++]);
            }
            if (i == lines.Length)
            {
                throw new FormatException($"{file}:{headerLine}: case '{name}' has no '=> ' line");
            }
            var expectation = lines[i++][3..].Trim();
            var extra = new Dictionary<string, string>();
            while (i < lines.Length && (lines[i].StartsWith("message: ", StringComparison.Ordinal)
                || lines[i].StartsWith("before: ", StringComparison.Ordinal) || lines[i].StartsWith("after: ", StringComparison.Ordinal)
                || lines[i] is "before:" or "after:"))
            {
                var colon = lines[i].IndexOf(':', StringComparison.Ordinal);
                extra[lines[i][..colon]] = lines[i][(colon + 1)..].TrimStart(' ');
                i++;
            }

            var joined = string.Join(flags.Contains("crlf") ? "\r\n" : "\n", text);
            if (flags.Contains("escaped"))
            {
                joined = Unescape(joined);
            }
            var input = flags.Contains("json") ? CaseInput.Json
                : flags.Contains("query") ? CaseInput.Query
                : flags.Contains("keyword-optional") ? CaseInput.KeywordOptional
                : CaseInput.Text;
            if (expectation.StartsWith('{'))
            {
                yield return new GrammarCase(file, headerLine, name, input, joined, expectation, null, null, null,
                    extra.GetValueOrDefault("before"), extra.GetValueOrDefault("after"), flags.Contains("syntax"));
            }
            else if (expectation.StartsWith("error ", StringComparison.Ordinal))
            {
                var parts = expectation.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length != 3 || !extra.TryGetValue("message", out var message))
                {
                    throw new FormatException($"{file}:{headerLine}: an error case is '=> error CODE LINE:COLUMN' (or '-') and a 'message: ' line");
                }
                (int, int)? position = null;
                if (parts[2] != "-")
                {
                    var lc = parts[2].Split(':');
                    position = (int.Parse(lc[0], CultureInfo.InvariantCulture), int.Parse(lc[1], CultureInfo.InvariantCulture));
                }
                yield return new GrammarCase(file, headerLine, name, input, joined, null, parts[1], position, message, null, null, flags.Contains("syntax"));
            }
            else
            {
                throw new FormatException($"{file}:{headerLine}: expected '=> {{json}}' or '=> error ...', found: {expectation}");
            }
        }
    }

    private static (string Name, HashSet<string> Flags) Header(string header)
    {
        var flags = new HashSet<string>(StringComparer.Ordinal);
        header = header.TrimEnd();
        if (header.EndsWith(']'))
        {
            var open = header.LastIndexOf('[');
            foreach (var flag in header[(open + 1)..^1].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                flags.Add(flag);
            }
            header = header[..open].TrimEnd();
        }
        return (header, flags);
    }

    /// <summary><c>\t \r \n \0 \\ \uXXXX</c>, for cases marked <c>[escaped]</c>.</summary>
    public static string Unescape(string text)
    {
        var sb = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] != '\\' || i + 1 == text.Length)
            {
                sb.Append(text[i]);
                continue;
            }
            var c = text[++i];
            switch (c)
            {
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case 'n': sb.Append('\n'); break;
                case '0': sb.Append('\0'); break;
                case '\\': sb.Append('\\'); break;
                case 'u':
                    sb.Append((char)int.Parse(text.AsSpan(i + 1, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    i += 4;
                    break;
                default: throw new FormatException($"unknown escape \\{c}");
            }
        }
        return sb.ToString();
    }
}
