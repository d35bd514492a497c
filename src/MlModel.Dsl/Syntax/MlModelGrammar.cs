using Pidgin;
using static Pidgin.Parser;
using static Pidgin.Parser<char>;

namespace MlModel.Dsl.Syntax;

/// <summary>
/// The Pidgin grammar of one <c>mlmodel</c> command: sections 1 and 2 of
/// <c>grammar/mlmodel.ebnf</c>, production by production, in Pidgin's public combinators. It is
/// context-free: it knows no operation or key names. A host whose own query grammar is written
/// in Pidgin composes <see cref="Command"/>; it stops before an unquoted <c>|</c>.
/// </summary>
/// <remarks>
/// Where a production can fail, it is labelled with what was expected there ("a value");
/// <see cref="SyntaxErrors"/> turns Pidgin's error into the library's. <c>Try</c> appears where
/// alternatives share a prefix: a host's commands and the white space before <c>mlmodel</c>,
/// and <c>base64(</c> against a bare word. What the combinators cost is measured in
/// <c>docs/performance.md</c>.
/// </remarks>
public static class MlModelGrammar
{
    internal static bool IsWhiteSpace(char c) => Lexemes.IsWhiteSpace(c);

    /// <summary>Characters a bare word may hold (spec B.1).</summary>
    internal static bool IsBareChar(char c) => Lexemes.IsBareChar(c);

    // ---- 1. Lexical rules

    // white space = { ws char }- ;
    private static readonly Parser<char, Unit> WhiteSpace = Token(static c => Lexemes.IsWhiteSpace(c)).SkipAtLeastOnce();

    private static readonly Parser<char, Unit> OptionalWhiteSpace = Token(static c => Lexemes.IsWhiteSpace(c)).SkipMany();

    // bare word = { bare char }- ;  a word of the language comes back as the cached string.
    private static readonly Parser<char, string> BareWord =
        Token(static c => Lexemes.IsBareChar(c)).SkipAtLeastOnce().MapWithInput(static (word, _) => Lexemes.Intern(word));

    // quoted string = "'" , { ? any character ? - ( "'" | cr | lf ) } , "'" ;
    private static readonly Parser<char, (ValueForm, string)> QuotedString =
        Token(static c => c is not ('\'' or '\r' or '\n')).SkipMany()
            .MapWithInput(static (text, _) => (ValueForm.Quoted, text.ToString()))
            .Between(Char('\''), Char('\'').Labelled(SyntaxLabels.ClosingQuote));

    // base64 value = ci("base64(") , { ? any character ? - ")" } , ")" ;
    private static readonly Parser<char, (ValueForm, string)> Base64Value =
        Token(static c => c != ')').SkipMany()
            .MapWithInput(static (text, _) => (ValueForm.Base64, text.ToString()))
            .Between(Try(CI("base64(")), Char(')').Labelled(SyntaxLabels.ClosingParen));

    // end of command = ? end of input ? | ? lookahead "|" ? ;  no character follows but a '|'.
    // It names no expectation itself: each use does, or not (after "=", the error asks for a value).
    private static readonly Parser<char, Unit> EndOfCommand = Not(Lookahead(AnyCharExcept('|')));

    // boundary = white space | end of command ;
    private static readonly Parser<char, Unit> Boundary = OneOf(
        WhiteSpace.Labelled(SyntaxLabels.WhiteSpace),
        EndOfCommand.Labelled(SyntaxLabels.EndOfCommand));

    // ---- 2. A command

    // value = bare word | quoted string | base64 value ;  a value starts with a quote or a bare
    // character; base64( is tried before a bare word, which could begin the same way.
    /// <summary>A value in any of its three forms, without the white space after it.</summary>
    public static Parser<char, ValueSyntax> Value { get; } = Map(
        static (offset, _, value) => new ValueSyntax(value.Item1, value.Item2, offset),
        CurrentOffset,
        Lookahead(Token(static c => c == '\'' || Lexemes.IsBareChar(c))).Labelled(SyntaxLabels.Value),
        OneOf(Base64Value, BareWord.Select(static word => (ValueForm.Bare, word)), QuotedString));

    // value , boundary ; nullable, because after "=" the value may be missing.
    private static readonly Parser<char, ValueSyntax?> BoundedValue = Value.Before(Boundary)!;

