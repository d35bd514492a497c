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
        foreach (var (key, value) in CommandRenderer.Parameters(command))
        {
            var raw = value switch
            {
                int i => new RawValue(RawForm.JsonNumber, i.ToString(CultureInfo.InvariantCulture), null),
                bool b => new RawValue(RawForm.JsonBool, b ? "true" : "false", null),
                _ => new RawValue(RawForm.JsonString, Convert.ToString(value, CultureInfo.InvariantCulture) ?? "", null),
            };
            parameters.Add(new RawParameter(key, null, raw));
        }
        // No source text: the binder's messages then carry no position, as for a host's record there is none.
        var bound = Binder.Bind(CommandRenderer.OperationName(command.Operation), null, parameters.ToArray(), source: null);
        if (bound != command)
        {
            throw new MlModelException(MlModelError.Create(ErrorCodes.InvalidValue, CommandWords.Of(command.Operation), CommandRenderer.OperationName(command.Operation),
                $"the command does not hold its own values as the language reads them (it reads as: {bound})"));
        }
    }
}
