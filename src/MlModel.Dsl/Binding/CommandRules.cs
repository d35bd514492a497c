using System.Globalization;

namespace MlModel.Dsl.Binding;

/// <summary>
/// The language's rules applied to a command record, whoever built it. A host may construct
/// <c>new ImportCommand("x/1", ...)</c> without the parser; the engine must still refuse what the
/// text form would refuse (that name would have put its files inside model <c>x</c>'s version 1
/// folder). The record's parameters go through the binder as a dsl-object's would, so there is one
/// set of rules and one set of messages; a record that binds to something else is refused too.
/// </summary>
internal static class CommandRules
{
    /// <exception cref="MlModelException">A value the language does not accept, named with its parameter.</exception>
    public static void Validate(MlModelCommand command)
    {
        ArgumentNullException.ThrowIfNull(command);
        var parameters = new List<RawParameter>();
        var op = CommandTables.Get(command.Operation);
        foreach (var (spec, value) in CommandRenderer.Parameters(command))
        {
            parameters.Add(new RawParameter(spec.Key, null, Raw(value)));
        }
        // No source text: the binder's messages then carry no position, as for a host's record there is none.
        var bound = Binder.Bind(CommandTables.Find(op.Command)!, op.Name, null, parameters.ToArray(), source: null);
        if (bound != command)
        {
            throw new MlModelException(MlModelError.Create(ErrorCodes.InvalidValue, op.Command, op.Name,
                $"the command does not hold its own values as the language reads them (it reads as: {bound})"));
        }
    }

    // A record's value as a dsl-object would carry it.
    private static RawValue Raw(object value) => value switch
    {
        int i => new RawValue(RawForm.JsonNumber, i.ToString(CultureInfo.InvariantCulture), null),
        bool b => new RawValue(RawForm.JsonBool, b ? "true" : "false", null),
        IReadOnlyList<string> words => new RawValue(RawForm.Tuple, "", null, [.. words.Select(w => new RawValue(RawForm.JsonString, w ?? "", null))]),
        IReadOnlyList<IReadOnlyList<int>> shapes => new RawValue(RawForm.List, "", null,
            [.. shapes.Select(dims => new RawValue(RawForm.Tuple, "", null, [.. (dims ?? []).Select(d => Raw(d))]))]),
        _ => new RawValue(RawForm.JsonString, Convert.ToString(value, CultureInfo.InvariantCulture) ?? "", null),
    };
}
