namespace MlModel.Dsl;

/// <summary>
/// A failure the library reports to its caller: a stable <see cref="Code"/> for programs, a
/// <see cref="Message"/> for people and, for text input, where it happened.
/// </summary>
/// <param name="Code">One of <see cref="ErrorCodes"/>; stable across releases.</param>
/// <param name="Message">The whole message, position included, ready to show.</param>
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

    /// <summary>Creates an error without a position.</summary>
    public MlModelException(string code, string message, Exception? inner = null)
        : this(new MlModelError(code, message), inner) { }

    /// <summary>What went wrong.</summary>
    public MlModelError Error { get; }

    /// <summary>The error's stable code.</summary>
    public string Code => Error.Code;
}
