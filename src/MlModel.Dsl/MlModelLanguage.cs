using System.Globalization;
using MlModel.Dsl.Binding;

namespace MlModel.Dsl;

/// <summary>One parameter of an operation, for help screens and completion.</summary>
/// <param name="Key">The key, as written before <c>=</c>.</param>
/// <param name="Required">Whether the operation needs it.</param>
/// <param name="Help">What it means.</param>
/// <param name="Values">The accepted values when the set is closed, else empty.</param>
public sealed record ParameterInfo(string Key, bool Required, string Help, IReadOnlyList<string> Values)
{
    /// <summary>The value used when the key is left out, as it would be written (<c>feature</c>, <c>false</c>), or null when there is none or it depends on the model (the latest version).</summary>
    public string? Default { get; init; }

    /// <summary>The form of the value: <c>name</c>, <c>text</c>, <c>version</c>, <c>choice</c>, <c>flag</c>, <c>label</c>, <c>json</c>, <c>tuple</c> (<c>(a,b)</c>) or <c>tuples</c> (<c>[(12,)]</c>).</summary>
    public string Kind { get; init; } = "text";
}

/// <summary>One operation of the language, for help screens and completion.</summary>
/// <param name="Name">The operation word.</param>
/// <param name="Syntax">The syntax line, as in the spec.</param>
/// <param name="Help">What it does.</param>
/// <param name="Parameters">Its parameters, in canonical order.</param>
public sealed record OperationInfo(string Name, string Syntax, string Help, IReadOnlyList<ParameterInfo> Parameters)
{
    /// <summary>The command word it belongs to: <c>mlmodel</c> or <c>serving</c>.</summary>
    public string Command { get; init; } = "mlmodel";
}

/// <summary>One command word of the language and its operations.</summary>
/// <param name="Name">The command word: <c>mlmodel</c> or <c>serving</c>.</param>
/// <param name="Operations">Its operations, in the spec's order, then the extensions.</param>
public sealed record CommandInfo(string Name, IReadOnlyList<OperationInfo> Operations)
{
    /// <summary>The operation named <paramref name="name"/> (ASCII case-insensitive), or null.</summary>
    public OperationInfo? Find(string name) =>
        Operations.FirstOrDefault(o => string.Equals(o.Name, name, StringComparison.OrdinalIgnoreCase));
}

/// <summary>The language's commands, operations and parameters, from the same table the binder uses.</summary>
public static class MlModelLanguage
{
    /// <summary>Every command word with its operations: <c>mlmodel</c>, then <c>serving</c>.</summary>
    public static IReadOnlyList<CommandInfo> Commands { get; } = CommandTables.All
        .Select(t => new CommandInfo(t.Command, t.Operations.Select(Describe).ToList()))
        .ToList();

    /// <summary>The operations of <c>mlmodel</c>, in the spec's order, then the extensions.</summary>
    public static IReadOnlyList<OperationInfo> Operations => Commands[0].Operations;

    /// <summary>The <c>mlmodel</c> operation named <paramref name="name"/> (case-insensitive), or null.</summary>
    public static OperationInfo? Find(string name) => Commands[0].Find(name);

    /// <summary>The command word <paramref name="command"/> (<c>mlmodel</c>, <c>serving</c>; case-insensitive), or null.</summary>
    public static CommandInfo? FindCommand(string command) =>
        Commands.FirstOrDefault(c => string.Equals(c.Name, command, StringComparison.OrdinalIgnoreCase));

    private static OperationInfo Describe(OperationSpec o) => new(o.Name, o.Syntax, o.Help, o.Parameters.Select(Describe).ToList())
    {
        Command = o.Command,
    };

    private static ParameterInfo Describe(ParamSpec p) => new(p.Key, p.Required, p.Help, p.Values ?? [])
    {
        Default = p.Default switch
        {
            null => null,
            bool b => b ? p.Values![0] : p.Values![1],
            var d => Convert.ToString(d, CultureInfo.InvariantCulture),
        },
        Kind = p.Kind switch
        {
            ParamKind.Words => "tuple",
            ParamKind.Shapes => "tuples",
            var k => k.ToString().ToLowerInvariant(),
        },
    };
}
