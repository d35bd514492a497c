// The baseline of GrammarBenchmarks: the grammar as it was before it became plain Pidgin
// combinators (src/MlModel.Dsl/Syntax/Lexemes.cs and MlModelGrammar.cs at commit e8fcfa0),
// frozen here so that both run in the same BenchmarkDotNet run. Its lexemes subclass Pidgin's
// Parser<char, T>, which Pidgin documents as "not intended to be subclassed", over the
// "unstable" TryParse API: that is why it left src/. Only the names changed (namespace,
// HandWrittenGrammar); the code is as it was. It is not used outside the benchmarks.
using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using MlModel.Dsl.Syntax;
using Pidgin;
using static Pidgin.Parser;
using static Pidgin.Parser<char>;

namespace MlModel.Dsl.Benchmarks.Baseline;

/// <summary>
/// The Pidgin grammar of one <c>mlmodel</c> command (spec B.1, <c>grammar/mlmodel.ebnf</c>).
/// It is context-free: it knows no operation or key names. A host whose own query grammar is
/// written in Pidgin composes <see cref="Command"/>; it stops before an unquoted <c>|</c>.
/// </summary>
/// <remarks>
/// The structure is ordinary Pidgin combinators; the lexemes (the keyword, words, the three
/// value forms, the <c>=</c>) are small hand-written Pidgin parsers that scan the input with
/// vectorised span searches (see <c>Lexemes.cs</c>). Each lexeme checks what follows it and
/// consumes the white space after it, so nothing ever backtracks: there is no <c>Try</c>, no
/// <c>Bind</c>, no <c>OneOf</c> on the hot path. That took the syntax of the long import
/// example from about 7 µs to about 1 µs (<c>bench/MlModel.Dsl.Benchmarks/README.md</c>).
/// </remarks>
internal static class HandWrittenGrammar
{
    internal static bool IsWhiteSpace(char c) => Lexemes.IsWhiteSpace(c);

    /// <summary>Characters a bare word may hold (spec B.1).</summary>
    internal static bool IsBareChar(char c) => Lexemes.IsBareChar(c);

    /// <summary>A value in any of its three forms, without the white space after it.</summary>
    internal static Parser<char, ValueSyntax> Value { get; } = new ValueParser(Follow.Anything);

    // A value inside a command: it must be followed by white space, a `|` or the end.
    private static readonly Parser<char, ValueSyntax> BoundedValue = new ValueParser(Follow.Boundary);

    private static readonly Parser<char, Lexeme> OperationWord =
        new WordParser(SyntaxLabels.Operation, Follow.Boundary, SyntaxTags.AfterOperation);

    // A key, or a value standing alone (the positional name); `=` may follow either.
    private static readonly Parser<char, Lexeme> ParameterWord =
        new WordParser(SyntaxLabels.Parameter, Follow.BoundaryOrEquals, SyntaxTags.AfterWord);

    private static readonly Parser<char, ParameterSyntax> Parameter = Map(
        static (word, assignment) => assignment.HasEquals
            ? new ParameterSyntax(word.Text, word.Offset, assignment.Value)
            : new ParameterSyntax(null, word.Offset, new ValueSyntax(ValueForm.Bare, word.Text, word.Offset)),
        ParameterWord,
        new AssignmentParser(BoundedValue));

    /// <summary>
    /// One command, from optional leading white space through its last parameter and the white
    /// space after it. It ends at the end of input or before an unquoted <c>|</c>, which it
    /// does not consume. It consumes nothing when the input does not start with <c>mlmodel</c>.
    /// </summary>
    internal static Parser<char, CommandSyntax> Command { get; } = Map(
        static (start, operation, parameters, end) =>
            new CommandSyntax(operation.Text, operation.Offset, parameters, start, end),
        new KeywordParser(),
        OperationWord,
        new ParameterListParser(Parameter),
        CurrentOffset.Before(new EndOfCommandParser(SyntaxLabels.Parameter, SyntaxLabels.EndOfCommand)));

    /// <summary><see cref="Command"/> followed by the end of input.</summary>
    internal static Parser<char, CommandSyntax> WholeCommand { get; } = Command.Before(new EndOfInputParser());
}

/// <summary>A word as written and the 0-based offset of its first character.</summary>
internal readonly record struct Lexeme(string Text, int Offset);

/// <summary>What <c>key</c> was followed by: <c>=</c> and a value (null when missing), or nothing.</summary>
internal readonly record struct Assignment(bool HasEquals, ValueSyntax? Value);

