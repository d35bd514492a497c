namespace MlModel.Cli;

/// <summary>What the command line asked for.</summary>
internal sealed class CliOptions
{
    public string Home { get; set; } = DefaultHome();
    public string User { get; set; } = Environment.GetEnvironmentVariable("MLMODEL_USER") is { Length: > 0 } u ? u : "root";
    public bool Admin { get; set; }
    public string Format { get; set; } = "table";
    public string? Database { get; set; } = Environment.GetEnvironmentVariable("MLMODEL_DATABASE") is { Length: > 0 } d ? d : null;
    public string? ServingUrl { get; set; } = Environment.GetEnvironmentVariable("MLMODEL_SERVING_URL") is { Length: > 0 } s ? s : null;
    /// <summary><c>&lt;home&gt;/serving</c> as TensorFlow Serving sees it (<c>--server-serving-root</c>, <c>MLMODEL_SERVER_SERVING_ROOT</c>).</summary>
    public string? ServerServingRoot { get; set; } = Environment.GetEnvironmentVariable("MLMODEL_SERVER_SERVING_ROOT") is { Length: > 0 } r ? r : null;
    /// <summary>How long a deploy waits for TensorFlow Serving (<c>--serving-timeout</c> seconds).</summary>
    public TimeSpan? ServingTimeout { get; set; }

    /// <summary>The connector whose bucket (or folder) holds the model store and the exports; null for &lt;home&gt;/store.</summary>
    public string? Store { get; set; } = Environment.GetEnvironmentVariable(StoreVariable) is { Length: > 0 } st ? st : null;

    /// <summary>Where <see cref="Store"/> came from, for messages: <c>--store</c> or <c>MLMODEL_STORE</c>.</summary>
    public string StoreSource { get; set; } = StoreVariable;

    public const string StoreVariable = "MLMODEL_STORE";
    public string? Command { get; set; }

    /// <summary><c>--input FILE|-</c>: the rows <c>serving predict</c> reads (CSV with a header row, or JSON lines).</summary>
    public string? Input { get; set; }

    /// <summary>Where <c>--input -</c> reads: standard input (tests give their own).</summary>
    public TextReader? Stdin { get; set; }

    /// <summary>Whether a <c>serving predict</c> has read <c>--input -</c> already (standard input is read once).</summary>
    public bool StdinRead { get; set; }
    public bool Parse { get; set; }
    public bool Help { get; set; }
    public bool Version { get; set; }
    public bool NoProgress { get; set; }

    /// <summary>Writes to the local model store are not synced to disk (<c>--no-sync</c> or <c>MLMODEL_NO_SYNC=1</c>).</summary>
    public bool NoSync { get; set; } = Environment.GetEnvironmentVariable("MLMODEL_NO_SYNC") is "1" or "true";
    public List<string> Words { get; } = [];

    public static string DefaultHome() =>
        Environment.GetEnvironmentVariable("MLMODEL_HOME") is { Length: > 0 } home
            ? home
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".mlmodel");

    /// <summary>Reads the arguments; a usage error is an <see cref="ArgumentException"/> (exit code 2).</summary>
    public static CliOptions Read(string[] args)
    {
        var o = new CliOptions();
        for (var i = 0; i < args.Length; i++)
        {
            var a = args[i];
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{a} needs a value");
            switch (a)
            {
                case "-c" or "--command":
                    o.Command = Next();
                    break;
                case "--input" or "-i":
                    o.Input = Next();
                    if (o.Input.Length == 0)
                    {
                        throw new ArgumentException("--input needs a file (rows.csv, rows.jsonl) or - for standard input");
                    }
                    break;
                case "--home":
                    o.Home = Next();
                    break;
                case "--user" or "-u":
                    o.User = Next();
                    break;
                case "--admin":
                    o.Admin = true;
                    break;
                case "--format" or "-f":
                    o.Format = Next();
                    if (o.Format is not ("table" or "json" or "csv"))
                    {
                        throw new ArgumentException($"--format takes table, json or csv, not '{o.Format}'");
                    }
                    break;
                case "--database":
                    o.Database = Next();
                    break;
                case "--serving-url":
                    o.ServingUrl = Next();
                    break;
                case "--server-serving-root":
                    o.ServerServingRoot = Next();
                    if (!o.ServerServingRoot.StartsWith('/'))
                    {
                        throw new ArgumentException($"--server-serving-root takes an absolute path as TensorFlow Serving sees it (e.g. /models), not '{o.ServerServingRoot}'");
                    }
                    break;
                case "--serving-timeout":
                    var seconds = Next();
                    o.ServingTimeout = int.TryParse(seconds, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) && n > 0
                        ? TimeSpan.FromSeconds(n)
                        : throw new ArgumentException($"--serving-timeout takes a whole number of seconds, not '{seconds}'");
                    break;
                case "--store":
                    o.Store = Next();
                    o.StoreSource = "--store";
                    if (string.IsNullOrWhiteSpace(o.Store))
                    {
                        throw new ArgumentException("--store needs a connector id (see: mlmodel connector list)");
                    }
                    break;
                case "--parse":
                    o.Parse = true;
                    break;
                case "--no-progress":
                    o.NoProgress = true;
                    break;
                case "--no-sync":
                    o.NoSync = true;
                    break;
                case "-h" or "--help":
                    o.Help = true;
                    break;
                case "--version":
                    o.Version = true;
                    break;
                default:
                    if (a.StartsWith('-') && a != "-" && o.Words.Count == 0)
                    {
                        throw new ArgumentException($"unknown option '{a}'");
                    }
                    o.Words.Add(a);
                    break;
            }
        }
        return o;
    }
}
