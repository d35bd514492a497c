using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using MlModel.Dsl.Syntax;

namespace MlModel.Dsl.Binding;

/// <summary>Renders commands back to canonical text and to the dsl-object JSON.</summary>
internal static class CommandRenderer
{
    /// <summary>The parameters of <paramref name="command"/> that are set, in the table's order.</summary>
    public static IEnumerable<(ParamSpec Spec, object Value)> Parameters(MlModelCommand command)
    {
        foreach (var spec in CommandTables.Get(command.Operation).Parameters)
        {
            if (spec.Read(command) is { } value)
            {
                yield return (spec, value);
            }
        }
    }

    public static string FormatName(ModelFormat format) => CommandTables.FormatName(format);

    public static string OperationName(MlModelOperation operation) => CommandTables.Get(operation).Name;

    public static string ToText(MlModelCommand command)
    {
        var op = CommandTables.Get(command.Operation);
        var sb = new StringBuilder(op.Command).Append(' ').Append(op.Name);
        foreach (var (spec, value) in Parameters(command))
        {
            sb.Append(' ').Append(spec.Key).Append('=');
            switch (value)
            {
                case int i:
                    sb.Append(i.ToString(CultureInfo.InvariantCulture));
                    break;
                case bool b:
                    sb.Append(b ? spec.Values![0] : spec.Values![1]);
                    break;
                case IReadOnlyList<string> words:
                    AppendTuple(sb, words, static (sb, word) => AppendValue(sb, word));
                    break;
                case IReadOnlyList<IReadOnlyList<int>> shapes:
                    sb.Append('[');
                    for (var i = 0; i < shapes.Count; i++)
                    {
                        sb.Append(i > 0 ? "," : "");
                        AppendTuple(sb, shapes[i], static (sb, d) => sb.Append(d.ToString(CultureInfo.InvariantCulture)));
                    }
                    sb.Append(']');
                    break;
                default:
                    AppendValue(sb, (string)value);
                    break;
            }
        }
        return sb.ToString();
    }

    // (a,b,c); a one-item tuple keeps its comma, as Python writes it: (12,).
    private static void AppendTuple<T>(StringBuilder sb, IReadOnlyList<T> items, Action<StringBuilder, T> append)
    {
        sb.Append('(');
        for (var i = 0; i < items.Count; i++)
        {
            sb.Append(i > 0 ? "," : "");
            append(sb, items[i]);
        }
        sb.Append(items.Count == 1 ? ",)" : ")");
    }

    /// <summary>A bare word when it is one, else a quoted string, else base64 (spec B.1): the lexicon's rule.</summary>
    public static void AppendValue(StringBuilder sb, string text) => MlModelLexicon.AppendValue(sb, text);

    public static string ToJson(MlModelCommand command, bool indented)
    {
        using var stream = new MemoryStream();
        // Relaxed escaping: quotes and non-ASCII as themselves; valid JSON for a JSON reader, not
        // meant to be pasted into HTML unencoded (see ResultWriter.WriteJson).
        using (var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = indented, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            var op = CommandTables.Get(command.Operation);
            writer.WriteString("command", op.Command);
            writer.WriteStartObject("params");
            writer.WriteString("operation", op.Name);
            foreach (var (spec, value) in Parameters(command))
            {
                var key = spec.Key;
                switch (value)
                {
                    case IReadOnlyList<string> words:
                        writer.WriteStartArray(key);
                        foreach (var word in words)
                        {
                            writer.WriteStringValue(word);
                        }
                        writer.WriteEndArray();
                        break;
                    case IReadOnlyList<IReadOnlyList<int>> shapes:
                        writer.WriteStartArray(key);
                        foreach (var dims in shapes)
                        {
                            writer.WriteStartArray();
                            foreach (var d in dims)
                            {
                                writer.WriteNumberValue(d);
                            }
                            writer.WriteEndArray();
                        }
                        writer.WriteEndArray();
                        break;
                    case int i:
                        writer.WriteNumber(key, i);
                        break;
                    case bool b:
                        writer.WriteBoolean(key, b);
                        break;
                    default:
                        writer.WriteString(key, (string)value);
                        break;
                }
            }
            writer.WriteEndObject();
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
