using System.Text;
using System.Text.Json;
using MlModel.Cli;
using MlModel.Dsl;
using MlModel.Dsl.Backends;

Console.OutputEncoding = Encoding.UTF8;
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    // The first Ctrl+C cancels the running command (an import leaves nothing behind); a second one exits.
    if (!cancel.IsCancellationRequested)
    {
        e.Cancel = true;
        cancel.Cancel();
    }
};
return await Cli.RunAsync(args, Console.Out, Console.Error, cancel.Token);

namespace MlModel.Cli
{
    internal static class Cli
    {
        public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
        {
            CliOptions o;
            try
            {
                o = CliOptions.Read(args);
            }
            catch (ArgumentException e)
            {
                await stderr.WriteLineAsync($"mlmodel: {e.Message}\nRun 'mlmodel --help' for usage.");
                return 2;
            }

            if (o.Version)
            {
                await stdout.WriteLineAsync("mlmodel " + typeof(MlModelEngine).Assembly.GetName().Version);
                return 0;
            }
            if (o.Words.Count > 0 && o.Words[0].Equals("mlmodel", StringComparison.OrdinalIgnoreCase))
            {
                o.Words.RemoveAt(0);
            }
            if (o.Words.Count > 0 && o.Words[0] == "connector")
            {
                return await ConnectorCommand.RunAsync(o, stdout, stderr, cancellationToken);
            }
            if (o.Help)
            {
                var opName = o.Words.FirstOrDefault() ?? OperationWord(o.Command);
                if (opName is not null && MlModelLanguage.Find(opName) is { } op)
                {
                    await stdout.WriteAsync(HelpText.Operation(op));
                }
                else
                {
                    await stdout.WriteAsync(HelpText.General());
                }
                return 0;
            }

            string? text;
            if (o.Command is not null)
            {
                text = o.Command == "-" ? await Console.In.ReadToEndAsync(cancellationToken) : o.Command;
            }
            else if (o.Words.Count > 0)
            {
                text = FromWords(o.Words);
            }
            else if (Console.IsInputRedirected)
            {
                text = await Console.In.ReadToEndAsync(cancellationToken);
            }
            else
            {
                return await Repl.RunAsync(o, stdout, stderr, cancellationToken);
            }

            // Parsed first: a mistake in the command is reported before anything is opened, and
            // a failure to open the home names the command ("mlmodel import: ...").
            MlModelCommand command;
            try
            {
                command = MlModelParser.ParseAny(text);
            }
            catch (MlModelException e)
            {
                await WriteErrorAsync(o, stderr, e.Error);
                return 1;
            }
            if (o.Parse)
            {
                await stdout.WriteLineAsync(command.ToJson());
                return 0;
            }

            var prefix = "mlmodel " + command.Operation.ToString().ToLowerInvariant();
            var (embedded, code) = await CreateEngineAsync(o, resolveStore: true, prefix, stderr, cancellationToken);
            if (embedded is null)
            {
                return code;
            }
            await using (embedded)
            {
                return await ExecuteAsync(embedded.Engine, o, command, stdout, stderr, cancellationToken);
            }
        }

