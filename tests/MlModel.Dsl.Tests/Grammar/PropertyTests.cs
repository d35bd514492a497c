using FsCheck;
using FsCheck.Fluent;
using FsCheckProperty = FsCheck.NUnit.PropertyAttribute;

namespace MlModel.Dsl.Tests.Grammar;

/// <summary>A valid command record, made by <see cref="CommandGenerators"/>.</summary>
public sealed record ValidCommand(MlModelCommand Command)
{
    public override string ToString() => Command.ToString();
}

/// <summary>Text that may or may not be a command.</summary>
public sealed record FuzzText(string Text)
{
    public override string ToString() => System.Text.Json.JsonSerializer.Serialize(Text);
}

/// <summary>Generators of valid commands (spec B.1, B.2) and of text near the language.</summary>
public static class CommandGenerators
{
    private static readonly char[] AsciiLetters = [.. "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"];
    private static readonly char[] Digits = [.. "0123456789"];

    // Letters and digits of several scripts: Korean syllables, Greek, Cyrillic, kana, Arabic-Indic digits.
    private static readonly Gen<string> NameStart = Gen.OneOf(
        Gen.Elements(AsciiLetters).Select(c => c.ToString()),
        Gen.Elements(Digits).Select(c => c.ToString()),
        Gen.Choose(0xAC00, 0xD7A3).Select(c => ((char)c).ToString()),
        Gen.Elements("αβγδμωЖжЯяモデル٣").Select(c => c.ToString()),
        Gen.Constant("𝒜"));

    private static readonly Gen<string> NamePart = Gen.Frequency(
        (6, NameStart),
        (1, Gen.Elements("_", ".", "-")));

    /// <summary>A model or user name: 1 to 128 characters (spec B.2).</summary>
    public static Gen<string> Name { get; } = Gen.Frequency(
        (20, from first in NameStart
             from n in Gen.Choose(0, 30)
             from rest in Gen.ListOf(NamePart, n)
             select first + string.Concat(rest)),
        (1, from first in NameStart
            from rest in Gen.ArrayOf(Gen.Elements(AsciiLetters), 127)
            select first + new string(rest)))
        .Where(name => name.Length <= 128);

    /// <summary>Text of every kind: quotes, line breaks, pipes, the delimiters, tabs, NUL, Korean, emoji.</summary>
    public static Gen<string> Text(int maxLength) =>
        Gen.Sized(size => Gen.Choose(0, Math.Min(size * 2, maxLength / 2))
            .SelectMany(n => Gen.ListOf(Gen.Frequency(
                (10, Gen.Elements(AsciiLetters).Select(c => c.ToString())),
                (4, Gen.Elements(" ", " ", "\t", "\n", "\r\n", "\r")),
                (6, Gen.Elements("'", "\"", "|", "=", "(", ")", ",", "\\", "base64(", "''", "mlmodel", "{", "}", ":", "/", ".")),
                (4, Gen.Choose(0xAC00, 0xD7A3).Select(c => ((char)c).ToString())),
                (2, Gen.Elements("🚀", "🤖", "👍🏽", "𝒜")),
                (1, Gen.Elements("\0", "\u00A0", "\u2028", "\uFEFF", "\u0001"))), n))
            .Select(parts => string.Concat(parts))
            .Select(s => s.Length <= maxLength ? s : s[..maxLength].TrimEnd('\uD83D', '\uD835', '\uD83E', '\uD83C')));

    private static Gen<string?> Optional(Gen<string> gen) => Gen.Frequency((1, Gen.Constant<string?>(null)), (2, gen.Select(s => (string?)s)));

    private static Gen<int?> OptionalVersion => Gen.Frequency((1, Gen.Constant<int?>(null)), (3, Version.Select(v => (int?)v)));

    /// <summary>A version: 1 to 2^31-1, with the ends more likely than chance.</summary>
    public static Gen<int> Version { get; } = Gen.Frequency(
        (6, Gen.Choose(1, int.MaxValue)),
        (2, Gen.Choose(1, 20)),
        (1, Gen.Elements(1, int.MaxValue, int.MaxValue - 1, 1_000_000_000)));

    private static readonly Gen<string> Label =
        Gen.Choose(1, 64).SelectMany(n => Gen.ArrayOf(Gen.Elements([.. AsciiLetters, .. Digits, '_']), n)).Select(a => new string(a));

    private static readonly Gen<string> JsonObject = Gen.Elements(
        "{}", "{\"epochs\": 3}", "{\"epochs\": 3, \"batch_size\": 64, \"train_validation_ratio\": 0.8}",
        "{\"설명\": \"it's | \\\"quoted\\\"\\n\", \"nested\": {\"a\": [1, 2, null]}}");

    private static Gen<string> NonEmptyText(int max) => Text(max).Where(s => s.Length > 0);