/// <summary>What may follow a lexeme (spec B.1): white space, the end, a <c>|</c>, and for a key a <c>=</c>.</summary>
internal enum Follow { Boundary, BoundaryOrEquals, Anything }

/// <summary>
/// The lexical layer of the grammar as hand-written Pidgin parsers. Pidgin's own
/// <c>Token(predicate)</c> costs a delegate call per character and every <c>Labelled</c> rents a
/// list; these scan the input with vectorised span searches and report failures the way
/// Pidgin's primitives do (<see cref="ParseState{TToken}.SetError"/> plus an expected label), so
/// they compose with ordinary combinators. The <c>message</c> of an error carries a tag from
/// <see cref="SyntaxTags"/> that says where the failure happened, for the error translator.
/// </summary>
internal static class Lexemes
{
    internal static readonly SearchValues<char> WhiteSpace = SearchValues.Create(" \t\r\n");

    // Spec B.1: a bare word is any run of characters other than these.
    internal static readonly SearchValues<char> NonBare = SearchValues.Create(" \t\r\n'\"=|(),");

    /// <summary>
    /// Words the language uses everywhere (keys, operations, the closed values). A word equal to
    /// one of them is returned as that string rather than a new one, so a typical command
    /// allocates no key strings, and the binder finds keys by reference. This is a string
    /// cache, not grammar: the syntax still accepts any word. A test checks that every key and
    /// operation of the binder's tables is here.
    /// </summary>
    internal static readonly string[] KnownWords =
    [
        "mlmodel", "list", "summary", "delete", "import", "export", "deploy", "stop", "history", "status", "check",
        "user", "name", "version", "analysis_tool", "kind", "algorithm", "format", "connector_id", "path",
        "description", "parameter", "label", "serving", "repair",
        "tf", "spark", "saved_model", "h5", "on", "off", "true", "false", "stable", "unstable",
        "classification", "regression", "deep", "root", "demo",
    ];

    // KnownWords by length: a FrozenSet lookup hashes the span (about 30 ns); comparing a few
    // candidates of the same length and first letter costs a few.
    private static readonly string[][] KnownByLength = BuildKnownByLength();

    private static string[][] BuildKnownByLength()
    {
        var max = KnownWords.Max(w => w.Length);
        var buckets = new string[max + 1][];
        for (var length = 0; length <= max; length++)
        {
            buckets[length] = [.. KnownWords.Where(w => w.Length == length)];
        }
        return buckets;
    }

    internal static string Intern(ReadOnlySpan<char> word)
    {
        if (word.Length < KnownByLength.Length)
        {
            foreach (var known in KnownByLength[word.Length])
            {
                if (known[0] == word[0] && word.SequenceEqual(known))
                {
                    return known;
                }
            }
        }
        return word.ToString();
    }

    internal static bool IsWhiteSpace(char c) => c is ' ' or '\t' or '\r' or '\n';

    internal static bool IsBareChar(char c) => !NonBare.Contains(c);

    /// <summary>
    /// The index in the look-ahead of the first character at or after <paramref name="from"/>
    /// that <paramref name="stops"/> matches, or the length of the rest of the input when none
    /// does. <paramref name="window"/> is the look-ahead, valid until the state advances.
    /// </summary>
    internal static int IndexOfStop(ref ParseState<char> state, int from, SearchValues<char> stops, out ReadOnlySpan<char> window)
    {
        var want = 128;
        while (true)
        {
            window = state.LookAhead(want);
            var i = window[from..].IndexOfAny(stops);
            if (i >= 0)
            {
                return from + i;
            }
            if (window.Length < want)
            {
                return window.Length;
            }
            from = window.Length;
            want = want >= int.MaxValue / 2 ? int.MaxValue : want * 2;
        }
    }

    internal static int IndexOfNonWhiteSpace(ref ParseState<char> state, out ReadOnlySpan<char> window)
    {
        var want = 32;
        var from = 0;
        while (true)
        {
            window = state.LookAhead(want);
            var i = window[from..].IndexOfAnyExcept(WhiteSpace);
            if (i >= 0)
            {
                return from + i;
            }
            if (window.Length < want)
            {
                return window.Length;
            }
            from = window.Length;
            want = want >= int.MaxValue / 2 ? int.MaxValue : want * 2;
        }
    }

    internal static void SkipWhiteSpace(ref ParseState<char> state)
    {
        // Usually one space: step over it without a look-ahead window.
        if (state.HasCurrent && IsWhiteSpace(state.Current))
        {
            state.Advance(1);
            if (state.HasCurrent && IsWhiteSpace(state.Current))
            {
                state.Advance(IndexOfNonWhiteSpace(ref state, out _));
            }
        }
    }

