namespace MlModel.Dsl.Syntax;

/// <summary>How a value was written.</summary>
public enum ValueForm
{
    /// <summary>A bare word: <c>mnist_v1</c>, <c>USERS/root/model.tar</c>.</summary>
    Bare,
    /// <summary>A single-quoted string: <c>'stable'</c>.</summary>
    Quoted,
    /// <summary><c>base64(...)</c>; <see cref="ValueSyntax.Text"/> holds the encoded text.</summary>
    Base64,
}

/// <summary>A value as written, with the offset of its first character.</summary>
/// <param name="Form">How it was written.</param>
/// <param name="Text">The bare word, the quoted string's contents, or the encoded base64 text.</param>
/// <param name="Offset">0-based offset in the source of the value's first character.</param>
public sealed record ValueSyntax(ValueForm Form, string Text, int Offset);

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
/// <param name="Start">0-based offset of the <c>mlmodel</c> keyword.</param>
/// <param name="End">0-based offset just past the command (before a <c>|</c> or the end).</param>
public sealed record CommandSyntax(
    string Operation,
    int OperationOffset,
    IReadOnlyList<ParameterSyntax> Parameters,
    int Start,
    int End);