    /// <summary>Any valid command record.</summary>
    public static Gen<MlModelCommand> Command { get; } = Gen.OneOf(
        from user in Optional(Name)
        from name in Optional(Name)
        from tool in Optional(NonEmptyText(64))
        from serving in Gen.Elements<bool?>(null, true, false)
        select (MlModelCommand)new ListCommand(user, name, tool, serving),
        from name in Name
        from user in Optional(Name)
        from version in OptionalVersion
        select (MlModelCommand)new SummaryCommand(name, user, version),
        from name in Name
        from version in Version
        from user in Optional(Name)
        select (MlModelCommand)new DeleteCommand(name, version, user),
        Import(),
        from name in Name
        from user in Optional(Name)
        from version in OptionalVersion
        select (MlModelCommand)new ExportCommand(name, user, version),
        from name in Name
        from user in Optional(Name)
        from version in OptionalVersion
        from label in Optional(Label)
        select (MlModelCommand)new DeployCommand(name, user, version, label),
        from name in Name
        from user in Optional(Name)
        from version in OptionalVersion
        select (MlModelCommand)new StopCommand(name, user, version),
        from name in Name
        from user in Optional(Name)
        from version in OptionalVersion
        select (MlModelCommand)new HistoryCommand(name, user, version),
        from name in Name
        from user in Optional(Name)
        select (MlModelCommand)new StatusCommand(name, user),
        from user in Optional(Name)
        from name in Optional(Name)
        from repair in Gen.Elements(true, false)
        select (MlModelCommand)new CheckCommand(user, name, repair));

    private static Gen<MlModelCommand> Import() =>
        from tool in Gen.Elements("tf", "spark")
        from name in Name
        from kind in NonEmptyText(256)
        from algorithm in tool == "tf" ? NonEmptyText(256).Select(s => (string?)s) : Optional(NonEmptyText(256))
        from format in tool == "tf" ? Gen.Elements(ModelFormat.SavedModel, ModelFormat.H5) : Gen.Constant(ModelFormat.Spark)
        from connector in NonEmptyText(128)
        from path in NonEmptyText(1024)
        from description in Optional(Text(4000))
        from parameter in Optional(JsonObject)
        select (MlModelCommand)new ImportCommand(name, tool, kind, algorithm, format, connector, path, description, parameter);

    /// <summary>Text near the language: words of it, delimiters, white space, and noise.</summary>
    public static Gen<string> NearText { get; } = Gen.Sized(size => Gen.Choose(0, size + 5).SelectMany(n => Gen.ListOf(Gen.Frequency(
        (6, Gen.Elements("mlmodel", "MLMODEL", "list", "summary", "delete", "import", "export", "deploy", "stop", "history", "status", "check",
            "name", "user", "version", "label", "description", "format", "analysis_tool", "serving", "repair", "tf", "saved_model", "frob")),
        (6, Gen.Elements("=", " ", " ", "\t", "\n", "\r\n", "'", "\"", "|", "(", ")", ",", "base64(", "BASE64(", ")", "''", "{", "}", "[", "]", ":")),
        (3, Gen.Elements("1", "0", "-1", "2147483647", "2147483648", "01", "1.0", "dGVzdA==", "7J2066+47KeAIOu2hOulmA==", "/w==", "=")),
        (2, Gen.Elements("모델", "🚀", "\0", "\u00A0", "\uD800", "\uDFFF", "\u212A", "ｎ", "\u2028", "\\")),
        (2, Gen.Choose(0, 0xFFFF).Select(c => ((char)c).ToString()))), n)).Select(string.Concat));

    /// <summary>A valid command's text or dsl-object, randomly damaged.</summary>
    public static Gen<string> Mutated { get; } =
        from command in Command
        from json in Gen.Elements(false, true)
        from mutations in Gen.Choose(1, 4).SelectMany(n => Gen.ListOf(Mutation, n))
        select mutations.Aggregate(json ? command.ToJson() : command.ToString(), (text, mutate) => mutate(text));

