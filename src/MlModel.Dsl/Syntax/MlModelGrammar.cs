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
/// The structure is ordinary Pidgin combinators; the lexemes (the keyword, words, the three
/// value forms, the <c>=</c>) are small hand-written Pidgin parsers that scan the input with
/// vectorised span searches (see <c>Lexemes.cs</c>). Each lexeme checks what follows it and
/// consumes the white space after it, so nothing ever backtracks: there is no <c>Try</c>, no
/// <c>Bind</c>, no <c>OneOf</c> on the hot path. That took the syntax of the long import
/// example from about 7 µs to about 1 µs (<c>bench/MlModel.Dsl.Benchmarks/README.md</c>).
/// </remarks>
public static class MlModelGrammar
{
    internal static bool IsWhiteSpace(char c) => Lexemes.IsWhiteSpace(c);

    /// <summary>Characters a bare word may hold (spec B.1).</summary>
    internal static bool IsBareChar(char c) => Lexemes.IsBareChar(c);

    /// <summary>A value in any of its three forms, without the white space after it.</summary>
    public static Parser<char, ValueSyntax> Value { get; } = new ValueParser(Follow.Anything);

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
    public static Parser<char, CommandSyntax> Command { get; } = CommandFrom(new KeywordParser());

    /// <summary><see cref="Command"/> followed by the end of input.</summary>
    internal static Parser<char, CommandSyntax> WholeCommand { get; } = Command.Before(new EndOfInputParser());

    /// <summary><see cref="WholeCommand"/> whose leading <c>mlmodel</c> may be left out (<c>list name=a</c>).</summary>
    internal static Parser<char, CommandSyntax> WholeCommandKeywordOptional { get; } =
        CommandFrom(new KeywordParser(optional: true)).Before(new EndOfInputParser());

    private static Parser<char, CommandSyntax> CommandFrom(KeywordParser keyword) => Map(
        static (start, operation, parameters, end) =>
            new CommandSyntax(operation.Text, operation.Offset, parameters, start, end),
        keyword,
        OperationWord,
        new ParameterListParser(Parameter),
        CurrentOffset.Before(new EndOfCommandParser(SyntaxLabels.Parameter, SyntaxLabels.EndOfCommand)));
}
