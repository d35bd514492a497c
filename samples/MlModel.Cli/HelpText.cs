using System.Globalization;
using System.Text;
using MlModel.Dsl;

namespace MlModel.Cli;

/// <summary>Help screens, generated from the language's own parameter tables.</summary>
internal static class HelpText
{
    public const string Usage = """
        mlmodel: manage machine-learning models with the mlmodel command language.

        Usage:
          mlmodel [options] -c '<commands>'    run commands: -c 'mlmodel list', -c '* | mlmodel list', -c 'list; status m'
          mlmodel [options] <operation> k=v..  one command as shell words: mlmodel summary name=mnist_v1
          mlmodel [options] < FILE             run the commands on standard input (also: ... | mlmodel, -c -)
          mlmodel [options]                    interactive prompt
          mlmodel --parse -c '<commands>'      print each command as dsl-object JSON without running it
          mlmodel connector add|list|remove    manage object-storage connectors (see: mlmodel connector --help)
          mlmodel <operation> --help           parameters of one operation (also at the prompt: deploy --help)
          mlmodel --input rows.csv -c 'serving predict name=M col=features shape=[(12,)] tag=(0,1,2)'
                                               the rows of a CSV (or JSON lines) file with the model's predictions

        Commands, in -c, on standard input and at the prompt:
          The 'mlmodel' word is optional. A command may span lines; it ends at a ';' (outside quotes),
          at an empty line, at a line that starts another command (mlmodel, an operation, '*', '{'),
          or at the end of the input. At the prompt, Enter also runs a command once it is complete;
          one that still lacks a parameter continues on the next line (...>) until it is complete or
          a ';' or an empty line ends it. Ctrl-C clears the line (and what is pending), Ctrl-U clears
          the line, Ctrl-D on an empty line exits; Tab completes, Up and Down recall history.
          Several commands run in order and stop at the first error, which names the command's line.
          Host query text runs its mlmodel stage: '* | mlmodel list'. A source other than '*' before
          it, or a stage after it ('| where ...'), is the host's to run: the CLI runs nothing and
          says so (exit code 2). Positions in errors count lines and columns as typed.

        Options:
          --home DIR           data folder (default $MLMODEL_HOME, else ~/.mlmodel)
          --input FILE|-       the rows serving predict reads: CSV with a header row (quoted fields, a BOM)
                               or JSON lines (one object per line: a .jsonl/.ndjson/.json file, or text
                               that starts with '{'); '-' reads standard input (the command then comes from -c)
          --user NAME          requesting user (default $MLMODEL_USER, else root, an administrator)
          --admin              the requesting user is an administrator
          --format FMT         table (default), json (the host engine's job shape) or csv
          --database CONN      a PostgreSQL connection string instead of the SQLite file in --home
          --serving-url URL    TensorFlow Serving's REST address, for two-phase deploys with labels, the server's
                               state in status, and serving predict
          --server-serving-root DIR
                               <home>/serving as TensorFlow Serving sees it, when it runs in a container
                               with that folder mounted (e.g. /models); default $MLMODEL_SERVER_SERVING_ROOT
          --serving-timeout S  seconds a deploy waits for TensorFlow Serving to load a version (default 60)
          --store ID           keep model files and exports in connector ID's bucket (models/..., exports/...)
                               instead of <home>/store; export then answers a presigned URL on S3.
                               Default $MLMODEL_STORE. Add the connector first: mlmodel connector add id=ID type=s3 ...
          --no-progress        no progress bar for import and export
          --no-sync            do not wait for files written to a local store to reach the disk: faster,
                               but a system crash soon after can lose them (mlmodel check finds them).
                               Default off; $MLMODEL_NO_SYNC=1 turns it on.
          --version            print the version

        The serving command (TensorFlow Serving, --serving-url for the server's view):
          serving status (user=)? name=      per served version: version, state (AVAILABLE, LOADING, ...,
                                             or why it is unknown) and label
          serving predict (user=)? name= (col=)? (shape=[(...)])? (dtype=)? (layer_name=)? (version=)? (tag=(...))?
                                             with --input: each row and its predictions, probability
                                             (the largest value) and, with tag=, interpreted (its tag)

        Exit codes: 0 success, 1 a command failed (message on stderr), 2 usage error (an option, words after
        -c, an empty input, or a query stage the CLI does not run; nothing was run).
        Operations:
        """;