    private static Gen<Func<string, string>> Mutation { get; } = Gen.OneOf(
        // Insert a character that matters to the grammar (or to JSON).
        Gen.Zip(Gen.Choose(0, 10_000), Gen.Elements("'", "\"", "=", "|", "(", ")", ",", " ", "\n", "\\", "{", "}", ":", "\uD800", "\0", "base64("))
            .Select(t => (Func<string, string>)(s => s.Insert(t.Item1 % (s.Length + 1), t.Item2))),
        // Delete a character.
        Gen.Choose(0, 10_000).Select(i => (Func<string, string>)(s => s.Length == 0 ? s : s.Remove(i % s.Length, 1))),
        // Cut the end off.
        Gen.Choose(0, 10_000).Select(i => (Func<string, string>)(s => s[..(i % (s.Length + 1))])),
        // Repeat a slice (duplicate keys, doubled quotes).
        Gen.Zip(Gen.Choose(0, 10_000), Gen.Choose(1, 20)).Select(t => (Func<string, string>)(s =>
        {
            if (s.Length == 0)
            {
                return s;
            }
            var start = t.Item1 % s.Length;
            var slice = s.Substring(start, Math.Min(t.Item2, s.Length - start));
            return s.Insert(start, slice);
        })),
        // Swap the case of everything.
        Gen.Constant((Func<string, string>)(s => new string([.. s.Select(c => char.IsUpper(c) ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c))]))));

    public static Arbitrary<ValidCommand> ValidCommands() => Command.Select(c => new ValidCommand(c)).ToArbitrary();

    public static Arbitrary<FuzzText> FuzzTexts() => Gen.OneOf(NearText, Mutated, Text(300)).Select(t => new FuzzText(t)).ToArbitrary();
}

/// <summary>
/// Properties over random input: valid commands round-trip through text and dsl-object; any
/// text either parses or fails with <see cref="MlModelException"/>, in bounded time.
/// </summary>
[Parallelizable(ParallelScope.Self)]
public class PropertyTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(2);

    [FsCheckProperty(Arbitrary = new[] { typeof(CommandGenerators) }, MaxTest = 1000, QuietOnSuccess = true)]
    public void Valid_commands_round_trip_through_text(ValidCommand valid)
    {
        var text = valid.Command.ToString();
        MlModelParser.Parse(text).Should().Be(valid.Command, "the canonical text is {0}", text);
    }

    [FsCheckProperty(Arbitrary = new[] { typeof(CommandGenerators) }, MaxTest = 1000, QuietOnSuccess = true)]
    public void Valid_commands_round_trip_through_the_dsl_object(ValidCommand valid)
    {
        var json = valid.Command.ToJson();
        MlModelParser.ParseJson(json).Should().Be(valid.Command, "the dsl-object is {0}", json);
        MlModelParser.ParseAny(valid.Command.ToJson(indented: true)).Should().Be(valid.Command);
    }

    [FsCheckProperty(Arbitrary = new[] { typeof(CommandGenerators) }, MaxTest = 300, QuietOnSuccess = true)]
    public void Valid_commands_are_found_in_a_query(ValidCommand valid)
    {
        var query = "search index=models | where x = '|' | " + valid.Command + " | head 10";
        var stage = MlModelParser.ParseQuery(query);
        stage.Command.Should().Be(valid.Command);
        stage.Before.Should().Be("search index=models | where x = '|'");
        stage.After.Should().Be("head 10");
    }

    [FsCheckProperty(Arbitrary = new[] { typeof(CommandGenerators) }, MaxTest = 2000, QuietOnSuccess = true)]
    public void Any_text_parses_or_fails_with_the_library_error_in_bounded_time(FuzzText fuzz)
    {
        OnlyMlModelException(() => MlModelParser.Parse(fuzz.Text));
        OnlyMlModelException(() => MlModelParser.ParseAny(fuzz.Text));
        OnlyMlModelException(() => MlModelParser.ParseJson(fuzz.Text));
        OnlyMlModelException(() => MlModelParser.ParseQuery(fuzz.Text));
        OnlyMlModelException(() => MlModelParser.ParseSyntax(fuzz.Text));
    }

    [FsCheckProperty(Arbitrary = new[] { typeof(CommandGenerators) }, MaxTest = 500, QuietOnSuccess = true)]
    public void A_command_that_parses_renders_to_text_that_parses_to_it(FuzzText fuzz)
    {
        if (MlModelParser.TryParse(fuzz.Text, out var command, out _))
        {
            MlModelParser.Parse(command.ToString()).Should().Be(command);
            MlModelParser.ParseJson(command.ToJson()).Should().Be(command);
        }
    }

    /// <summary>Runs <paramref name="parse"/> with a time limit; anything but success or our exception fails.</summary>
    internal static void OnlyMlModelException(Func<object?> parse)
    {
        var task = Task.Run(() =>
        {
            try
            {
                parse();
            }
            catch (MlModelException e)
            {
                // The library's own error: it must be complete.
                e.Error.Code.Should().NotBeNullOrEmpty();
                e.Error.Message.Should().Match(m => m.StartsWith("mlmodel", StringComparison.Ordinal) || m.StartsWith("serving", StringComparison.Ordinal));
                e.Error.Message.Should().NotContainAny("\n", "\r");
                (e.Error.Line is null).Should().Be(e.Error.Column is null);
            }
        });
        bool ended;
        try
        {
            ended = task.Wait(Limit);
        }
        catch (AggregateException failure)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure.InnerException!).Throw();
            throw;
        }
        ended.Should().BeTrue($"a parse must end within {Limit.TotalSeconds} s");
    }
}
