using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using MlModel.Dsl.Syntax;

namespace MlModel.Dsl.Binding;

/// <summary>Renders commands back to canonical text and to the dsl-object JSON.</summary>
internal static class CommandRenderer
{
    /// <summary>The parameters of <paramref name="command"/> that are set, in the spec's order.</summary>
    public static IEnumerable<(string Key, object Value)> Parameters(MlModelCommand command)
    {
        IEnumerable<(string, object?)> all = command switch
        {
            ListCommand c => [("user", c.User), ("name", c.Name), ("analysis_tool", c.AnalysisTool), ("serving", c.Serving)],
            SummaryCommand c => [("user", c.User), ("name", c.Name), ("version", c.Version)],
            DeleteCommand c => [("user", c.User), ("name", c.Name), ("version", c.Version)],
            ImportCommand c =>
            [
                ("name", c.Name), ("analysis_tool", c.AnalysisTool), ("kind", c.Kind), ("algorithm", c.Algorithm),
                ("format", FormatName(c.Format)), ("connector_id", c.ConnectorId), ("path", c.Path),
                ("description", c.Description), ("parameter", c.Parameter),
            ],
            ExportCommand c => [("user", c.User), ("name", c.Name), ("version", c.Version)],
            DeployCommand c => [("user", c.User), ("name", c.Name), ("version", c.Version), ("label", c.Label)],
            StopCommand c => [("user", c.User), ("name", c.Name), ("version", c.Version)],
            HistoryCommand c => [("user", c.User), ("name", c.Name), ("version", c.Version)],
            StatusCommand c => [("user", c.User), ("name", c.Name)],
            CheckCommand c => [("user", c.User), ("name", c.Name), ("version", c.Version), ("repair", c.Repair ? true : null)],
            _ => throw new ArgumentOutOfRangeException(nameof(command)),
        };
        foreach (var (key, value) in all)
        {
            if (value is not null)
            {
                yield return (key, value);
            }
        }
    }

    public static string FormatName(ModelFormat format) => format switch
    {
        ModelFormat.SavedModel => "saved_model",
        ModelFormat.H5 => "h5",
        _ => "spark",
    };

    public static string OperationName(MlModelOperation operation) => OperationTable.Get(operation).Name;

    public static string ToText(MlModelCommand command)
    {
        var sb = new StringBuilder("mlmodel ").Append(OperationName(command.Operation));
        foreach (var (key, value) in Parameters(command))
        {
            sb.Append(' ').Append(key).Append('=');
            switch (value)
            {
                case int i:
                    sb.Append(i.ToString(CultureInfo.InvariantCulture));
                    break;
                case bool b:
                    var words = OperationTable.Get(command.Operation).Find(key)!.Values!;
                    sb.Append(b ? words[0] : words[1]);
                    break;
                default:
                    AppendValue(sb, (string)value);
                    break;
            }
        }
        return sb.ToString();
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
            writer.WriteString("command", "mlmodel");
            writer.WriteStartObject("params");
            writer.WriteString("operation", OperationName(command.Operation));
            foreach (var (key, value) in Parameters(command))
            {
                switch (value)
                {
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
