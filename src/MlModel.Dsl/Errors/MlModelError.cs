namespace MlModel.Dsl;

/// <summary>
/// A failure the library reports to its caller: a stable <see cref="Code"/> for programs, a
/// <see cref="Message"/> for people and, for text input, where it happened. The command and
/// operation it failed in are fields (<see cref="Command"/>, <see cref="Operation"/>); the
/// message's prefix (<c>mlmodel deploy: </c>) is rendered from them once, by <see cref="Create"/>.
/// </summary>
/// <param name="Code">One of <see cref="ErrorCodes"/>; stable across releases.</param>
/// <param name="Message">The whole message, context prefix and position included, ready to show.</param>
/// <param name="Line">1-based line of the offending text, when the command came as text.</param>
/// <param name="Column">1-based column, counted in characters (a tab is one character).</param>
/// <param name="Expected">What would have been accepted at that point, when that is known.</param>
public sealed record MlModelError(
    string Code,
    string Message,
    int? Line = null,
    int? Column = null,
    IReadOnlyList<string>? Expected = null)
{
    /// <summary>
    /// The command the error belongs to: <c>mlmodel</c> or <c>serving</c>, or the name a host gave
    /// its own use of the library (<c>--store</c>, see <see cref="ConnectorRegistry.OpenStoreAsync"/>).
    /// Null for an error not yet placed in a command: a backend's own, which the engine places in
    /// the command that ran into it before the caller sees it.
    /// </summary>
    public string? Command { get; private init; }

    /// <summary>
    /// The operation within <see cref="Command"/>: <c>deploy</c>, <c>connector add</c>. Null when the
    /// error is about the command as a whole (the text names no operation yet), or has no command.
    /// </summary>
    public string? Operation { get; private init; }

    /// <summary>
    /// What went wrong, without the context prefix: <see cref="Message"/> after
    /// <c>mlmodel deploy: </c>, or the whole message of an error without a <see cref="Command"/>.
    /// Made with the message by <see cref="Create"/> (a <c>with</c> that sets <see cref="Message"/>
    /// leaves it as it was: build a changed error with <see cref="Create"/>).
    /// </summary>
    public string Detail { get; private init; } = Message;

    /// <summary>
    /// The error of <paramref name="command"/>'s <paramref name="operation"/>: its
    /// <see cref="Message"/> is <paramref name="detail"/> after the prefix
    /// <see cref="Render"/> makes of them.
    /// </summary>
    /// <exception cref="ArgumentException">An <paramref name="operation"/> without a <paramref name="command"/>.</exception>
    public static MlModelError Create(string code, string? command, string? operation, string detail,
        int? line = null, int? column = null, IReadOnlyList<string>? expected = null)
    {
        ArgumentNullException.ThrowIfNull(code);
        ArgumentNullException.ThrowIfNull(detail);
        if (command is null && operation is not null)
        {
            throw new ArgumentException("an operation needs its command", nameof(operation));
        }
        return new MlModelError(code, Render(command, operation, detail), line, column, expected)
        {
            Command = command,
            Operation = operation,
            Detail = detail,
        };
    }

    /// <summary>
    /// The one place a message gets its context: <c>mlmodel deploy: detail</c>,
    /// <c>mlmodel: detail</c> without an operation, the detail alone without a command.
    /// </summary>
    public static string Render(string? command, string? operation, string detail) =>
        command is null ? detail
        : operation is null ? $"{command}: {detail}"
        : $"{command} {operation}: {detail}";

    /// <summary>
    /// This error placed in <paramref name="command"/>'s <paramref name="operation"/>, its message
    /// prefixed accordingly; an error that already belongs to a command is returned as it is.
    /// </summary>
    public MlModelError In(string command, string? operation) =>
        Command is not null ? this : Create(Code, command, operation, Detail, Line, Column, Expected);

    /// <summary>Returns <see cref="Message"/>.</summary>
    public override string ToString() => Message;
}

/// <summary>The stable error codes of <see cref="MlModelError"/>.</summary>
public static class ErrorCodes
{
    /// <summary>The text does not follow the grammar.</summary>
    public const string Syntax = "syntax";
    /// <summary>The operation is not one the language knows.</summary>
    public const string UnknownOperation = "unknown_operation";
    /// <summary>A parameter the operation does not take.</summary>
    public const string UnknownParameter = "unknown_parameter";
    /// <summary>A required parameter is absent.</summary>
    public const string MissingParameter = "missing_parameter";
    /// <summary>A parameter is given twice.</summary>
    public const string DuplicateParameter = "duplicate_parameter";
    /// <summary>A parameter has no value (<c>name=</c>).</summary>
    public const string MissingValue = "missing_value";
    /// <summary>A value of the wrong form or out of range.</summary>
    public const string InvalidValue = "invalid_value";
    /// <summary>A <c>base64(...)</c> value that is not strict base64 of UTF-8 text.</summary>
    public const string InvalidBase64 = "invalid_base64";
    /// <summary>A dsl-object that is not the expected JSON shape.</summary>
    public const string InvalidJson = "invalid_json";
    /// <summary>The requesting user may not do this (spec B.5).</summary>
    public const string PermissionDenied = "permission_denied";
    /// <summary>The model or version does not exist.</summary>
    public const string NotFound = "not_found";
    /// <summary>The request conflicts with the model's state (for example deleting a served version).</summary>
    public const string Conflict = "conflict";
    /// <summary>A model archive that is malformed, unsafe or of the wrong type.</summary>
    public const string InvalidArchive = "invalid_archive";
    /// <summary>The operation does not apply to this kind of model (spec B.3).</summary>
    public const string Unsupported = "unsupported";
    /// <summary>A model's stored files fail their checksums.</summary>
    public const string Integrity = "integrity";
    /// <summary>A backend (database, object store, serving) failed or refused.</summary>
    public const string Backend = "backend";
    /// <summary>A connector is unknown or misconfigured.</summary>
    public const string Connector = "connector";
    /// <summary>The operation was cancelled.</summary>
    public const string Cancelled = "cancelled";
}

/// <summary>The one exception type the library throws for a command it cannot carry out.</summary>
public sealed class MlModelException : Exception
{
    /// <summary>Creates the exception for <paramref name="error"/>.</summary>
    public MlModelException(MlModelError error, Exception? inner = null)
        : base(error.Message, inner) => Error = error;

    /// <summary>Creates an error without a position or context: a backend's own, which the engine places in its command.</summary>
    public MlModelException(string code, string message, Exception? inner = null)
        : this(new MlModelError(code, message), inner) { }

    /// <summary>What went wrong.</summary>
    public MlModelError Error { get; }

    /// <summary>The error's stable code.</summary>
    public string Code => Error.Code;

    /// <summary>
    /// This exception placed in <paramref name="command"/>'s <paramref name="operation"/>
    /// (<see cref="MlModelError.In"/>), with this one as its inner exception; itself when its error
    /// already belongs to a command.
    /// </summary>
    internal MlModelException In(string command, string? operation) =>
        Error.Command is not null ? this : new MlModelException(Error.In(command, operation), this);
}
