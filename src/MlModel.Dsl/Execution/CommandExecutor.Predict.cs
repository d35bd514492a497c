using MlModel.Dsl.Backends;
using MlModel.Dsl.Binding;
using MlModel.Dsl.Execution.Predict;

namespace MlModel.Dsl.Execution;

/// <summary>The <c>serving</c> command: <c>serving status</c> and the <c>serving predict</c> stage.</summary>
internal sealed partial class CommandExecutor
{
    /// <summary>The state <c>serving status</c> shows when the backend reads the serving config only (no REST address).</summary>
    internal const string NoServerState = "unknown (no REST address)";

    /// <summary>The state of a version the server gives no status for (it has not loaded the config yet, or dropped the version).</summary>
    internal const string UnreportedState = "unknown (not reported by the server)";

    /// <summary>
    /// One row per version of the model's serving name (served by the registry's account, listed by
    /// the serving config, or reported by the server): version, the server's state (START, LOADING,
    /// AVAILABLE, UNLOADING, END, with its error after a colon; or why it is not known) and the
    /// deployment's label (the registry's; else the config's). Without a REST address the state says
    /// so, from the config alone: AVAILABLE is never guessed.
    /// </summary>
    private async Task<ResultSet> ServingStatusAsync(ServingStatusCommand c, MlModelCaller caller, CancellationToken cancellationToken)
    {
        var op = CommandTables.Get(MlModelOperation.ServingStatus);
        var owner = Owner(op, c.User, caller);
        var serving = RequireServing(op);
        var versions = (await _repository.GetVersionsAsync(owner, c.Name, cancellationToken)).Where(v => v.State != ModelStates.Deleting).ToList();
        if (versions.Count == 0)
        {
            throw Fail(ErrorCodes.NotFound, op, $"no model '{c.Name}' of user '{owner}'");
        }
        var servingName = ResultTables.ServingName(owner, c.Name);
        IReadOnlyList<ServingVersionStatus> statuses;
        try
        {
            statuses = await serving.GetStatusAsync(servingName, cancellationToken);
        }
        catch (MlModelException e) when (e.Code != ErrorCodes.Cancelled)
        {
            throw Fail(e.Code, op, e.Error.Detail, e);
        }
        var registry = versions.ToDictionary(v => v.Version);
        var served = statuses.ToDictionary(s => s.Version);
        var numbers = versions.Where(v => v.Serving).Select(v => v.Version)
            .Concat(statuses.Where(s => s.InConfig || s.ServerState is not null).Select(s => s.Version))
            .Distinct().Order();
        var rows = new List<object?[]>();
        foreach (var number in numbers)
        {
            registry.TryGetValue(number, out var model);
            served.TryGetValue(number, out var s);
            var label = model?.ServingLabel ?? (s is { Labels.Count: > 0 } ? string.Join(", ", s.Labels) : null);
            rows.Add([number, State(serving, s), label]);
        }
        return new ResultSet(ResultTables.ServingStatus, rows);
    }

    private static string State(IServingBackend serving, ServingVersionStatus? s)
    {
        if (s?.ServerState is { } state)
        {
            return s.ServerMessage is { Length: > 0 } error ? $"{state}: {error}" : state;
        }
        if (!serving.ReportsServerState)
        {
            return NoServerState;
        }
        // The server answered nothing for the model (unreachable, or it does not know it): its error.
        return s?.ServerMessage is { Length: > 0 } message ? message : UnreportedState;
    }

