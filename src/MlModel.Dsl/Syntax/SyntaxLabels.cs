namespace MlModel.Dsl.Syntax;

/// <summary>
/// The labels of the grammar's expectations (Pidgin's <c>Labelled</c>), as they appear in
/// messages: "expected a parameter (key=value) or the end of the command".
/// </summary>
internal static class SyntaxLabels
{
    public const string Keyword = "'mlmodel' or 'serving'";
    public const string Operation = "an operation";
    public const string Parameter = "a parameter (key=value)";
    public const string Value = "a value";
    public const string Item = "a tuple item";
    public const string Tuple = "a tuple";
    public const string Comma = "','";
    public const string TupleClose = "')' to close the tuple";
    public const string ListClose = "']' to close the list";
    public const string WhiteSpace = "white space";
    public const string EqualsSign = "'='";
    public const string EndOfCommand = "the end of the command";
    public const string EndOfInput = "the end of the input";
    public const string ClosingQuote = "a closing quote (') on the same line";
    public const string ClosingParen = "')' to close base64(";

    /// <summary>
    /// The order in which a message lists what was expected: the order of the grammar, whatever
    /// order Pidgin met the alternatives in (<c>Until</c> tries its terminator before the item).
    /// </summary>
    public static readonly string[] InOrder =
    [
        Keyword, Operation, Parameter, Value, Item, Tuple, Comma, TupleClose, ListClose, WhiteSpace, EqualsSign,
        EndOfCommand, EndOfInput, ClosingQuote, ClosingParen,
    ];
}
