using System.Text;
using MlModel.Dsl;

namespace MlModel.Cli;

/// <summary>How <see cref="LineEditor.ReadLine"/> ended.</summary>
internal enum LineKind
{
    /// <summary>Enter: <see cref="LineRead.Text"/> holds the line.</summary>
    Line,
    /// <summary>Ctrl-C: the line is dropped.</summary>
    Interrupted,
    /// <summary>Ctrl-D on an empty line, or the end of input.</summary>
    EndOfInput,
}

internal readonly record struct LineRead(LineKind Kind, string? Text);

/// <summary>
/// A small line editor for the REPL: left/right, home/end (also Ctrl-A/Ctrl-E), backspace/delete,
/// up/down through history (kept in a file), Tab completion of operations, parameter keys and
/// closed values; Ctrl-U clears the line, Ctrl-C drops it (and what the prompt had pending),
/// Ctrl-D on an empty line ends the input. Ctrl-C is read as a key here, not as a signal: while a
/// line is edited, the terminal's interrupt key belongs to the editor; while a command runs, it
/// cancels the command. Falls back to <see cref="Console.ReadLine"/> when input is not a terminal.
/// </summary>
internal sealed class LineEditor(string historyFile)
{
    private readonly List<string> _history = File.Exists(historyFile) ? File.ReadAllLines(historyFile).TakeLast(1000).ToList() : [];

    public LineRead ReadLine(string prompt)
    {
        Console.Write(prompt);
        if (Console.IsInputRedirected)
        {
            return Console.ReadLine() is { } redirected ? new LineRead(LineKind.Line, redirected) : new LineRead(LineKind.EndOfInput, null);
        }
        var treatControlCAsInput = Console.TreatControlCAsInput;
        Console.TreatControlCAsInput = true;
        try
        {
            return Edit(prompt);
        }
        finally
        {
            Console.TreatControlCAsInput = treatControlCAsInput;
        }
    }