        /// <summary>
        /// The engine, or null and the exit code after writing the error (2 for usage errors such as
        /// an unknown --store connector, 1 for a home that cannot be used). <paramref name="prefix"/>
        /// begins the messages of the latter: <c>mlmodel import</c>, <c>mlmodel connector</c>.
        /// </summary>
        internal static async Task<(EmbeddedEngine? Engine, int Code)> CreateEngineAsync(CliOptions o, bool resolveStore, string prefix, TextWriter stderr, CancellationToken cancellationToken)
        {
            try
            {
                return (await EmbeddedSetup.CreateAsync(o, resolveStore, cancellationToken), 0);
            }
            catch (UsageException e)
            {
                await stderr.WriteLineAsync($"mlmodel: {e.Message}\nRun 'mlmodel --help' for usage.");
                return (null, 2);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
            {
                await stderr.WriteLineAsync($"{prefix}: cannot open the home folder {Path.GetFullPath(o.Home)}: {e.Message}");
                return (null, 1);
            }
            catch (MlModelException e)
            {
                // A home that cannot be used (EmbeddedSetup.CheckHome), or a repository that could
                // not be read while looking up the --store connector.
                await WriteErrorAsync(o, stderr, e.Message.StartsWith("mlmodel", StringComparison.Ordinal)
                    ? e.Error
                    : e.Error with { Message = $"{prefix}: {e.Message}" });
                return (null, 1);
            }
            catch (OperationCanceledException)
            {
                await WriteErrorAsync(o, stderr, new MlModelError(ErrorCodes.Cancelled, "mlmodel: cancelled; nothing was changed"));
                return (null, 1);
            }
        }

        public static async Task<int> ExecuteAsync(MlModelEngine engine, CliOptions o, string text, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
        {
            MlModelCommand command;
            try
            {
                command = MlModelParser.ParseAny(text);
            }
            catch (MlModelException e)
            {
                await WriteErrorAsync(o, stderr, e.Error);
                return 1;
            }
            return await ExecuteAsync(engine, o, command, stdout, stderr, cancellationToken);
        }

        public static async Task<int> ExecuteAsync(MlModelEngine engine, CliOptions o, MlModelCommand command, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
        {
            try
            {
                var caller = new MlModelCaller(o.User, o.Admin);
                using var bar = !o.NoProgress && !Console.IsErrorRedirected && command.Operation is MlModelOperation.Import or MlModelOperation.Export
                    ? new ProgressBar()
                    : null;
                using var result = await engine.ExecuteAsync(command, caller, bar, cancellationToken);
                bar?.Dispose();
                await WriteResultAsync(o, stdout, result);
                return 0;
            }
            catch (MlModelException e)
            {
                await WriteErrorAsync(o, stderr, e.Error);
                return 1;
            }
            catch (OperationCanceledException)
            {
                await WriteErrorAsync(o, stderr, new MlModelError(ErrorCodes.Cancelled, "mlmodel: cancelled; nothing was changed"));
                return 1;
            }
        }

        internal static async Task WriteResultAsync(CliOptions o, TextWriter stdout, ResultSet result, int maxCellWidth = 48)
        {
            switch (o.Format)
            {
                case "json":
                    using (var stream = new MemoryStream())
                    {
                        ResultWriter.WriteJson(result, stream);
                        await stdout.WriteLineAsync(Encoding.UTF8.GetString(stream.ToArray()));
                    }
                    break;
                case "csv":
                    ResultWriter.WriteCsv(result, stdout);
                    break;
                default:
                    ResultWriter.WriteTable(result, stdout, maxCellWidth);
                    break;
            }
            await stdout.FlushAsync();
        }

        public static async Task WriteErrorAsync(CliOptions o, TextWriter stderr, MlModelError error)
        {
            if (o.Format == "json")
            {
                var json = JsonSerializer.Serialize(new
                {
                    error = new { code = error.Code, message = error.Message, line = error.Line, column = error.Column },
                });
                await stderr.WriteLineAsync(json);
                return;
            }
            var colour = !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("NO_COLOR") is null;
            await stderr.WriteLineAsync(colour ? $"\u001b[31m{error.Message}\u001b[0m" : error.Message);
        }

        private static string? OperationWord(string? text)
        {
            if (text is null)
            {
                return null;
            }
            var words = text.Split([' ', '\t', '\r', '\n'], StringSplitOptions.RemoveEmptyEntries);
            return words.Length > 1 && words[0].Equals("mlmodel", StringComparison.OrdinalIgnoreCase) ? words[1] : words.FirstOrDefault();
        }

        /// <summary>
        /// Shell words back to command text. The shell has already removed its own quotes, so a
        /// value that is not a bare word, a quoted string or base64(...) is quoted again here.
        /// </summary>
        internal static string FromWords(IReadOnlyList<string> words)
        {
            var sb = new StringBuilder("mlmodel");
            foreach (var word in words)
            {
                sb.Append(' ');
                var eq = word.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0)
                {
                    sb.Append(word);
                    continue;
                }
                var value = word[(eq + 1)..];
                sb.Append(word, 0, eq + 1).Append(IsValueSyntax(value) ? value : Quote(value));
            }
            return sb.ToString();
        }

        private static bool IsValueSyntax(string value) =>
            value.Length > 0 && (value.All(c => !char.IsWhiteSpace(c) && c is not ('\'' or '"' or '=' or '|' or '(' or ')' or ','))
                || (value.Length >= 2 && value[0] == '\'' && value[^1] == '\'' && value[1..^1].IndexOfAny(['\'', '\r', '\n']) < 0)
                || (value.StartsWith("base64(", StringComparison.OrdinalIgnoreCase) && value.EndsWith(')') && value.IndexOf(')') == value.Length - 1));

        private static string Quote(string value) =>
            value.IndexOfAny(['\'', '\r', '\n']) < 0 ? $"'{value}'" : $"base64({Convert.ToBase64String(Encoding.UTF8.GetBytes(value))})";
    }

    /// <summary>The interactive prompt.</summary>
    internal static class Repl
    {
        public static async Task<int> RunAsync(CliOptions o, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
        {
            var (embedded, code) = await Cli.CreateEngineAsync(o, resolveStore: true, "mlmodel", stderr, cancellationToken);
            if (embedded is null)
            {
                return code;
            }
            await using var lifetime = embedded;
            var engine = embedded.Engine;
            var editor = new LineEditor(Path.Combine(Path.GetFullPath(o.Home), "history"));
            var store = o.Store is null ? "" : $" (model store: connector '{o.Store}', {embedded.StoreDescription})";
            await stdout.WriteLineAsync($"mlmodel: {o.User}@{Path.GetFullPath(o.Home)}{store}. Type a command (the 'mlmodel' word is optional), 'help', or 'exit'. End a line with \\ to continue it.");
            var pending = new StringBuilder();
            while (!cancellationToken.IsCancellationRequested)
            {
                var line = editor.ReadLine(pending.Length == 0 ? "mlmodel> " : "     ...> ");
                if (line is null)
                {
                    break;
                }
                if (line.EndsWith('\\'))
                {
                    pending.Append(line[..^1]).Append('\n');
                    continue;
                }
                pending.Append(line);
                var text = pending.ToString().Trim();
                pending.Clear();
                if (text.Length == 0)
                {
                    continue;
                }
                if (text is "exit" or "quit")
                {
                    break;
                }
                if (text == "help" || text.StartsWith("help ", StringComparison.Ordinal))
                {
                    var op = MlModelLanguage.Find(text.Length > 5 ? text[5..].Trim() : "");
                    await stdout.WriteAsync(op is null ? HelpText.General() : HelpText.Operation(op));
                    continue;
                }
                if (!text.StartsWith("mlmodel", StringComparison.OrdinalIgnoreCase) && !text.StartsWith('{'))
                {
                    text = "mlmodel " + text;
                }
                await Cli.ExecuteAsync(engine, o, text, stdout, stderr, cancellationToken);
            }
            return 0;
        }
    }

    /// <summary>
    /// <c>mlmodel connector add|list|remove</c>. Results are tables like the commands' (so
    /// <c>--format json|csv</c> applies); errors name the subcommand (<c>mlmodel connector add: ...</c>),
    /// usage errors exit with 2, refusals with 1.
    /// </summary>
    internal static class ConnectorCommand
    {
        /// <summary>The words of <c>add</c> that are the connector's own, not provider settings.</summary>
        private static readonly string[] Reserved = ["id", "type", "owner", "shared"];

        public static async Task<int> RunAsync(CliOptions o, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
        {
            if (o.Help || o.Words.Count < 2)
            {
                await stdout.WriteAsync(HelpText.Connector);
                return o.Help ? 0 : 2;
            }
            var verb = o.Words[1];
            if (verb is not ("add" or "list" or "remove"))
            {
                return await UsageAsync(o, stderr, ErrorCodes.UnknownOperation, "mlmodel connector",
                    $"unknown subcommand '{verb}'; allowed: add, list, remove (see: mlmodel connector --help)");
            }
            ConnectorInfo? connector = null;
            if (verb == "add")
            {
                (connector, var usage) = ParseAdd(o.Words.Skip(2), o.User);
                if (usage is not null)
                {
                    return await UsageAsync(o, stderr, usage.Code, "mlmodel connector add", usage.Message);
                }
            }
            else if (verb == "list" && o.Words.Count != 2)
            {
                return await UsageAsync(o, stderr, ErrorCodes.Syntax, "mlmodel connector list", $"takes no arguments, not '{o.Words[2]}'");
            }
            else if (verb == "remove" && o.Words.Count != 3)
            {
                return await UsageAsync(o, stderr, ErrorCodes.MissingParameter, "mlmodel connector remove", "give one connector id: mlmodel connector remove ID");
            }

            // Connectors need no model store: --store is not resolved here, so that the connector
            // it names can be added with MLMODEL_STORE already set.
            var (embedded, code) = await Cli.CreateEngineAsync(o, resolveStore: false, "mlmodel connector", stderr, cancellationToken);
            if (embedded is null)
            {
                return code;
            }
            await using var lifetime = embedded;
            var engine = embedded.Engine;
            var caller = new MlModelCaller(o.User, o.Admin);
            try
            {
                switch (verb)
                {
                    case "list":
                        using (var list = await engine.Connectors.ListAsync(caller, cancellationToken))
                        {
                            await Cli.WriteResultAsync(o, stdout, list, maxCellWidth: 100);
                        }
                        return 0;
                    case "remove":
                        var id = o.Words[2];
                        if (!await engine.Connectors.DeleteAsync(id, caller, cancellationToken))
                        {
                            // A connector of another user is as unknown as a missing one.
                            await Cli.WriteErrorAsync(o, stderr, new MlModelError(ErrorCodes.NotFound,
                                $"mlmodel connector remove: unknown connector '{id}'; see: mlmodel connector list"));
                            return 1;
                        }
                        using (var removed = new ResultSet([new ResultField("result", FieldType.String), new ResultField("id", FieldType.String)], [["removed", id]]))
                        {
                            await Cli.WriteResultAsync(o, stdout, removed);
                        }
                        return 0;
                    default:
                        await engine.Connectors.SaveAsync(connector!, caller, cancellationToken);
                        using (var saved = new ResultSet(
                            [
                                new ResultField("result", FieldType.String), new ResultField("id", FieldType.String), new ResultField("type", FieldType.String),
                                new ResultField("owner", FieldType.String), new ResultField("shared", FieldType.String),
                            ],
                            [["saved", connector!.Id, connector.Type, connector.Owner, connector.Shared ? "true" : "false"]]))
                        {
                            await Cli.WriteResultAsync(o, stdout, saved);
                        }
                        return 0;
                }
            }
            catch (MlModelException e)
            {
                // The registry passes the repository's own errors on as they are: say whose they are.
                await Cli.WriteErrorAsync(o, stderr, e.Message.StartsWith("mlmodel", StringComparison.Ordinal)
                    ? e.Error
                    : e.Error with { Message = "mlmodel connector: " + e.Message });
                return 1;
            }
        }

        /// <summary>
        /// The connector <c>add</c>'s words describe: id=, type=, owner= (default the user),
        /// shared=true|false (default false), and the provider's settings; or what is wrong with them.
        /// </summary>
        internal static (ConnectorInfo? Connector, MlModelError? Usage) ParseAdd(IEnumerable<string> words, string user)
        {
            var own = new Dictionary<string, string>(StringComparer.Ordinal);
            var settings = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var word in words)
            {
                var eq = word.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0)
                {
                    return (null, new MlModelError(ErrorCodes.Syntax, $"expected key=value, not '{word}'"));
                }
                var key = word[..eq];
                var target = Reserved.Contains(key) ? own : settings;
                if (!target.TryAdd(key, word[(eq + 1)..]))
                {
                    return (null, new MlModelError(ErrorCodes.DuplicateParameter, $"'{key}' is given twice"));
                }
            }
            if (!own.TryGetValue("id", out var id) || !own.TryGetValue("type", out var type))
            {
                return (null, new MlModelError(ErrorCodes.MissingParameter, "id= and type= are required"));
            }
            var shared = false;
            if (own.TryGetValue("shared", out var sharedText) && !bool.TryParse(sharedText, out shared))
            {
                return (null, new MlModelError(ErrorCodes.InvalidValue, $"invalid value for 'shared': '{sharedText}'; expected true or false"));
            }
            return (new ConnectorInfo(id, type, settings) { Owner = own.GetValueOrDefault("owner", user), Shared = shared }, null);
        }

        private static async Task<int> UsageAsync(CliOptions o, TextWriter stderr, string code, string command, string message)
        {
            await Cli.WriteErrorAsync(o, stderr, new MlModelError(code, $"{command}: {message}"));
            return 2;
        }
    }
}
