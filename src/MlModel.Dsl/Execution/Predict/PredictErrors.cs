using MlModel.Dsl.Binding;

namespace MlModel.Dsl.Execution.Predict;

/// <summary>The errors of <c>serving predict</c>: placed in that command, so their messages read <c>serving predict: ...</c>.</summary>
internal static class PredictErrors
{
    private static readonly OperationSpec Operation = CommandTables.Get(MlModelOperation.ServingPredict);

    /// <summary>
    /// An error of <c>serving predict</c>, placed in it (<see cref="MlModelError.Command"/> and
    /// <see cref="MlModelError.Operation"/> set): the engine leaves it as it is rather than prefix it
    /// again, and one thrown while the rows stream, outside the engine's call, still says whose it is.
    /// </summary>
    public static MlModelException Fail(string code, string message, Exception? inner = null) =>
        new(MlModelError.Create(code, Operation.Command, Operation.Name, message), inner);

    /// <summary>A row's input that cannot be used: names the row (1-based) and the column.</summary>
    public static MlModelException Row(long row, string column, string what) =>
        Fail(ErrorCodes.InvalidValue, $"row {row}: column '{Shown(column)}' {what}");

    /// <summary>A value as messages quote it: on one line, at most 40 characters.</summary>
    public static string Shown(string text)
    {
        var sb = new System.Text.StringBuilder(Math.Min(text.Length, 44));
        foreach (var c in text)
        {
            if (sb.Length >= 40)
            {
                return sb.Append("...").ToString();
            }
            sb.Append(char.IsControl(c) ? ' ' : c);
        }
        return sb.ToString();
    }

    /// <summary>Shape tuples as the language writes them: <c>[(12,)]</c>, <c>[(4,1),(3,)]</c>.</summary>
    public static string ShapeText(IEnumerable<IReadOnlyList<int>> tuples) =>
        "[" + string.Join(",", tuples.Select(TupleText)) + "]";

    public static string TupleText(IReadOnlyList<int> dims) =>
        "(" + string.Join(",", dims) + (dims.Count == 1 ? ",)" : ")");
}
