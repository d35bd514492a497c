using MlModel.Dsl.Binding;

namespace MlModel.Dsl;

/// <summary>One parameter of an operation, for help screens and completion.</summary>
/// <param name="Key">The key, as written before <c>=</c>.</param>
/// <param name="Required">Whether the operation needs it.</param>
/// <param name="Help">What it means.</param>
/// <param name="Values">The accepted values when the set is closed, else empty.</param>
public sealed record ParameterInfo(string Key, bool Required, string Help, IReadOnlyList<string> Values);

/// <summary>One operation of the language, for help screens and completion.</summary>
/// <param name="Name">The operation word.</param>
/// <param name="Syntax">The syntax line, as in the spec.</param>
/// <param name="Help">What it does.</param>
/// <param name="Parameters">Its parameters, in canonical order.</param>
public sealed record OperationInfo(string Name, string Syntax, string Help, IReadOnlyList<ParameterInfo> Parameters);

/// <summary>The language's operations and parameters, from the same tables the binder uses.</summary>
public static class MlModelLanguage
{
    /// <summary>Every operation, in the spec's order, then the extensions.</summary>
    public static IReadOnlyList<OperationInfo> Operations { get; } = OperationTable.All
        .Select(o => new OperationInfo(o.Name, o.Syntax, o.Help,
            o.Parameters.Select(p => new ParameterInfo(p.Key, p.Required, p.Help, p.Values ?? [])).ToList()))
        .ToList();

    /// <summary>The operation named <paramref name="name"/> (case-insensitive), or null.</summary>
    public static OperationInfo? Find(string name) =>
        Operations.FirstOrDefault(o => string.Equals(o.Name, name, StringComparison.OrdinalIgnoreCase));
}