    /// <summary>Records a failure at the current position, as Pidgin's primitives do.</summary>
    internal static void Fail(ref ParseState<char> state, ref PooledList<Expected<char>> expecteds, string? tag, params ReadOnlySpan<Expected<char>> expected)
    {
        if (state.HasCurrent)
        {
            state.SetError(Maybe.Just(state.Current), false, state.Location, tag);
        }
        else
        {
            state.SetError(Maybe.Nothing<char>(), true, state.Location, tag);
        }
        expecteds.AddRange(expected);
    }

    internal static readonly Expected<char> ExpectWhiteSpace = new(SyntaxLabels.WhiteSpace);
    internal static readonly Expected<char> ExpectEquals = new(SyntaxLabels.EqualsSign);
    internal static readonly Expected<char> ExpectEnd = new(SyntaxLabels.EndOfCommand);

    /// <summary>
    /// Checks what follows a lexeme (without consuming it), then skips the white space after it.
    /// A failure here comes after the lexeme was consumed, so it is reported at once.
    /// </summary>
    internal static bool FollowedWell(ref ParseState<char> state, ref PooledList<Expected<char>> expecteds, Follow follow, string tag)
    {
        if (follow == Follow.Anything || !state.HasCurrent)
        {
            return true;
        }
        var c = state.Current;
        if (IsWhiteSpace(c))
        {
            SkipWhiteSpace(ref state);
            return true;
        }
        if (c == '|' || (c == '=' && follow == Follow.BoundaryOrEquals))
        {
            return true;
        }
        if (follow == Follow.BoundaryOrEquals)
        {
            Fail(ref state, ref expecteds, tag, ExpectWhiteSpace, ExpectEquals, ExpectEnd);
        }
        else
        {
            Fail(ref state, ref expecteds, tag, ExpectWhiteSpace, ExpectEnd);
        }
        return false;
    }
}

/// <summary>The labels of the grammar's expectations, as they appear in messages.</summary>
internal static class SyntaxLabels
{
    public const string Keyword = "'mlmodel'";
    public const string Operation = "an operation";
    public const string Parameter = "a parameter (key=value)";
    public const string Value = "a value";
    public const string WhiteSpace = "white space";
    public const string EqualsSign = "'='";
    public const string EndOfCommand = "the end of the command";
    public const string EndOfInput = "the end of the input";
    public const string ClosingQuote = "a closing quote (') on the same line";
    public const string ClosingParen = "')' to close base64(";
}

/// <summary>Where a syntax error happened; carried in Pidgin's error message for the translator.</summary>
internal static class SyntaxTags
{
    public const string Keyword = "keyword";
    public const string AfterKeyword = "after-keyword";
    public const string AfterOperation = "after-operation";
    public const string AfterWord = "after-word";
    public const string AfterBare = "after-bare";
    public const string AfterQuoted = "after-quoted";
    public const string AfterBase64 = "after-base64";
    public const string UnclosedQuote = "unclosed-quote";
    public const string UnclosedBase64 = "unclosed-base64";
    public const string Pipe = "pipe";
}

/// <summary>
/// White space, the <c>mlmodel</c> keyword (ASCII, any case) and the white space after it; yields
/// the keyword's offset. It consumes nothing when the input does not start with the keyword, so
/// a host can offer it as one alternative among its own commands.
/// </summary>
internal sealed class KeywordParser : Parser<char, int>
{
    private static readonly Expected<char> Expected = new(SyntaxLabels.Keyword);

