using Pidgin;
using static Pidgin.Parser;
using static Pidgin.Parser<char>;

namespace MlModel.Dsl.Syntax;

/// <summary>
/// The Pidgin grammar of one <c>mlmodel</c> command (spec B.1, <c>grammar/mlmodel.ebnf</c>).
/// It is context-free: it knows no operation or key names. A host whose own query grammar is
/// written in Pidgin composes <see cref="Command"/>; it stops before an unquoted <c>|</c>.
/// </summary>
/// <remarks>
/// Built for speed as Pidgin's README advises: no LINQ query syntax, no <c>Bind</c>, one
/// <c>Try</c> only (<c>base64(</c> shares its prefix with a bare word), every lexeme consumes
/// the white space after it so no alternative needs to backtrack over it.
/// </remarks>
public static class MlModelGrammar
{
    internal static bool IsWhiteSpace(char c) => c is ' ' or '\t' or '\r' or '\n';

    /// <summary>Characters a bare word may hold (spec B.1).</summary>
    internal static bool IsBareChar(char c) =>
        !IsWhiteSpace(c) && c is not ('\'' or '"' or '=' or '|' or '(' or ')' or ',');

    internal const string WhiteSpaceLabel = "white space";
    internal const string EndLabel = "the end of the command";

    private static readonly Parser<char, Unit> SkipWs = Token(IsWhiteSpace).SkipMany();

    private static readonly Parser<char, Unit> EndOfCommand =
        OneOf(End, Lookahead(Char('|')).Then(Return(Unit.Value))).Labelled(EndLabel);

    // What must follow a word or a value: white space, or the command ends there.
    private static readonly Parser<char, Unit> Boundary =
        OneOf(Token(IsWhiteSpace).SkipAtLeastOnce().Labelled(WhiteSpaceLabel), EndOfCommand);

    private static Parser<char, string> Word(string label) =>
        Token(IsBareChar).AtLeastOnceString().Labelled(label);

    private static readonly Parser<char, ValueSyntax> Base64Value = Map(
        (offset, text) => new ValueSyntax(ValueForm.Base64, text, offset),
        CurrentOffset,
        Try(CIString("base64(")).Labelled("a value").Then(Token(c => c != ')').ManyString())
            .Before(Char(')').Labelled("')' to close base64(")));

    private static readonly Parser<char, ValueSyntax> QuotedValue = Map(
        (offset, text) => new ValueSyntax(ValueForm.Quoted, text, offset),
        CurrentOffset,
        Char('\'').Labelled("a value").Then(Token(c => c is not ('\'' or '\r' or '\n')).ManyString())
            .Before(Char('\'').Labelled("a closing quote on the same line")));

    private static readonly Parser<char, ValueSyntax> BareValue = Map(
        (offset, text) => new ValueSyntax(ValueForm.Bare, text, offset),
        CurrentOffset,
        Word("a value"));

    /// <summary>A value in any of its three forms, without the white space after it.</summary>
    public static Parser<char, ValueSyntax> Value { get; } =
        OneOf(Base64Value, QuotedValue, BareValue);

    // `key=` directly before a `|` or the end: the value is missing (reported by the binder).
    private static readonly Parser<char, ValueSyntax?> ValueOrMissing = OneOf(
        Value.Before(Boundary).Map(v => (ValueSyntax?)v),
        EndOfCommand.Then(Return((ValueSyntax?)null)));

    private static readonly Parser<char, ParameterSyntax> Parameter = Map(
        (offset, word, rest) => rest.HasValue
            ? new ParameterSyntax(word, offset, rest.Value)
            : new ParameterSyntax(null, offset, new ValueSyntax(ValueForm.Bare, word, offset)),
        CurrentOffset,
        Word("a parameter (key=value)"),
        SkipWs.Then(Char('=').Then(SkipWs).Then(ValueOrMissing).Optional()));

    /// <summary>
    /// One command, from optional leading white space through its last parameter and the white
    /// space after it. It ends at the end of input or before an unquoted <c>|</c>, which it
    /// does not consume.
    /// </summary>
    public static Parser<char, CommandSyntax> Command { get; } = Map(
        (start, operationOffset, operation, parameters, end) =>
            new CommandSyntax(operation, operationOffset, parameters, start, end),
        SkipWs.Then(CurrentOffset).Before(CIString("mlmodel").Labelled("'mlmodel'")).Before(Boundary).Before(SkipWs),
        CurrentOffset,
        Word("an operation").Before(Boundary),
        Parameter.Many().Map(IReadOnlyList<ParameterSyntax> (p) => p as List<ParameterSyntax> ?? p.ToList()),
        CurrentOffset.Before(EndOfCommand));

    /// <summary><see cref="Command"/> followed by the end of input.</summary>
    internal static Parser<char, CommandSyntax> WholeCommand { get; } = Command.Before(End.Labelled(EndLabel));
}