    /// <summary>
    /// Checks a <c>serving predict</c> and returns its stage over <paramref name="input"/>: the
    /// version must be served (by the registry's account: <c>not_found</c> or <c>conflict</c>
    /// otherwise, as for stop), the input must have the column, and what the command leaves out
    /// comes from the served version's signature. The rows are read and predicted as the result is.
    /// </summary>
    private async Task<ResultSet> ServingPredictAsync(ServingPredictCommand c, MlModelCaller caller, RowSource input,
        System.Diagnostics.Activity? span, Action<Exception?, long> ended, CancellationToken cancellationToken)
    {
        var op = CommandTables.Get(MlModelOperation.ServingPredict);
        var owner = Owner(op, c.User, caller);
        var serving = RequireServing(op);
        if (serving is not IServingPredictor predictor)
        {
            throw Fail(ErrorCodes.Backend, op, $"the serving backend ({serving.Capabilities.System}) cannot predict: it does not implement IServingPredictor");
        }
        var columnName = c.Column ?? "feature";
        var column = ColumnOf(input.Fields, columnName);
        if (column < 0)
        {
            throw Fail(ErrorCodes.InvalidValue, op,
                $"the input has no column '{PredictErrors.Shown(columnName)}' (col=); its columns: {(input.Fields.Count == 0 ? "none" : string.Join(", ", input.Fields.Select(f => f.Name)))}");
        }
        await RequireServedAsync(op, owner, c.Name, c.Version, cancellationToken);

        var servingName = ResultTables.ServingName(owner, c.Name);
        ServingSignature signature;
        try
        {
            signature = await predictor.GetSignatureAsync(servingName, c.Version, cancellationToken);
        }
        catch (MlModelException e) when (e.Code != ErrorCodes.Cancelled)
        {
            throw Fail(e.Code, op, e.Error.Detail, e);
        }
        var plan = PredictPlan.Resolve(c, servingName, column, input.Fields[column].Name, signature);
        var stage = new PredictStage(plan, predictor, input.Fields, _options.PredictBatchSize, _options.PredictBatchesInFlight);
        // The stream is the result set's owner: disposing the result ends it, read or not.
        var rows = stage.RunAsync(input.TakeRows(), cancellationToken, span, ended);
        return new ResultSet(stage.Fields, rows, rows);
    }

    /// <summary>The column's index: its exact name, else the one name that matches ignoring case; -1 when none does.</summary>
    private static int ColumnOf(IReadOnlyList<ResultField> fields, string name)
    {
        var found = -1;
        for (var i = 0; i < fields.Count; i++)
        {
            if (fields[i].Name == name)
            {
                return i;
            }
            if (string.Equals(fields[i].Name, name, StringComparison.OrdinalIgnoreCase))
            {
                found = found == -1 ? i : -2;
            }
        }
        return found < 0 ? -1 : found;
    }

    /// <summary>Deploy's and stop's rules: the version (or, without one, some version) must be served by the registry's account.</summary>
    private async Task RequireServedAsync(OperationSpec op, string owner, string name, int? version, CancellationToken cancellationToken)
    {
        if (version is int v)
        {
            var model = await RequireModelAsync(op, owner, name, v, cancellationToken);
            RequireServable(op, model);
            if (!model.Serving)
            {
                throw Fail(ErrorCodes.Conflict, op, $"version {v} of '{name}' is not being served; deploy it first: mlmodel deploy name={name} version={v}");
            }
            return;
        }
        var versions = (await _repository.GetVersionsAsync(owner, name, cancellationToken)).Where(m => m.State != ModelStates.Deleting).ToList();
        if (versions.Count == 0)
        {
            throw Fail(ErrorCodes.NotFound, op, $"no model '{name}' of user '{owner}'");
        }
        if (!versions.Any(m => m.Serving))
        {
            RequireServable(op, versions[^1]);
            throw Fail(ErrorCodes.Conflict, op, $"no version of '{name}' is being served; deploy one first: mlmodel deploy name={name}");
        }
    }

    /// <summary>
    /// A command takes the rows of a stage before it (<c>serving predict</c>) or none (every other):
    /// a stage without its rows, or rows given to a command that reads none, is refused before anything runs.
    /// </summary>
    private static void CheckInput(OperationSpec op, MlModelCommand command, RowSource? input)
    {
        if (command is ServingPredictCommand && input is null)
        {
            throw Fail(ErrorCodes.MissingParameter, op,
                "needs the rows of the stage before it (... | serving predict ...); give them as input: "
                + "MlModelEngine.ExecuteAsync(command, caller, RowSource, ...) or ExecuteQueryAsync(query, caller, RowSource, ...); in the CLI, --input FILE");
        }
        if (command is not ServingPredictCommand && input is not null)
        {
            throw Fail(ErrorCodes.Unsupported, op, "takes no input rows: it begins a query (* | " + op.Title + " ...); run it without input");
        }
    }
}