    public override bool TryParse(ref ParseState<char> state, ref PooledList<Expected<char>> expecteds, [MaybeNullWhen(false)] out int result)
    {
        var ws = Lexemes.IndexOfNonWhiteSpace(ref state, out _);
        var window = state.LookAhead(ws + 8);
        var word = window[ws..];
        if (word.Length > 7 && Ascii.EqualsIgnoreCase(word[..7], "mlmodel") && !Lexemes.IsWhiteSpace(word[7]) && word[7] != '|' && !Lexemes.IsBareChar(word[7]))
        {
            // `mlmodel'list'`: the keyword is there, but glued to a quote or a bracket.
            state.SetError(Maybe.Just(word[7]), false, state.Location + ws + 7, SyntaxTags.AfterKeyword);
            expecteds.Add(Lexemes.ExpectWhiteSpace);
            result = 0;
            return false;
        }
        if (word.Length < 7 || !Ascii.EqualsIgnoreCase(word[..7], "mlmodel") || (word.Length > 7 && !Lexemes.IsWhiteSpace(word[7]) && word[7] != '|'))
        {
            // Report at the word, not at the white space before it.
            if (word.Length > 0)
            {
                state.SetError(Maybe.Just(word[0]), false, state.Location + ws, SyntaxTags.Keyword);
            }
            else
            {
                state.SetError(Maybe.Nothing<char>(), true, state.Location + ws, SyntaxTags.Keyword);
            }
            expecteds.Add(Expected);
            result = 0;
            return false;
        }
        result = (int)state.Location + ws;
        state.Advance(ws + 7);
        Lexemes.SkipWhiteSpace(ref state);
        return true;
    }
}

/// <summary>A bare word (an operation, a key or a positional value) and the white space after it.</summary>
internal sealed class WordParser(string label, Follow follow, string tag) : Parser<char, Lexeme>
{
    private readonly Expected<char> _expected = new(label);

    public override bool TryParse(ref ParseState<char> state, ref PooledList<Expected<char>> expecteds, [MaybeNullWhen(false)] out Lexeme result)
    {
        var offset = (int)state.Location;
        var end = Lexemes.IndexOfStop(ref state, 0, Lexemes.NonBare, out var window);
        if (end == 0)
        {
            Lexemes.Fail(ref state, ref expecteds, null, _expected);
            result = default;
            return false;
        }
        var text = Lexemes.Intern(window[..end]);
        state.Advance(end);
        result = new Lexeme(text, offset);
        return Lexemes.FollowedWell(ref state, ref expecteds, follow, tag);
    }
}

/// <summary>
/// A value in one of its three forms (spec B.1): <c>'quoted'</c>, <c>base64(...)</c> or a bare
/// word. With <see cref="Follow.Boundary"/> it also checks what follows and skips white space.
/// </summary>
internal sealed class ValueParser(Follow follow) : Parser<char, ValueSyntax>
{
    private static readonly Expected<char> ExpectedValue = new(SyntaxLabels.Value);
    private static readonly Expected<char> ExpectedQuote = new(SyntaxLabels.ClosingQuote);
    private static readonly Expected<char> ExpectedParen = new(SyntaxLabels.ClosingParen);
    private static readonly SearchValues<char> CloseParen = SearchValues.Create(")");

    public override bool TryParse(ref ParseState<char> state, ref PooledList<Expected<char>> expecteds, [MaybeNullWhen(false)] out ValueSyntax result)
    {
        result = null;
        if (!state.HasCurrent)
        {
            Lexemes.Fail(ref state, ref expecteds, null, ExpectedValue);
            return false;
        }
        var offset = (int)state.Location;
        var c = state.Current;
        string tag;
        if (c == '\'')
        {
            var close = Lexemes.IndexOfStop(ref state, 1, QuoteEndChars, out var window);
            if (close == window.Length || window[close] != '\'')
            {
                state.Advance(close);
                Lexemes.Fail(ref state, ref expecteds, SyntaxTags.UnclosedQuote, ExpectedQuote);
                return false;
            }
            result = new ValueSyntax(ValueForm.Quoted, window[1..close].ToString(), offset);
            state.Advance(close + 1);
            tag = SyntaxTags.AfterQuoted;
        }
        else if ((c is 'b' or 'B') && IsBase64Open(ref state))
        {
            var close = Lexemes.IndexOfStop(ref state, 7, CloseParen, out var window);
            if (close == window.Length)
            {
                state.Advance(close);
                Lexemes.Fail(ref state, ref expecteds, SyntaxTags.UnclosedBase64, ExpectedParen);
                return false;
            }
            result = new ValueSyntax(ValueForm.Base64, window[7..close].ToString(), offset);
            state.Advance(close + 1);
            tag = SyntaxTags.AfterBase64;
        }
        else if (Lexemes.IsBareChar(c))
        {
            var end = Lexemes.IndexOfStop(ref state, 0, Lexemes.NonBare, out var window);
            result = new ValueSyntax(ValueForm.Bare, Lexemes.Intern(window[..end]), offset);
            state.Advance(end);
            tag = SyntaxTags.AfterBare;
        }
        else
        {
            Lexemes.Fail(ref state, ref expecteds, null, ExpectedValue);
            return false;
        }
        return Lexemes.FollowedWell(ref state, ref expecteds, follow, tag);
    }

