using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using MlModel.Cli;
using MlModel.Dsl;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Syntax;

Console.OutputEncoding = Encoding.UTF8;
Console.CancelKeyPress += Interrupts.OnCancelKeyPress;
return await Cli.RunAsync(args, Console.Out, Console.Error, CancellationToken.None);

namespace MlModel.Cli
{
    /// <summary>
    /// Ctrl+C while a command runs: the first cancels it (an import leaves nothing behind), a second
    /// one ends the process. At the prompt, the line editor reads Ctrl+C as a key (it clears the
    /// line), and each command gets a fresh token, so one cancelled command does not cancel the next.
    /// </summary>
    internal static class Interrupts
    {
        private static CancellationTokenSource _command = new();

        public static void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e)
        {
            var current = _command;
            if (!current.IsCancellationRequested)
            {
                e.Cancel = true;
                current.Cancel();
            }
        }

        /// <summary>A token for the next command: the last one's, unless Ctrl+C cancelled that.</summary>
        public static CancellationToken Next()
        {
            if (_command.IsCancellationRequested)
            {
                _command = new CancellationTokenSource();
            }
            return _command.Token;
        }

        /// <summary>The next command's token, cancelled by Ctrl+C or by <paramref name="outer"/> (a host's, a test's).</summary>
        public static CancellationToken For(CancellationToken outer) =>
            outer.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(outer, Next()).Token : Next();
    }

    /// <summary>What one command of a script asks for.</summary>
    internal abstract record Step
    {
        public sealed record Run(MlModelCommand Command) : Step;

        public sealed record Help(string Text) : Step;

        public sealed record Exit : Step;
    }

    internal static class Cli
    {
        public static Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken) =>
            RunAsync(args, stdin: null, stdout, stderr, cancellationToken);

        /// <param name="args">The command line.</param>
        /// <param name="stdin">Standard input when it is not a terminal (tests give it here); null: the console's.</param>
        /// <param name="stdout">Standard output.</param>
        /// <param name="stderr">Standard error.</param>
        /// <param name="cancellationToken">Cancels the running command.</param>
        public static async Task<int> RunAsync(string[] args, TextReader? stdin, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
        {
            CliOptions o;
            try
            {
                o = CliOptions.Read(args);
            }
            catch (ArgumentException e)
            {
                return await UsageAsync(stderr, e.Message);
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
                return await ConnectorCommand.RunAsync(o, stdout, stderr, Interrupts.For(cancellationToken));
            }
            if (o.Help)
            {
                if (HelpText.Find(o.Words.Count > 0 ? o.Words : Words(o.Command)) is { } op)
                {
                    await stdout.WriteAsync(HelpText.Operation(op));
                }
                else
                {
                    await stdout.WriteAsync(HelpText.General());
                }
                return 0;
            }
            o.Stdin = stdin ?? Console.In;
            var scriptOnStdin = o.Command == "-" || (o.Command is null && o.Words.Count == 0 && (stdin is not null || Console.IsInputRedirected));
            if (o.Input == "-" && scriptOnStdin)
            {
                return await UsageAsync(stderr, "--input - reads the rows from standard input, so the command cannot come from there too: give it with -c '...' or as words");
            }
            if (o.Command is not null && o.Words.Count > 0)
            {
                return await UsageAsync(stderr,
                    $"unexpected '{Shown(o.Words[0])}' after -c: the command goes in one argument, in quotes (-c 'mlmodel list name=a')");
            }

            string text;
            string origin;
            if (o.Command is not null and not "-")
            {
                (text, origin) = (o.Command, "-c");
            }
            else if (o.Command == "-" || (o.Words.Count == 0 && (stdin is not null || Console.IsInputRedirected)))
            {
                (text, origin) = (await (stdin ?? Console.In).ReadToEndAsync(cancellationToken), "standard input");
            }
            else if (o.Words.Count > 0)
            {
                // Shell words are one command: the shell has split it already, and a ';' in a value is text.
                // The mlmodel word goes in front, unless the words are the serving command's.
                var words = MlModelLexicon.FromArguments([.. o.Words]);
                if (!o.Words[0].Equals("serving", StringComparison.OrdinalIgnoreCase))
                {
                    words = "mlmodel " + words;
                }
                (text, origin) = (words, "the command line");
                return await RunScriptAsync(o, text, [new Statement(0, words.Length, 1, 1, HasPipe: false, EndsWithSeparator: false)], stdout, stderr, cancellationToken);
            }
            else
            {
                return await Repl.RunAsync(o, stdout, stderr, cancellationToken);
            }

            var statements = Script.Split(text);
            if (statements.Count == 0)
            {
                return await UsageAsync(stderr, text.Length == 0 ? $"{origin} is empty: there is no command to run" : $"{origin} holds no command, only white space and ';'");
            }
            return await RunScriptAsync(o, text, statements, stdout, stderr, cancellationToken);
        }

        private static async Task<int> UsageAsync(TextWriter stderr, string message)
        {
            await stderr.WriteLineAsync($"mlmodel: {message}\nRun 'mlmodel --help' for usage.");
            return 2;
        }

        /// <summary>Runs (or with --parse, prints) each command of a script in turn, stopping at the first that fails.</summary>
        private static async Task<int> RunScriptAsync(CliOptions o, string text, List<Statement> statements, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
        {
            // --parse runs nothing; and a first command that is not valid is reported without
            // opening (or creating) the home folder: bad input changes nothing.
            if (o.Parse || !TryInterpret(text, statements[0], out _, out _))
            {
                return (await RunStatementsAsync(null, o, text, statements, stdout, stderr, () => cancellationToken)).Code;
            }
            // --input is for a command that reads rows: given to a script that has none, it is a mistake.
            if (o.Input is not null && !statements.Any(s => TryInterpret(text, s, out _, out _) && Interpret(text, s) is Step.Run { Command: ServingPredictCommand }))
            {
                return await UsageAsync(stderr, $"--input gives rows to serving predict, and no command here reads them; leave --input out. Nothing was run");
            }
            // Errors of a home that cannot be used name the (first) command: "mlmodel import: ...".
            var (command, operation) = Interpret(text, statements[0]) is Step.Run first ? Title(first.Command) : ("mlmodel", null);
            var (engine, code) = await CreateEngineAsync(o, resolveStore: true, operation, stderr, Interrupts.For(cancellationToken), command);
            if (engine is null)
            {
                return code;
            }
            await using (engine)
            {
                return (await RunStatementsAsync(engine, o, text, statements, stdout, stderr, () => Interrupts.For(cancellationToken))).Code;
            }
        }

        /// <summary>
        /// Interprets and runs <paramref name="statements"/> in order; stops at the first error, which
        /// it reports with the line of the command when there are several. Returns 0, 1 (a command
        /// failed) or 2 (a usage error: the CLI cannot run what was asked). With no engine, prints
        /// each command's dsl-object instead of running it (--parse).
        /// </summary>
        internal static async Task<(int Code, bool Exit)> RunStatementsAsync(MlModelEngine? engine, CliOptions o, string text, IReadOnlyList<Statement> statements,
            TextWriter stdout, TextWriter stderr, Func<CancellationToken> token)
        {
            for (var i = 0; i < statements.Count; i++)
            {
                var s = statements[i];
                int? at = statements.Count > 1 ? s.Line : null;
                try
                {
                    switch (Interpret(text, s))
                    {
                        case Step.Exit:
                            return (0, true);
                        case Step.Help help:
                            await stdout.WriteAsync(help.Text);
                            continue;
                        case Step.Run run when engine is null:
                            await stdout.WriteLineAsync(run.Command.ToJson());
                            continue;
                        case Step.Run run:
                            await ExecuteAsync(engine, o, run.Command, stdout, token());
                            continue;
                    }
                }
                catch (UsageException e)
                {
                    await stderr.WriteLineAsync($"mlmodel: {e.Message}");
                    await StoppedAsync(stderr, at, i, statements.Count);
                    return (2, false);
                }
                catch (MlModelException e)
                {
                    await WriteErrorAsync(o, stderr, e.Error, at);
                    await StoppedAsync(stderr, at, i, statements.Count);
                    return (1, false);
                }
                catch (OperationCanceledException)
                {
                    await WriteErrorAsync(o, stderr, Cancelled, at);
                    await StoppedAsync(stderr, at, i, statements.Count);
                    return (1, false);
                }
            }
            return (0, false);
        }

        private static async Task StoppedAsync(TextWriter stderr, int? line, int index, int count)
        {
            if (line is null)
            {
                return;
            }
            var ran = index switch { 0 => "none before it ran", 1 => "the one before it ran", _ => $"the {index} before it ran" };
            var left = (count - index - 1) switch { 0 => "", 1 => "; the one after it did not", var n => $"; the {n} after it did not" };
            await stderr.WriteLineAsync($"mlmodel: stopped at the command on line {line} ({ran}{left})");
        }

        /// <summary>Like <see cref="Interpret"/>, without throwing: false with the error, or with the usage message.</summary>
        internal static bool TryInterpret(string text, Statement s, out MlModelError? error, out string? usage)
        {
            error = null;
            usage = null;
            try
            {
                Interpret(text, s);
                return true;
            }
            catch (MlModelException e)
            {
                error = e.Error;
                return false;
            }
            catch (UsageException e)
            {
                usage = e.Message;
                return false;
            }
        }

        /// <summary>
        /// What one command of a script asks for: help, exit, or a command to run. A host query
        /// (<c>* | mlmodel list</c>) gives its mlmodel stage; a source other than <c>*</c> before it
        /// (except before <c>serving predict</c>, whose rows <c>--input</c> gives: <c>.. | serving predict ...</c>),
        /// or any stage after it, is a <see cref="UsageException"/>: the CLI runs the mlmodel stage
        /// only, and runs nothing rather than part of a query. Positions in errors count lines and
        /// columns of <paramref name="text"/> as typed.
        /// </summary>
        /// <exception cref="MlModelException">The command is not valid.</exception>
        /// <exception cref="UsageException">A query with stages the CLI does not run.</exception>
        internal static Step Interpret(string text, Statement s)
        {
            var body = text[s.Start..s.End];
            if (HelpFor(body) is { } help)
            {
                return new Step.Help(help);
            }
            if (body.Equals("exit", StringComparison.OrdinalIgnoreCase) || body.Equals("quit", StringComparison.OrdinalIgnoreCase))
            {
                return new Step.Exit();
            }
            var source = Script.InPlace(text, s);
            if (body.StartsWith('{'))
            {
                return new Step.Run(MlModelParser.ParseJson(source));
            }
            if (!s.HasPipe)
            {
                return new Step.Run(MlModelParser.Parse(source, keywordOptional: true));
            }

            var stage = MlModelParser.ParseQuery(source);
            // serving predict consumes the rows of the stages before it, which --input holds: what
            // comes before it (IRIS's tutorials write '..', a host a table or a query) is what made
            // those rows, so it is not run here, and nothing of it is lost.
            if (stage.Before is not ("" or "*") && stage.Command is not ServingPredictCommand)
            {
                throw new UsageException(
                    $"the CLI runs only the mlmodel stage of a query: '{Shown(stage.Before)}' before it (line {s.Line}, column {s.Column}) is the host's to run; "
                    + "start the query with '* | mlmodel', or give the mlmodel command alone. Nothing was run");
            }
            if (stage.After.Length > 0)
            {
                var (line, column) = Script.Position(source, stage.End);
                throw new UsageException(
                    $"the CLI runs only the mlmodel stage of a query: '| {Shown(stage.After)}' after it (line {line}, column {column}) is the host's to run; "
                    + "run the whole query in the host, or leave the stages after mlmodel out. Nothing was run");
            }
            return new Step.Run(stage.Command);
        }

        /// <summary>Help asked for inside a script or at the prompt: help, help deploy, deploy --help, --help.</summary>
        internal static string? HelpFor(string body)
        {
            var words = body.Split([' ', '\t', '\r', '\n'], StringSplitOptions.RemoveEmptyEntries).ToList();
            if (words.Count > 0 && words[0].Equals("mlmodel", StringComparison.OrdinalIgnoreCase))
            {
                words.RemoveAt(0);
            }
            if (words.Count == 0)
            {
                return null;
            }
            static bool IsHelp(string w) => w is "--help" or "-h";
            if (words[0].Equals("help", StringComparison.OrdinalIgnoreCase) || (words.Count == 1 && IsHelp(words[0])))
            {
                return HelpText.Find(words.Skip(1).ToList()) is { } asked ? HelpText.Operation(asked) : HelpText.General();
            }
            if (words.Count > 1 && IsHelp(words[^1]))
            {
                return HelpText.Find(words) is { } op ? HelpText.Operation(op) : HelpText.General();
            }
            return null;
        }

        internal static string Shown(string text)
        {
            var line = text.ReplaceLineEndings(" ");
            return line.Length <= 40 ? line : line[..40] + "...";
        }

        /// <summary>The engine, or null and the exit code after writing the error (2 for usage errors such as an unknown --store connector).</summary>
        /// <remarks>The errors of a home that cannot be used are placed in <c>mlmodel</c>'s <paramref name="operation"/>: <c>mlmodel import</c>, <c>mlmodel connector</c>.</remarks>
        internal static async Task<(MlModelEngine? Engine, int Code)> CreateEngineAsync(CliOptions o, bool resolveStore, string? operation, TextWriter stderr,
            CancellationToken cancellationToken, string command = "mlmodel")
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
                await stderr.WriteLineAsync(MlModelError.Render(command, operation, $"cannot open the home folder {Path.GetFullPath(o.Home)}: {e.Message}"));
                return (null, 1);
            }
            catch (MlModelException e)
            {
                // A home that cannot be used (EmbeddedSetup.CheckHome), or a repository that could
                // not be read while looking up the --store connector.
                await WriteErrorAsync(o, stderr, e.Error.In(command, operation));
                return (null, 1);
            }
            catch (OperationCanceledException)
            {
                await WriteErrorAsync(o, stderr, Cancelled);
                return (null, 1);
            }
        }

        /// <summary>How errors of a command begin: <c>mlmodel import</c>, <c>serving predict</c>.</summary>
        internal static (string Command, string Operation) Title(MlModelCommand command) => command.Operation switch
        {
            MlModelOperation.ServingStatus => ("serving", "status"),
            MlModelOperation.ServingPredict => ("serving", "predict"),
            var op => ("mlmodel", op.ToString().ToLowerInvariant()),
        };

        /// <summary>
        /// Runs one command and prints its result. <c>serving predict</c> reads the rows of <c>--input</c>
        /// (each predict reads the file anew; standard input can be read once); the result is printed
        /// as its rows come, in every format but the table (which aligns its columns over all rows).
        /// </summary>
        internal static async Task ExecuteAsync(MlModelEngine engine, CliOptions o, MlModelCommand command, TextWriter stdout, CancellationToken cancellationToken)
        {
            var caller = new MlModelCaller(o.User, o.Admin);
            if (command is ServingPredictCommand)
            {
                if (o.Input is not { } path)
                {
                    throw new UsageException("serving predict reads the rows of the stage before it: give them with --input rows.csv, --input rows.jsonl or --input - (standard input). Nothing was run");
                }
                if (path == "-" && o.StdinRead)
                {
                    throw new UsageException("--input - was read by the serving predict before this one: standard input can be read once. Nothing was run");
                }
                o.StdinRead |= path == "-";
                var input = await InputRows.OpenAsync(path, o.Stdin ?? Console.In, cancellationToken);
                await using var predicted = await engine.ExecuteAsync(command, caller, input, cancellationToken);
                await WriteResultAsync(o, stdout, predicted);
                return;
            }
            using var bar = !o.NoProgress && !Console.IsErrorRedirected && command.Operation is MlModelOperation.Import or MlModelOperation.Export
                ? new ProgressBar()
                : null;
            using var result = await engine.ExecuteAsync(command, caller, bar, cancellationToken);
            bar?.Dispose();
            // check's detail and history's message are what the user reads them for: wrapped, never cut.
            await WriteResultAsync(o, stdout, result, wrap: command.Operation is MlModelOperation.Check or MlModelOperation.History);
        }

        internal static async Task WriteResultAsync(CliOptions o, TextWriter stdout, ResultSet result, int maxCellWidth = 48, bool wrap = false)
        {
            switch (o.Format)
            {
                case "json" when result.IsAsync:
                    // Rows that stream (serving predict) are written as they come, not gathered first.
                    using (var stream = new TextWriterStream(stdout))
                    {
                        ResultWriter.WriteJson(result, stream);
                    }
                    await stdout.WriteLineAsync();
                    break;
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
                    ResultWriter.WriteTable(result, stdout, maxCellWidth, wrap);
                    break;
            }
            await stdout.FlushAsync();
        }

        private static readonly MlModelError Cancelled = MlModelError.Create(ErrorCodes.Cancelled, "mlmodel", null, "cancelled; nothing was changed");

        // Relaxed escaping: a message quotes what the user typed ('it's', '모델'), and should read
        // the same in JSON as in text, not as \u0027 and \uXXXX. Valid JSON all the same (", \ and
        // control characters are escaped); unsafe only pasted unencoded into HTML, which stderr is not.
        private static readonly JsonSerializerOptions ErrorJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

        /// <param name="o">The options (the format).</param>
        /// <param name="stderr">Where to write.</param>
        /// <param name="error">The error.</param>
        /// <param name="commandLine">The line of the command that failed, when the input held several.</param>
        public static async Task WriteErrorAsync(CliOptions o, TextWriter stderr, MlModelError error, int? commandLine = null)
        {
            if (o.Format == "json")
            {
                var json = commandLine is int at
                    ? JsonSerializer.Serialize(new { error = new { code = error.Code, command = error.Command, operation = error.Operation, message = error.Message, line = error.Line, column = error.Column, command_line = at } }, ErrorJson)
                    : JsonSerializer.Serialize(new { error = new { code = error.Code, command = error.Command, operation = error.Operation, message = error.Message, line = error.Line, column = error.Column } }, ErrorJson);
                await stderr.WriteLineAsync(json);
                return;
            }
            var colour = !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("NO_COLOR") is null;
            await stderr.WriteLineAsync(colour ? $"\u001b[31m{error.Message}\u001b[0m" : error.Message);
        }

        private static string[] Words(string? text) => text?.Split([' ', '\t', '\r', '\n'], StringSplitOptions.RemoveEmptyEntries) ?? [];
    }

    /// <summary>
    /// The interactive prompt. What is typed is read as a script (<see cref="Script"/>), line by
    /// line: Enter runs what is complete, an empty line or a ';' runs what is there, and a command
    /// that more text could mend (a missing parameter) continues on the next line.
    /// </summary>
    internal static class Repl
    {
        public const string Banner =
            "Type a command ('mlmodel' is optional), 'help', 'deploy --help' or 'exit'. Enter runs a complete command; "
            + "one that is not yet complete continues on the next line (...>) until it is, or until ';' or an empty line. "
            + "Ctrl-C clears, Ctrl-D exits.";

        public static async Task<int> RunAsync(CliOptions o, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
        {
            var (engine, code) = await Cli.CreateEngineAsync(o, resolveStore: true, null, stderr, Interrupts.For(cancellationToken));
            if (engine is null)
            {
                return code;
            }
            await using var lifetime = engine;
            var editor = new LineEditor(Path.Combine(Path.GetFullPath(o.Home), "history"));
            var store = o.Store is null ? "" : $" (model store: connector '{o.Store}', {engine.Options.ModelStore?.Description})";
            await stdout.WriteLineAsync($"mlmodel: {o.User}@{Path.GetFullPath(o.Home)}{store}.");
            await stdout.WriteLineAsync(Banner);
            var pending = new StringBuilder();
            // Ctrl+C is a key of the prompt for as long as it runs, but while a command runs, when
            // it is the terminal's interrupt and cancels that command (and that command only).
            var treatControlCAsInput = Console.IsInputRedirected || Console.TreatControlCAsInput;
            SetControlCAsInput(true);
            CancellationToken Token()
            {
                SetControlCAsInput(false);
                return Interrupts.For(cancellationToken);
            }
            try
            {
                return await LoopAsync();
            }
            finally
            {
                SetControlCAsInput(treatControlCAsInput);
            }

            async Task<int> LoopAsync()
            {
                while (!cancellationToken.IsCancellationRequested)
                {
                    var read = editor.ReadLine(pending.Length == 0 ? "mlmodel> " : "     ...> ");
                    if (read.Kind == LineKind.Interrupted)
                    {
                        pending.Clear();
                        continue;
                    }
                    if (read.Kind == LineKind.EndOfInput)
                    {
                        // The end of input ends a command, as in a script.
                        await RunPendingAsync(engine, o, pending, stdout, stderr, Token);
                        return 0;
                    }
                    var line = read.Text!;
                    if (line.Trim().Length == 0)
                    {
                        if (await RunPendingAsync(engine, o, pending, stdout, stderr, Token) is false)
                        {
                            return 0;
                        }
                        continue;
                    }
                    if (line.EndsWith('\\'))
                    {
                        // Older habit: a line that ends in a backslash goes on.
                        pending.Append(line[..^1]).Append('\n');
                        continue;
                    }
                    pending.Append(line).Append('\n');
                    var text = pending.ToString();
                    var statements = Script.Split(text);
                    if (statements.Count == 0)
                    {
                        pending.Clear();
                        continue;
                    }
                    var last = statements[^1];
                    if (!last.EndsWithSeparator && !Cli.TryInterpret(text, last, out var error, out _) && error is not null && Script.IsIncomplete(text, last, error))
                    {
                        continue;
                    }
                    if (await RunPendingAsync(engine, o, pending, stdout, stderr, Token) is false)
                    {
                        return 0;
                    }
                }
                return 0;
            }
        }

        private static void SetControlCAsInput(bool value)
        {
            if (!Console.IsInputRedirected)
            {
                Console.TreatControlCAsInput = value;
            }
        }

        /// <summary>Runs and clears what is pending; false when it asked to exit.</summary>
        private static async Task<bool> RunPendingAsync(MlModelEngine engine, CliOptions o, StringBuilder pending, TextWriter stdout, TextWriter stderr, Func<CancellationToken> token)
        {
            var text = pending.ToString();
            pending.Clear();
            var statements = Script.Split(text);
            if (statements.Count == 0)
            {
                return true;
            }
            try
            {
                return !(await Cli.RunStatementsAsync(engine, o, text, statements, stdout, stderr, token)).Exit;
            }
            finally
            {
                SetControlCAsInput(true);
            }
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
                return await UsageAsync(o, stderr, ErrorCodes.UnknownOperation, "connector",
                    $"unknown subcommand '{verb}'; allowed: add, list, remove (see: mlmodel connector --help)");
            }
            ConnectorInfo? connector = null;
            if (verb == "add")
            {
                (connector, var usage) = ParseAdd(o.Words.Skip(2), o.User);
                if (usage is not null)
                {
                    return await UsageAsync(o, stderr, usage.Code, "connector add", usage.Message);
                }
            }
            else if (verb == "list" && o.Words.Count != 2)
            {
                return await UsageAsync(o, stderr, ErrorCodes.Syntax, "connector list", $"takes no arguments, not '{o.Words[2]}'");
            }
            else if (verb == "remove" && o.Words.Count != 3)
            {
                return await UsageAsync(o, stderr, ErrorCodes.MissingParameter, "connector remove", "give one connector id: mlmodel connector remove ID");
            }

            // Connectors need no model store: --store is not resolved here, so that the connector
            // it names can be added with MLMODEL_STORE already set.
            var (engine, code) = await Cli.CreateEngineAsync(o, resolveStore: false, "connector", stderr, cancellationToken);
            if (engine is null)
            {
                return code;
            }
            await using var lifetime = engine;
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
                            await Cli.WriteErrorAsync(o, stderr, MlModelError.Create(ErrorCodes.NotFound, "mlmodel", "connector remove",
                                $"unknown connector '{id}'; see: mlmodel connector list"));
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
                // The registry places its errors in their subcommand; any other still says whose it is.
                await Cli.WriteErrorAsync(o, stderr, e.Error.In("mlmodel", "connector"));
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

        private static async Task<int> UsageAsync(CliOptions o, TextWriter stderr, string code, string operation, string message)
        {
            await Cli.WriteErrorAsync(o, stderr, MlModelError.Create(code, "mlmodel", operation, message));
            return 2;
        }
    }
}
