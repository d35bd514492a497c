using Pidgin;
using static Pidgin.Parser;
using static Pidgin.Parser<char>;

namespace MlModel.Dsl.Syntax;

/// <summary>
/// The Pidgin grammar of one <c>mlmodel</c> or <c>serving</c> command: sections 1 and 2 of
/// <c>grammar/mlmodel.ebnf</c>, production by production, in Pidgin's public combinators. It is
/// context-free: it knows no operation or key names. A host whose own query grammar is written
/// in Pidgin composes <see cref="Command"/>; it stops before an unquoted <c>|</c>.
/// </summary>
/// <remarks>
/// Where a production can fail, it is labelled with what was expected there ("a value");
/// <see cref="SyntaxErrors"/> turns Pidgin's error into the library's. <c>Try</c> appears where
/// alternatives share a prefix: a host's commands and the white space before the command word,
/// <c>base64(</c> and a list's <c>[</c> against a bare word. What the combinators cost is measured in
/// <c>docs/performance.md</c>.
/// </remarks>
public static class MlModelGrammar
{
    // ---- 1. Lexical rules (the character classes are MlModelLexicon's)

    // white space = { ws char }- ;
    private static readonly Parser<char, Unit> WhiteSpace = Token(static c => MlModelLexicon.IsWhiteSpace(c)).SkipAtLeastOnce();

    private static readonly Parser<char, Unit> OptionalWhiteSpace = Token(static c => MlModelLexicon.IsWhiteSpace(c)).SkipMany();

    // bare word = { bare char }- ;  a word of the language comes back as the cached string.
    private static readonly Parser<char, string> BareWord =
        Token(static c => MlModelLexicon.IsBareChar(c)).SkipAtLeastOnce().MapWithInput(static (word, _) => Lexemes.Intern(word));

    // quoted string = "'" , { ? any character ? - ( "'" | cr | lf ) } , "'" ;
    private static readonly Parser<char, string> QuotedString =
        Token(static c => c is not ('\'' or '\r' or '\n')).SkipMany()
            .MapWithInput(static (text, _) => text.ToString())
            .Between(Char('\''), Char('\'').Labelled(SyntaxLabels.ClosingQuote));

    // base64 value = ci("base64(") , { ? any character ? - ")" } , ")" ;
    private static readonly Parser<char, string> Base64Text =
        Token(static c => c != ')').SkipMany()
            .MapWithInput(static (text, _) => text.ToString())
            .Between(Try(CI("base64(")), Char(')').Labelled(SyntaxLabels.ClosingParen));

    // end of command = ? end of input ? | ? lookahead "|" ? ;  no character follows but a '|'.
    // It names no expectation itself: each use does, or not (after "=", the error asks for a value).
    private static readonly Parser<char, Unit> EndOfCommand = Not(Lookahead(AnyCharExcept('|')));

    // boundary = white space | end of command ;
    private static readonly Parser<char, Unit> Boundary = OneOf(
        WhiteSpace.Labelled(SyntaxLabels.WhiteSpace),
        EndOfCommand.Labelled(SyntaxLabels.EndOfCommand));

    // ---- 2. A command

    private static Parser<char, ValueSyntax> Located(ValueForm form, Parser<char, string> text) =>
        Map((offset, t) => new ValueSyntax(form, t, offset), CurrentOffset, text);

    private static readonly Parser<char, ValueSyntax> BareValue = Located(ValueForm.Bare, BareWord);

    private static readonly Parser<char, ValueSyntax> QuotedValue = Located(ValueForm.Quoted, QuotedString);

    private static readonly Parser<char, ValueSyntax> Base64Value = Located(ValueForm.Base64, Base64Text);

    // item = bare word | quoted string ;  numbers are bare words here: the binder reads them.
    private static readonly Parser<char, ValueSyntax> Item =
        Lookahead(Token(static c => c == '\'' || MlModelLexicon.IsBareChar(c))).Labelled(SyntaxLabels.Item)
            .Then(OneOf(BareValue, QuotedValue));

    // tuple = "(" , [ white space ] , item , [ white space ] ,
    //         { "," , [ white space ] , item , [ white space ] } , [ "," , [ white space ] ] , ")" ;
    // (12,) is a tuple of one item, () none: an error.
    private static readonly Parser<char, ValueSyntax> Tuple = Bracketed(
        ValueForm.Tuple,
        Char('(').Then(OptionalWhiteSpace),
        Item.Before(OptionalWhiteSpace).SeparatedAndOptionallyTerminatedAtLeastOnce(Char(',').Then(OptionalWhiteSpace)),
        Char(')').Labelled(SyntaxLabels.TupleClose));