    private static readonly SearchValues<char> QuoteEndChars = SearchValues.Create("'\r\n");

    private static bool IsBase64Open(ref ParseState<char> state)
    {
        var window = state.LookAhead(7);
        return window.Length == 7 && Ascii.EqualsIgnoreCase(window, "base64(");
    }
}

/// <summary>
/// After a word: nothing (it is a positional value), or <c>=</c>, white space and a value. The
/// value is null when the command ends right after the <c>=</c> (the binder reports it).
/// </summary>
internal sealed class AssignmentParser(Parser<char, ValueSyntax> value) : Parser<char, Assignment>
{
    public override bool TryParse(ref ParseState<char> state, ref PooledList<Expected<char>> expecteds, [MaybeNullWhen(false)] out Assignment result)
    {
        if (!state.HasCurrent || state.Current != '=')
        {
            result = default;
            return true;
        }
        state.Advance();
        Lexemes.SkipWhiteSpace(ref state);
        if (!state.HasCurrent || state.Current == '|')
        {
            result = new Assignment(true, null);
            return true;
        }
        if (!value.TryParse(ref state, ref expecteds, out var v))
        {
            result = default;
            return false;
        }
        result = new Assignment(true, v);
        return true;
    }
}

/// <summary>
/// The parameters, in order: <c>Many</c> with the loop written out. Pidgin's <c>Many</c> costs
/// about 200 ns even when there is nothing to repeat (its failing last attempt sets an error
/// and rents an expectations list); this one looks at the next character first and only calls
/// the parameter parser where a parameter starts (a bare character), so nothing fails on the
/// way. It returns an array of exactly the right length.
/// </summary>
internal sealed class ParameterListParser(Parser<char, ParameterSyntax> parameter) : Parser<char, IReadOnlyList<ParameterSyntax>>
{
    public override bool TryParse(ref ParseState<char> state, ref PooledList<Expected<char>> expecteds, [MaybeNullWhen(false)] out IReadOnlyList<ParameterSyntax> result)
    {
        if (!state.HasCurrent || !Lexemes.IsBareChar(state.Current))
        {
            result = [];
            return true;
        }
        var buffer = ArrayPool<ParameterSyntax>.Shared.Rent(16);
        var count = 0;
        try
        {
            do
            {
                if (!parameter.TryParse(ref state, ref expecteds, out var p))
                {
                    result = null;
                    return false;
                }
                if (count == buffer.Length)
                {
                    var bigger = ArrayPool<ParameterSyntax>.Shared.Rent(count * 2);
                    buffer.AsSpan().CopyTo(bigger);
                    ArrayPool<ParameterSyntax>.Shared.Return(buffer, clearArray: true);
                    buffer = bigger;
                }
                buffer[count++] = p;
            }
            while (state.HasCurrent && Lexemes.IsBareChar(state.Current));
            result = buffer.AsSpan(0, count).ToArray();
            return true;
        }
        finally
        {
            ArrayPool<ParameterSyntax>.Shared.Return(buffer, clearArray: true);
        }
    }
}

/// <summary>Succeeds, consuming nothing, at the end of the input or before a <c>|</c>.</summary>
internal sealed class EndOfCommandParser(params string[] labels) : Parser<char, Unit>
{
    private readonly Expected<char>[] _expected = Array.ConvertAll(labels, l => new Expected<char>(l));

    public override bool TryParse(ref ParseState<char> state, ref PooledList<Expected<char>> expecteds, [MaybeNullWhen(false)] out Unit result)
    {
        result = Unit.Value;
        if (!state.HasCurrent || state.Current == '|')
        {
            return true;
        }
        state.SetError(Maybe.Just(state.Current), false, state.Location, null);
        foreach (var e in _expected)
        {
            expecteds.Add(e);
        }
        return false;
    }
}

/// <summary>Succeeds at the end of the input; a <c>|</c> there is tagged for the translator.</summary>
internal sealed class EndOfInputParser : Parser<char, Unit>
{
    private static readonly Expected<char> Expected = new(SyntaxLabels.EndOfInput);

    public override bool TryParse(ref ParseState<char> state, ref PooledList<Expected<char>> expecteds, [MaybeNullWhen(false)] out Unit result)
    {
        result = Unit.Value;
        if (!state.HasCurrent)
        {
            return true;
        }
        state.SetError(Maybe.Just(state.Current), false, state.Location, state.Current == '|' ? SyntaxTags.Pipe : null);
        expecteds.Add(Expected);
        return false;
    }
}
