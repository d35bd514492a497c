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
/// Each production is labelled where it can fail, so an error says what was expected
/// ("expected a value"); <see cref="SyntaxErrors"/> turns Pidgin's error into the library's.
/// <c>Try</c> appears twice, where alternatives share a prefix: a host's commands against the
/// white space before <c>mlmodel</c>, and <c>base64(</c> against a bare word.
/// </remarks>
public static class MlModelGrammar
{
    internal static bool IsWhiteSpace(char c) => Lexemes.IsWhiteSpace(c);

    /// <summary>Characters a bare word may hold (spec B.1).</summary>
    internal static bool IsBareChar(char c) => Lexemes.IsBareChar(c);

    // ---- 1. Lexical rules

    // white space = { ws char }- ;
    private static readonly Parser<char, Unit> WhiteSpace = Token(Lexemes.IsWhiteSpace).SkipAtLeastOnce();

    private static readonly Parser<char, Unit> OptionalWhiteSpace = Token(Lexemes.IsWhiteSpace).SkipMany();

    // bare word = { bare char }- ;  (a word of the language comes back as the cached string)
    private static readonly Parser<char, string> BareWord =
        Token(Lexemes.IsBareChar).SkipAtLeastOnce().MapWithInput(static (word, _) => Lexemes.Intern(word));

    // quoted string = "'" , { ? any character ? - ( "'" | cr | lf ) } , "'" ;
    private static readonly Parser<char, string> QuotedString =
        Token(static c => c is not ('\'' or '\r' or '\n')).SkipMany().MapWithInput(static (text, _) => text.ToString())
            .Between(Char('\'').Labelled(SyntaxLabels.Value), Char('\'').Labelled(SyntaxLabels.ClosingQuote));

    // base64 value = ci("base64(") , { ? any character ? - ")" } , ")" ;
    private static readonly Parser<char, string> Base64Value =
        Token(static c => c != ')').SkipMany().MapWithInput(static (text, _) => text.ToString())
            .Between(Try(CI("base64(")).Labelled(SyntaxLabels.Value), Char(')').Labelled(SyntaxLabels.ClosingParen));

    // end of command = ? end of input ? | ? lookahead "|" ? ;  that is, no character follows but
    // a '|'. It adds no expectation of its own: each use names it, or not (after '=', the error
    // asks for a value).
    private static readonly Parser<char, Unit> EndOfCommand = Not(Lookahead(AnyCharExcept('|')));

    // boundary = white space | end of command ;
    private static readonly Parser<char, Unit> Boundary = OneOf(
        WhiteSpace.Labelled(SyntaxLabels.WhiteSpace),
        EndOfCommand.Labelled(SyntaxLabels.EndOfCommand));

    // ---- 2. A command

    // value = bare word | quoted string | base64 value ;  base64( is tried before a bare word,
    // which could begin the same way.
    /// <summary>A value in any of its three forms, without the white space after it.</summary>
    public static Parser<char, ValueSyntax> Value { get; } = OneOf(
        Form(ValueForm.Quoted, QuotedString),
        Form(ValueForm.Base64, Base64Value),
        Form(ValueForm.Bare, BareWord.Labelled(SyntaxLabels.Value)));

    // value , boundary ; typed as nullable, because after "=" the value may be missing.
    private static readonly Parser<char, ValueSyntax?> BoundedValue = Value.Before(Boundary)!;

    // [ white space ] , ci("mlmodel"): a word of its own, so mlmodelx is not the keyword. It
    // consumes nothing unless it is there, so that a host can offer it among its own commands.
    private static readonly Parser<char, int> Keyword =
        Try(OptionalWhiteSpace.Then(CurrentOffset).Before(CI("mlmodel")).Before(Not(Token(Lexemes.IsBareChar))))
            .Labelled(SyntaxLabels.Keyword);

    // operation = bare word ;
    private static readonly Parser<char, (string Word, int Offset)> Operation =
        CurrentOffset.Then(BareWord.Labelled(SyntaxLabels.Operation), static (offset, word) => (word, offset));

    // parameter = key , [ white space ] , "=" , [ white space ] , ( value , boundary | end of command ) , [ white space ]
    //           | positional name , boundary , [ white space ] ;
    // Both begin with a bare word; an "=" after it (and its white space) makes it a key. The
    // value is null when the command ends right after the "=" (the binder reports it).
    private static readonly Parser<char, ParameterSyntax> Parameter = Map(
        static (offset, word, value) => value.HasValue
            ? new ParameterSyntax(word, offset, value.Value)
            : new ParameterSyntax(null, offset, new ValueSyntax(ValueForm.Bare, word, offset)),
        CurrentOffset,
        BareWord.Labelled(SyntaxLabels.Parameter).Before(OneOf(Lookahead(Char('=')).Labelled(SyntaxLabels.EqualsSign).IgnoreResult(), Boundary)),
        Char('=')
            .Then(OptionalWhiteSpace)
            .Then(OneOf(BoundedValue, EndOfCommand.ThenReturn<ValueSyntax?>(null)))
            .Optional());

    /// <summary>
    /// One command, from optional leading white space through its last parameter and the white
    /// space after it. It ends at the end of input or before an unquoted <c>|</c>, which it
    /// does not consume. It consumes nothing when the input does not start with <c>mlmodel</c>.
    /// </summary>
    // command = [ white space ] , ci("mlmodel") , boundary , [ white space ] ,
    //           operation , boundary , [ white space ] , { parameter } , end of command ;
    public static Parser<char, CommandSyntax> Command { get; } = Map(
        static (start, operation, parameters, end) => new CommandSyntax(
            operation.Word, operation.Offset, parameters as IReadOnlyList<ParameterSyntax> ?? [.. parameters], start, end),
        Keyword.Before(Boundary.Labelled(SyntaxLabels.WhiteSpace)),
        Operation.Before(Boundary),
        Parameter.Until(EndOfCommand.Labelled(SyntaxLabels.EndOfCommand)),
        CurrentOffset);

    /// <summary><see cref="Command"/> followed by the end of input.</summary>
    internal static Parser<char, CommandSyntax> WholeCommand { get; } = Command.Before(End.Labelled(SyntaxLabels.EndOfInput));

    // A value as written, with the offset of its first character.
    private static Parser<char, ValueSyntax> Form(ValueForm form, Parser<char, string> text) =>
        CurrentOffset.Then(text, (offset, t) => new ValueSyntax(form, t, offset));

    // ci(s): s with its ASCII letters in either case. Pidgin's CIString compares by culture, in
    // which some letters outside ASCII fold onto ASCII ones; the spec folds nothing but ASCII.
    private static Parser<char, Unit> CI(string word) => word
        .Select(c => (Lower: c, Upper: char.ToUpperInvariant(c)))
        .Select(c => Token(x => x == c.Lower || x == c.Upper).IgnoreResult())
        .Aggregate((left, right) => left.Then(right));
}