    // [ white space ] , ci("mlmodel") ;  a word of its own (mlmodelx is not the keyword). It
    // consumes nothing unless it is there, so that a host can offer it among its own commands.
    private static readonly Parser<char, int> Keyword =
        Try(OptionalWhiteSpace.Then(CurrentOffset).Before(CI("mlmodel")).Before(Not(Token(static c => Lexemes.IsBareChar(c)))))
            .Labelled(SyntaxLabels.Keyword);

    // operation = bare word ;
    private static readonly Parser<char, (string Word, int Offset)> Operation =
        CurrentOffset.Then(BareWord.Labelled(SyntaxLabels.Operation), static (offset, word) => (word, offset));

    // "=" , [ white space ] , ( value , boundary | end of command ) ;  the value is null when the
    // command ends right after the "=" (the binder reports it).
    private static readonly Parser<char, ValueSyntax?> Assignment =
        Char('=').Then(OptionalWhiteSpace).Then(OneOf(BoundedValue, EndOfCommand.ThenReturn<ValueSyntax?>(null)));

    // parameter = key , [ white space ] , "=" , [ white space ] , ( value , boundary | end of command ) , [ white space ]
    //           | positional name , boundary , [ white space ] ;
    // Both begin with a bare word: an "=" right after it, or after the white space that follows
    // it, makes it a key.
    private static readonly Parser<char, ParameterSyntax> Parameter = Map(
        static (offset, word, value) => value.HasValue
            ? new ParameterSyntax(word, offset, value.Value)
            : new ParameterSyntax(null, offset, new ValueSyntax(ValueForm.Bare, word, offset)),
        CurrentOffset,
        BareWord,
        OneOf(Assignment.Select(Maybe.Just), Boundary.Then(Assignment.Optional())));

    // { parameter } , end of command ;  Many() drops what its last, failed try expected, so the
    // end names it again: "expected a parameter (key=value) or the end of the command".
    // (Parameter.Until(EndOfCommand) keeps it, but tries the end before every parameter, which
    // costs about 100 ns a parameter.)
    private static readonly Parser<char, Unit> EndOfParameters = OneOf(
        EndOfCommand.Labelled(SyntaxLabels.EndOfCommand),
        Fail<Unit>().Labelled(SyntaxLabels.Parameter));

    // command = [ white space ] , ci("mlmodel") , boundary , [ white space ] ,
    //           operation , boundary , [ white space ] , { parameter } , end of command ;
    /// <summary>
    /// One command, from optional leading white space through its last parameter and the white
    /// space after it. It ends at the end of input or before an unquoted <c>|</c>, which it
    /// does not consume. It consumes nothing when the input does not start with <c>mlmodel</c>.
    /// </summary>
    public static Parser<char, CommandSyntax> Command { get; } = CommandFrom(Keyword.Before(Boundary.Labelled(SyntaxLabels.WhiteSpace)));

    /// <summary><see cref="Command"/> followed by the end of input.</summary>
    internal static Parser<char, CommandSyntax> WholeCommand { get; } = Command.Before(End.Labelled(SyntaxLabels.EndOfInput));

    // [ [ white space ] , ci("mlmodel") , boundary ] , [ white space ] ;  at a prompt the keyword
    // may be left out (list name=a): the command then starts at its operation.
    /// <summary><see cref="WholeCommand"/> whose leading <c>mlmodel</c> may be left out (<c>list name=a</c>).</summary>
    internal static Parser<char, CommandSyntax> WholeCommandKeywordOptional { get; } =
        CommandFrom(OneOf(Try(Keyword.Before(Boundary.Labelled(SyntaxLabels.WhiteSpace))), OptionalWhiteSpace.Then(CurrentOffset)))
            .Before(End.Labelled(SyntaxLabels.EndOfInput));

    private static Parser<char, CommandSyntax> CommandFrom(Parser<char, int> keyword) => Map(
        static (start, operation, parameters, end) => new CommandSyntax(
            operation.Word, operation.Offset, parameters as IReadOnlyList<ParameterSyntax> ?? [.. parameters], start, end),
        keyword,
        Operation.Before(Boundary),
        Parameter.Many().Before(EndOfParameters),
        CurrentOffset);

    // ci(s): s with its ASCII letters in either case. Pidgin's CIString compares by culture (the
    // Kelvin sign is a "k" there; the spec folds nothing but ASCII) and builds a string each time.
    private static Parser<char, Unit> CI(string word) => word
        .Select(c => (Lower: c, Upper: char.ToUpperInvariant(c)))
        .Select(c => Token(x => x == c.Lower || x == c.Upper).IgnoreResult())
        .Aggregate((left, right) => left.Then(right));
}