    private LineRead Edit(string prompt)
    {
        var buffer = new StringBuilder();
        var cursor = 0;
        var historyIndex = _history.Count;
        var startLeft = Console.CursorLeft;

        void Redraw()
        {
            Console.CursorLeft = startLeft;
            Console.Write(buffer + " \b");
            Console.Write(new string(' ', Math.Max(0, Console.WindowWidth - startLeft - buffer.Length - 1)));
            Console.CursorLeft = Math.Min(Console.WindowWidth - 1, startLeft + cursor);
        }

        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            switch (key.Key)
            {
                case ConsoleKey.Enter:
                    Console.WriteLine();
                    var line = buffer.ToString();
                    if (line.Trim().Length > 0 && (_history.Count == 0 || _history[^1] != line))
                    {
                        _history.Add(line);
                        try
                        {
                            File.AppendAllLines(historyFile, [line]);
                        }
                        catch (IOException)
                        {
                            // History is a convenience; a read-only home must not stop the REPL.
                        }
                    }
                    return new LineRead(LineKind.Line, line);
                case ConsoleKey.C when key.Modifiers.HasFlag(ConsoleModifiers.Control):
                    // As a shell does: show it, leave the line as it was typed, start afresh.
                    cursor = buffer.Length;
                    Redraw();
                    Console.WriteLine("^C");
                    return new LineRead(LineKind.Interrupted, null);
                case ConsoleKey.D when key.Modifiers.HasFlag(ConsoleModifiers.Control) && buffer.Length == 0:
                    Console.WriteLine();
                    return new LineRead(LineKind.EndOfInput, null);
                case ConsoleKey.D when key.Modifiers.HasFlag(ConsoleModifiers.Control):
                    if (cursor < buffer.Length)
                    {
                        buffer.Remove(cursor, 1);
                    }
                    break;
                case ConsoleKey.U when key.Modifiers.HasFlag(ConsoleModifiers.Control):
                    buffer.Clear();
                    cursor = 0;
                    break;
                case ConsoleKey.A when key.Modifiers.HasFlag(ConsoleModifiers.Control):
                    cursor = 0;
                    break;
                case ConsoleKey.E when key.Modifiers.HasFlag(ConsoleModifiers.Control):
                    cursor = buffer.Length;
                    break;
                case ConsoleKey.Backspace when cursor > 0:
                    buffer.Remove(--cursor, 1);
                    break;
                case ConsoleKey.Delete when cursor < buffer.Length:
                    buffer.Remove(cursor, 1);
                    break;
                case ConsoleKey.LeftArrow when cursor > 0:
                    cursor--;
                    break;
                case ConsoleKey.RightArrow when cursor < buffer.Length:
                    cursor++;
                    break;
                case ConsoleKey.Home:
                    cursor = 0;
                    break;
                case ConsoleKey.End:
                    cursor = buffer.Length;
                    break;
                case ConsoleKey.UpArrow when historyIndex > 0:
                    buffer.Clear().Append(_history[--historyIndex]);
                    cursor = buffer.Length;
                    break;
                case ConsoleKey.DownArrow when historyIndex < _history.Count:
                    historyIndex++;
                    buffer.Clear().Append(historyIndex < _history.Count ? _history[historyIndex] : "");
                    cursor = buffer.Length;
                    break;
                case ConsoleKey.Tab:
                    var (completed, options) = Complete(buffer.ToString(0, cursor));
                    if (completed is not null)
                    {
                        buffer.Insert(cursor, completed);
                        cursor += completed.Length;
                    }
                    else if (options.Count > 1)
                    {
                        Console.WriteLine();
                        Console.WriteLine(string.Join("  ", options));
                        Console.Write(prompt);
                        startLeft = Console.CursorLeft;
                    }
                    break;
                default:
                    if (!char.IsControl(key.KeyChar))
                    {
                        buffer.Insert(cursor++, key.KeyChar);
                    }
                    break;
            }
            Redraw();
        }
    }

    /// <summary>What Tab adds after <paramref name="text"/>, or the candidates when it is ambiguous.</summary>
    internal static (string? Completion, IReadOnlyList<string> Options) Complete(string text)
    {
        var words = text.Split([' ', '\t'], StringSplitOptions.None);
        var current = words[^1];
        var previous = words.Where(w => w.Length > 0).SkipLast(current.Length > 0 ? 1 : 0).ToList();
        // The command word: mlmodel (which a prompt lets people leave out) or serving.
        var command = MlModelLanguage.Commands[0];
        if (previous.Count > 0 && MlModelLanguage.FindCommand(previous[0]) is { } named)
        {
            command = named;
            previous.RemoveAt(0);
        }

        IEnumerable<string> candidates;
        if (previous.Count == 0)
        {
            candidates = command.Operations.Select(o => o.Name + " ");
            if (command == MlModelLanguage.Commands[0] && words.Count(w => w.Length > 0) <= 1)
            {
                candidates = candidates.Concat(MlModelLanguage.Commands.Skip(1).Select(c => c.Name + " "));
            }
        }
        else if (command.Find(previous[0]) is { } op)
        {
            var eq = current.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                var key = current[..eq];
                var p = op.Parameters.FirstOrDefault(p => p.Key == key);
                candidates = (p?.Values ?? []).Select(v => key + "=" + v + " ");
            }
            else
            {
                var used = previous.Select(w => w.Split('=')[0]).ToHashSet();
                candidates = op.Parameters.Where(p => !used.Contains(p.Key)).Select(p => p.Key + "=");
            }
        }
        else
        {
            return (null, []);
        }

        var matches = candidates.Where(c => c.StartsWith(current, StringComparison.OrdinalIgnoreCase)).ToList();
        if (matches.Count == 0)
        {
            return (null, []);
        }
        var common = matches.Aggregate((a, b) => a[..a.Zip(b).TakeWhile(p => p.First == p.Second).Count()]);
        return common.Length > current.Length ? (common[current.Length..], matches) : (null, matches);
    }
}
