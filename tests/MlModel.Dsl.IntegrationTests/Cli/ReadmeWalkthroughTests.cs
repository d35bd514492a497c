using System.Text;
using System.Text.RegularExpressions;
using MlModel.Dsl.IntegrationTests.Support;

namespace MlModel.Dsl.IntegrationTests.Cli;

/// <summary>The README's walkthrough, command by command, against a fresh home: what a newcomer pastes must work.</summary>
public partial class ReadmeWalkthroughTests
{
    [Test]
    public async Task The_readme_walkthrough_runs_in_order_and_again_on_the_same_home()
    {
        var readme = await File.ReadAllTextAsync(Path.Combine(TestPaths.RepoRoot, "README.md"));
        var block = WalkthroughBlock().Match(readme);
        block.Success.Should().BeTrue("the README has a walkthrough block");
        var lines = block.Groups[1].Value.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        lines.Count(l => l.StartsWith("mlmodel ", StringComparison.Ordinal)).Should().BeGreaterThanOrEqualTo(9);

        using var home = new TempFolder();
        // Twice on one home, as a user who pastes it again would: it uses the version it just imported.
        for (var run = 1; run <= 2; run++)
        {
            var outputs = new List<(string Line, string Out)>();
            var variables = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var line in lines)
            {
                if (line.StartsWith("dotnet build", StringComparison.Ordinal) || line.StartsWith("alias ", StringComparison.Ordinal) || line.StartsWith("export MLMODEL_HOME=", StringComparison.Ordinal))
                {
                    continue; // the test runs the CLI in-process, on its own home
                }
                var expanded = line.Replace("$MLMODEL_HOME", home.Path, StringComparison.Ordinal);
                foreach (var (name, value) in variables)
                {
                    expanded = expanded.Replace("${" + name + "}", value, StringComparison.Ordinal).Replace("$" + name, value, StringComparison.Ordinal);
                }
                if (Assignment().Match(expanded) is { Success: true } assign)
                {
                    // NAME=$(mlmodel ... | shell filters): the mlmodel part in-process, the filters in the shell.
                    var (code0, out0, err0) = await MlModelAsync(assign.Groups["command"].Value, home.Path);
                    code0.Should().Be(0, $"'{line}' should succeed, but said: {err0}");
                    var captured = Path.Combine(home.Path, "captured.txt");
                    await File.WriteAllTextAsync(captured, out0);
                    var (code1, value) = Shell($"cat '{captured}' | {assign.Groups["filters"].Value}", home.Path);
                    code1.Should().Be(0, line);
                    variables[assign.Groups["name"].Value] = value.Trim();
                    continue;
                }
                if (expanded.StartsWith("mlmodel ", StringComparison.Ordinal))
                {
                    var (code, output, error) = await MlModelAsync(expanded, home.Path);
                    code.Should().Be(0, $"'{line}' should succeed (run {run}), but said: {error}");
                    outputs.Add((line, output));
                }
                else
                {
                    var (code, output) = Shell(expanded, home.Path);
                    code.Should().Be(0, $"'{line}' should succeed (run {run}), but said: {output}");
                    outputs.Add((line, output));
                }
            }

            variables["V"].Should().Be(run.ToString(System.Globalization.CultureInfo.InvariantCulture));
            string Out(string prefix) => outputs.First(o => o.Line.StartsWith(prefix, StringComparison.Ordinal)).Out;
            Out("mlmodel import").Should().MatchRegex($@"ok\s+\|\s+half_plus_two\s+\|\s+{run}");
            Out("mlmodel list").Split('\n')[0].Split('|').Should().HaveCount(17);
            Out("mlmodel summary").Should().Contain("saved_model.pb");
            Out("mlmodel export").Should().Contain("file://").And.Contain("3600");
            Out("tar -tf").Should().Contain("MANIFEST.sha256").And.Contain("saved_model.pb");
            Out("mlmodel deploy").Should().MatchRegex($@"on\s+\|\s+{run} \| root_half_plus_two");
            Out("mlmodel status").Should().MatchRegex($@"{run} \| on\s+\| stable \| listed \| stable");
            Out("cat ").Should().Contain("name: 'root_half_plus_two'");
            Out("mlmodel stop").Should().Contain("off");
            Out("mlmodel delete").Should().Contain("ok");
            Out("mlmodel history").Should().Contain("(4 rows)", "import, deploy, stop and delete of this version");
        }
    }

    private static async Task<(int Code, string Out, string Err)> MlModelAsync(string line, string home)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var words = ShellWords(line).Skip(1).ToArray();
        var code = await MlModel.Cli.Cli.RunAsync(["--home", home, "--no-progress", .. words], stdout, stderr, CancellationToken.None);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [GeneratedRegex(@"^(?<name>[A-Z_]+)=\$\((?<command>mlmodel [^|]*?) \| (?<filters>.*)\)\s*(#.*)?$")]
    private static partial Regex Assignment();

    [GeneratedRegex("<!-- walkthrough[^>]*-->\\s*```sh\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex WalkthroughBlock();

    /// <summary>POSIX-style word splitting with single and double quotes (enough for the README).</summary>
    private static List<string> ShellWords(string line)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        var inWord = false;
        char? quote = null;
        foreach (var c in line)
        {
            if (quote is not null)
            {
                if (c == quote)
                {
                    quote = null;
                }
                else
                {
                    current.Append(c);
                }
            }
            else if (c is '\'' or '"')
            {
                quote = c;
                inWord = true;
            }
            else if (c == ' ')
            {
                if (inWord)
                {
                    words.Add(current.ToString());
                    current.Clear();
                    inWord = false;
                }
            }
            else
            {
                current.Append(c);
                inWord = true;
            }
        }
        if (inWord)
        {
            words.Add(current.ToString());
        }
        return words;
    }

    private static (int Code, string Output) Shell(string command, string home)
    {
        var info = new System.Diagnostics.ProcessStartInfo("bash", ["-c", command])
        {
            WorkingDirectory = TestPaths.RepoRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.Environment["MLMODEL_HOME"] = home;
        using var p = System.Diagnostics.Process.Start(info)!;
        var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output);
    }
}
