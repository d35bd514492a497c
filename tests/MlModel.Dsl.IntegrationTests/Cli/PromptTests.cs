using System.Diagnostics;
using MlModel.Dsl.IntegrationTests.Support;

namespace MlModel.Dsl.IntegrationTests.Cli;

/// <summary>
/// The interactive prompt in a real terminal: the built mlmodel runs in tmux (its own server, on
/// a socket in the test's own folder), keys go in with send-keys and the screen comes back with capture-pane.
/// scripts/services.sh installs tmux where it is missing.
/// </summary>
[NonParallelizable]
public class PromptTests
{
    private TempFolder _home = null!;
    private string _socket = null!;

    [SetUp]
    public void SetUp()
    {
        _home = new TempFolder();
        _socket = Path.Combine(_home.Path, "tmux.sock");
        var dll = Path.Combine(AppContext.BaseDirectory, "mlmodel.dll");
        // The shell stays after mlmodel ends, to show its exit code on the screen.
        Tmux("new-session", "-d", "-s", "cli", "-x", "150", "-y", "60",
            $"NO_COLOR=1 dotnet '{dll}' --home '{_home.Path}' --no-progress; echo \"[exit $?]\"; sleep 600");
    }

    [TearDown]
    public void TearDown()
    {
        // Only this test's own tmux server, by its socket.
        Tmux(check: false, "kill-server");
        _home.Dispose();
    }

    [Test]
    public void Commands_end_with_a_semicolon_an_empty_line_or_enter_once_complete()
    {
        WaitFor(s => s.EndsWith("mlmodel>", StringComparison.Ordinal));

        // ';' ends it, as --help says (it used to be part of the name).
        Type("list name=hp2;");
        Enter();
        WaitFor(s => s.Contains("(0 rows)"));

        // Enter on a command that lacks a required parameter: the prompt waits for the rest.
        Type("summary");
        Enter();
        WaitFor(s => s.EndsWith("     ...>", StringComparison.Ordinal));
        Type("  name=nope");
        Enter();
        WaitFor(s => s.Contains("mlmodel summary: no model 'nope' of user 'root'"));

        // An empty line runs what is pending, even if it is incomplete: the error says what is missing.
        Type("delete name=x");
        Enter();
        WaitFor(s => s.EndsWith("     ...>", StringComparison.Ordinal));
        Enter();
        WaitFor(s => s.Contains("mlmodel delete: missing required parameter 'version' (line 1, column 1)"));

        // Positions count what was typed: no 'mlmodel ' is counted that the user did not type.
        Type("list nmae=1");
        Enter();
        WaitFor(s => s.Contains("mlmodel list: unknown parameter 'nmae' (line 1, column 6)"));

        // Help inside the prompt.
        Type("deploy --help");
        Enter();
        WaitFor(s => s.Contains("mlmodel deploy (user=)? name= (version=)? (label=)?") && s.Contains("label    optional"));
        Type("exit");
        Enter();
        WaitFor(s => s.Contains("[exit 0]"));
    }

    [Test]
    public void Ctrl_c_and_ctrl_u_clear_the_line_and_ctrl_d_exits()
    {
        WaitFor(s => s.EndsWith("mlmodel>", StringComparison.Ordinal));

        // Ctrl-C drops the line: nothing runs, and it is not joined to the next one.
        Type("delete name=x version=1");
        Key("C-c");
        WaitFor(s => s.Contains("delete name=x version=1^C"));
        Type("list");
        Enter();
        WaitFor(s => s.Contains("(0 rows)"));
        Screen().Should().NotContain("mlmodel delete:").And.NotContain("[exit");

        // Ctrl-C also drops what a continued command had pending.
        Type("import name=x");
        Enter();
        WaitFor(s => s.EndsWith("     ...>", StringComparison.Ordinal));
        Key("C-c");
        Type("summary name=nope");
        Enter();
        WaitFor(s => s.Contains("mlmodel summary: no model 'nope' of user 'root'"));
        Screen().Should().NotContain("mlmodel import:");

        // Ctrl-U clears the line typed so far.
        Type("status name=nothing");
        Key("C-u");
        Type("list name=after_ctrl_u");
        Enter();
        WaitFor(s => s.Split("(0 rows)").Length == 3);
        Screen().Should().NotContain("mlmodel status:");

        // Ctrl-D on an empty line ends the prompt, with exit code 0.
        Key("C-d");
        WaitFor(s => s.Contains("[exit 0]"));
    }

    private void Type(string text) =>
        // -l: the keys as they are; a ';' at the end of an argument is tmux's command separator unless escaped.
        Tmux("send-keys", "-t", "cli", "-l", text.EndsWith(';') ? text[..^1] + "\\;" : text);

    private void Enter() => Key("Enter");

    private void Key(string key) => Tmux("send-keys", "-t", "cli", key);

    private string Screen() => Tmux("capture-pane", "-p", "-J", "-t", "cli").TrimEnd();

    private void WaitFor(Func<string, bool> condition)
    {
        var clock = Stopwatch.StartNew();
        string screen;
        while (!condition(screen = Screen()))
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(60))
            {
                Assert.Fail("the screen never showed what was expected; it shows:\n" + screen);
            }
            Thread.Sleep(50);
        }
    }

    private string Tmux(params string[] args) => Tmux(check: true, args);

    private string Tmux(bool check, params string[] args)
    {
        var info = new ProcessStartInfo("tmux", ["-S", _socket, .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(info) ?? throw new InvalidOperationException("tmux did not start (scripts/services.sh installs it)");
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (check && process.ExitCode != 0)
        {
            Assert.Fail($"tmux {string.Join(' ', args)} failed ({process.ExitCode}): {error}");
        }
        return output;
    }
}
