using MlModel.Dsl.Binding;

namespace MlModel.Dsl.Syntax;

/// <summary>The two command words the grammar accepts, and the operations each one names in messages.</summary>
internal static class CommandWords
{
    public const string MlModel = "mlmodel";
    public const string Serving = "serving";

    /// <summary><paramref name="word"/> in lower case when it is one of the two command words (ASCII, any case), else null.</summary>
    public static string? Find(ReadOnlySpan<char> word) =>
        word.Equals(MlModel, StringComparison.OrdinalIgnoreCase) ? MlModel
        : word.Equals(Serving, StringComparison.OrdinalIgnoreCase) ? Serving
        : null;

    /// <summary>The operation names of <paramref name="command"/>, for "allowed: ..." lists.</summary>
    public static IEnumerable<string> Operations(string command) =>
        CommandTables.Find(command)?.Names ?? [];

    /// <summary>The operation of <paramref name="command"/> named <paramref name="word"/> (any case), by its canonical name, or null.</summary>
    public static string? Operation(string command, string word) =>
        Operations(command).FirstOrDefault(o => System.Text.Ascii.EqualsIgnoreCase(o, word));

    /// <summary>The command word of <paramref name="operation"/>, as <see cref="MlModelError.Command"/> holds it.</summary>
    public static string Of(MlModelOperation operation) => CommandTables.Get(operation).Command;
}
