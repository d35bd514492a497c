namespace MlModel.Dsl.Syntax;

/// <summary>How a value was written.</summary>
public enum ValueForm
{
    /// <summary>A bare word: <c>mnist_v1</c>, <c>USERS/root/model.tar</c>, <c>12</c>.</summary>
    Bare,
    /// <summary>A single-quoted string: <c>'stable'</c>.</summary>
    Quoted,
    /// <summary><c>base64(...)</c>; <see cref="ValueSyntax.Text"/> holds the encoded text.</summary>
    Base64,
    /// <summary>
    /// A tuple: <c>(0,1,2)</c>, <c>('setosa', 'versicolor')</c>, <c>(12,)</c>.
    /// <see cref="ValueSyntax.Items"/> holds its items, each <see cref="Bare"/> or <see cref="Quoted"/>.
    /// </summary>
    Tuple,
    /// <summary>
    /// A list of tuples: <c>[(28,28,1)]</c>, <c>[(12,), (4,1)]</c>.
    /// <see cref="ValueSyntax.Items"/> holds its tuples.
    /// </summary>
    List,
}

/// <summary>A value as written, with the offset of its first character.</summary>
/// <param name="Form">How it was written.</param>
/// <param name="Text">
/// The bare word, the quoted string's contents, or the encoded base64 text; a tuple or a list as
/// written, from its opening to its closing bracket.
/// </param>
/// <param name="Offset">0-based offset in the source of the value's first character.</param>
public sealed record ValueSyntax(ValueForm Form, string Text, int Offset)
{
    /// <summary>
    /// A tuple's items or a list's tuples, in order, each with its own form, text and offset;
    /// empty for the other forms.
    /// </summary>
    public IReadOnlyList<ValueSyntax> Items { get; init; } = [];

    /// <summary>Equal when form, text, offset and every item are.</summary>
    public bool Equals(ValueSyntax? other) =>
        other is not null && Form == other.Form && Offset == other.Offset && Text == other.Text && Items.SequenceEqual(other.Items);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Form, Text, Offset, Items.Count);
}

/// <summary>One <c>key=value</c> pair, or a positional word when <see cref="Key"/> is null.</summary>
/// <param name="Key">The key as written, or null for a positional value.</param>
/// <param name="Offset">0-based offset of the key (or of the positional word).</param>
/// <param name="Value">The value; null when the key has no value (<c>name=</c>).</param>
public sealed record ParameterSyntax(string? Key, int Offset, ValueSyntax? Value);

/// <summary>
/// The context-free syntax tree of one command: the operation word and the ordered pairs.
/// Nothing here knows which operations or keys exist; the binder decides that.
/// </summary>
/// <param name="Operation">The operation word as written.</param>
/// <param name="OperationOffset">0-based offset of the operation word.</param>
/// <param name="Parameters">The pairs in source order.</param>
/// <param name="Start">0-based offset of the command word (or of the operation, when a prompt's command leaves the word out).</param>
/// <param name="End">0-based offset just past the command (before a <c>|</c> or the end).</param>
public sealed record CommandSyntax(
    string Operation,
    int OperationOffset,
    IReadOnlyList<ParameterSyntax> Parameters,
    int Start,
    int End)
{
    /// <summary>
    /// The command word, in lower case whatever case it was written in: <c>mlmodel</c> or
    /// <c>serving</c>; <c>mlmodel</c> when a prompt's command leaves the word out.
    /// </summary>
    public string Command { get; init; } = CommandWords.MlModel;
}