    public static string General()
    {
        var sb = new StringBuilder(Usage).AppendLine();
        foreach (var command in MlModelLanguage.Commands)
        {
            foreach (var op in command.Operations)
            {
                var name = command.Name == "mlmodel" ? op.Name : command.Name + " " + op.Name;
                sb.AppendLine(CultureInfo.InvariantCulture, $"  {name,-15} {op.Help}");
            }
        }
        return sb.ToString();
    }

    /// <summary>
    /// The operation that words such as <c>deploy</c>, <c>mlmodel deploy</c> or <c>serving predict</c>
    /// name (the words after it are ignored), or null.
    /// </summary>
    public static OperationInfo? Find(IReadOnlyList<string> words)
    {
        if (words.Count == 0)
        {
            return null;
        }
        if (MlModelLanguage.FindCommand(words[0]) is { } command)
        {
            return words.Count > 1 ? command.Find(words[1]) : null;
        }
        return MlModelLanguage.Find(words[0]);
    }

    public static string Operation(OperationInfo op)
    {
        var sb = new StringBuilder();
        sb.AppendLine(op.Syntax).AppendLine().AppendLine(op.Help).AppendLine().AppendLine("Parameters:");
        var width = op.Parameters.Count == 0 ? 0 : op.Parameters.Max(p => p.Key.Length);
        foreach (var p in op.Parameters)
        {
            var values = p.Values.Count > 0 ? $" ({string.Join(" | ", p.Values)})" : "";
            values += p.Default is null ? "" : $"; default {p.Default}";
            sb.AppendLine(CultureInfo.InvariantCulture, $"  {p.Key.PadRight(width)}  {(p.Required ? "required" : "optional")}  {p.Help}{values}");
        }
        sb.AppendLine().AppendLine("Values: a bare word, a 'single-quoted string' (no quote inside), or base64(...) for any text.");
        if (op.Parameters.Any(p => p.Kind is "tuple" or "tuples"))
        {
            sb.AppendLine("A tuple is (item, item, ...) of words, numbers or 'quoted strings', (12,) for one item;")
                .AppendLine("a list of tuples is [(28,28,1)] or [(12,),(4,1)], one tuple per model input.");
        }
        return sb.ToString();
    }

    public const string Connector = """
        mlmodel connector add id=ID type=s3 endpoint=URL bucket=B [region=R] [prefix=P]
                              (access_key=K secret_key=S | access_key_env=VAR secret_key_env=VAR)
                              [owner=USER] [shared=true|false]
        mlmodel connector add id=ID type=local root=DIR [owner=USER] [shared=true|false]
        mlmodel connector list
        mlmodel connector remove ID

        A connector belongs to the user who adds it (an administrator may give owner=USER) and
        may be shared (shared=true, administrators only). A user sees and uses their own and the
        shared connectors; administrators see all. Through a connector of your own you import
        any key of its bucket; through a shared one (the embedded 'local' one included), keys
        under USERS/<user>/ only. Users who are not administrators add their own s3 connectors,
        with access_key and secret_key (not *_env, which reads the host's environment), and
        remove their own; only administrators add local connectors, which reach the host's folders.
        Connectors stored before connectors had owners are owned by no one and shared.

        list shows id, type, owner, shared, source and settings; --format json|csv applies to
        every subcommand. Secrets are never printed: administrators see them as ***, owners too,
        other users see no secrets and no variable names. They are stored encrypted with the key
        in $MLMODEL_SECRET_KEY (base64 of 32 bytes: openssl rand -base64 32) or, for the embedded
        database, <home>/secret.key (created 0600; back it up with the database). With --database
        and no MLMODEL_SECRET_KEY, give access_key_env/secret_key_env, which name environment
        variables. An endpoint must not carry user:password@.
        The embedded default always has the connector 'local', rooted at <home>/objects/.
        Any connector can also hold the model store: mlmodel --store ID ... (or MLMODEL_STORE=ID).
        """;
}