    // list = "[" , [ white space ] , tuple , [ white space ] ,
    //        { "," , [ white space ] , tuple , [ white space ] } , "]" ;
    // A bare word may begin with "[", but cannot go on to white space or "(": the "[" of a list
    // is the one followed by them, and anything else is a bare word (description=[draft]).
    private static readonly Parser<char, ValueSyntax> List = Bracketed(
        ValueForm.List,
        Try(Char('[').Then(OptionalWhiteSpace).Before(Lookahead(Char('(')))),
        Lookahead(Char('(')).Labelled(SyntaxLabels.Tuple).Then(Tuple).Before(OptionalWhiteSpace)
            .SeparatedAtLeastOnce(Char(',').Then(OptionalWhiteSpace)),
        Char(']').Labelled(SyntaxLabels.ListClose));

    private static Parser<char, ValueSyntax> Bracketed<TOpen, TClose>(
        ValueForm form, Parser<char, TOpen> open, Parser<char, IEnumerable<ValueSyntax>> items, Parser<char, TClose> close) =>
        Map(
            (offset, bracketed) => new ValueSyntax(form, bracketed.Text, offset) { Items = bracketed.Items },
            CurrentOffset,
            items.Between(open, close).MapWithInput(static (text, items) =>
                (Text: text.ToString(), Items: items as IReadOnlyList<ValueSyntax> ?? [.. items])));

    // value = base64 value | list | bare word | quoted string | tuple ;
    // A value starts with a quote, a "(" or a bare character. base64( and a list begin like a
    // bare word, so they are tried before it; one look at the first character spares every
    // other word both tries.
    /// <summary>A value in any of its five forms, without the white space after it.</summary>
    public static Parser<char, ValueSyntax> Value { get; } =
        Lookahead(Token(static c => c is '\'' or '(' || MlModelLexicon.IsBareChar(c))).Labelled(SyntaxLabels.Value)
            .Then(OneOf(
                Lookahead(Token(static c => c is 'b' or 'B' or '[')).Then(OneOf(Base64Value, List)),
                BareValue,
                QuotedValue,
                Tuple));

    /// <summary><see cref="Value"/> followed by the end of input: the whole text is one value.</summary>
    internal static Parser<char, ValueSyntax> WholeValue { get; } = Value.Before(End);

    // value , boundary ; nullable, because after "=" the value may be missing.
    private static readonly Parser<char, ValueSyntax?> BoundedValue = Value.Before(Boundary)!;

    // [ white space ] , command word ;  command word = ci("mlmodel") | ci("serving") ;  a word of
    // its own (mlmodelx is not the keyword). It consumes nothing unless it is there, so that a
    // host can offer it among its own commands.
    private static readonly Parser<char, (int Offset, string Word)> Keyword =
        Try(Map(
                static (offset, word) => (offset, word),
                OptionalWhiteSpace.Then(CurrentOffset),
                OneOf(CI(CommandWords.MlModel).ThenReturn(CommandWords.MlModel), CI(CommandWords.Serving).ThenReturn(CommandWords.Serving)))
            .Before(Not(Token(static c => MlModelLexicon.IsBareChar(c)))))
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

    // command = [ white space ] , command word , boundary , [ white space ] ,
    //           operation , boundary , [ white space ] , { parameter } , end of command ;
    /// <summary>
    /// One command, from optional leading white space through its last parameter and the white
    /// space after it: <c>mlmodel</c> or <c>serving</c>, in any case, then the operation and the
    /// parameters (<see cref="CommandSyntax.Command"/> says which). It ends at the end of input
    /// or before an unquoted <c>|</c>, which it does not consume. It consumes nothing when the
    /// input does not start with one of the two words.
    /// </summary>
    public static Parser<char, CommandSyntax> Command { get; } = CommandFrom(Keyword.Before(Boundary.Labelled(SyntaxLabels.WhiteSpace)));

    /// <summary><see cref="Command"/> followed by the end of input.</summary>
    internal static Parser<char, CommandSyntax> WholeCommand { get; } = Command.Before(End.Labelled(SyntaxLabels.EndOfInput));

    // [ [ white space ] , command word , boundary ] , [ white space ] ;  at a prompt the keyword
    // may be left out (list name=a): the command then starts at its operation, and is mlmodel's.
    /// <summary><see cref="WholeCommand"/> whose leading <c>mlmodel</c> may be left out (<c>list name=a</c>).</summary>
    internal static Parser<char, CommandSyntax> WholeCommandKeywordOptional { get; } =
        CommandFrom(OneOf(
                Try(Keyword.Before(Boundary.Labelled(SyntaxLabels.WhiteSpace))),
                OptionalWhiteSpace.Then(CurrentOffset, static (_, offset) => (offset, CommandWords.MlModel))))
            .Before(End.Labelled(SyntaxLabels.EndOfInput));

    private static Parser<char, CommandSyntax> CommandFrom(Parser<char, (int Offset, string Word)> keyword) => Map(
        static (keyword, operation, parameters, end) => new CommandSyntax(
            operation.Word, operation.Offset, parameters as IReadOnlyList<ParameterSyntax> ?? [.. parameters], keyword.Offset, end)
        {
            Command = keyword.Word,
        },
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
