using MlModel.Dsl.Backends;
using MlModel.Dsl.Binding;

namespace MlModel.Dsl.Execution;

internal sealed partial class CommandExecutor
{
    private ResultSet List(ListCommand c, MlModelCaller caller)
    {
        var op = OperationTable.Get(MlModelOperation.List);
        // Spec B.5: a user's list shows their own models; an administrator's shows everyone's.
        string? user = c.User;
        if (!IsAdministrator(caller))
        {
            user = Owner(op, c.User, caller);
        }
        var times = new TimeFormatter(Zone);
        var models = _repository.ListEntries(new ModelFilter(user, c.Name, c.AnalysisTool, c.Serving));
        return new ResultSet(ResultTables.List, models.Select(m => ResultTables.ListRow(m, times)), owner: null);
    }

    private async Task<ResultSet> SummaryAsync(SummaryCommand c, MlModelCaller caller, CancellationToken cancellationToken)
    {
        var op = OperationTable.Get(MlModelOperation.Summary);
        var owner = Owner(op, c.User, caller);
        var model = await RequireModelAsync(op, owner, c.Name, c.Version, cancellationToken);
        return new ResultSet(ResultTables.Summary, ResultTables.SummaryRows(model, Zone));
    }

    private async Task<ResultSet> HistoryAsync(HistoryCommand c, MlModelCaller caller, CancellationToken cancellationToken)
    {
        var op = OperationTable.Get(MlModelOperation.History);
        var owner = Owner(op, c.User, caller);
        var entries = await _repository.GetHistoryAsync(owner, c.Name, c.Version, cancellationToken);
        var times = new TimeFormatter(Zone);
        return new ResultSet(ResultTables.History, entries.Select(e => new object?[]
        {
            times.List(e.Time), e.Actor, e.Operation, e.User, e.Name, e.Version, e.Outcome, e.Message, e.Parameters,
        }).ToList());
    }

    private async Task<ResultSet> StatusAsync(StatusCommand c, MlModelCaller caller, CancellationToken cancellationToken)
    {
        var op = OperationTable.Get(MlModelOperation.Status);
        var owner = Owner(op, c.User, caller);
        var serving = RequireServing(op);
        var versions = await _repository.GetVersionsAsync(owner, c.Name, cancellationToken);
        if (versions.Count == 0)
        {
            throw Fail(ErrorCodes.NotFound, op, $"no model '{c.Name}' of user '{owner}'");
        }
        var servingName = ResultTables.ServingName(owner, c.Name);
        var served = (await serving.GetStatusAsync(servingName, cancellationToken)).ToDictionary(s => s.Version);
        var rows = new List<object?[]>();
        foreach (var v in versions)
        {
            served.TryGetValue(v.Version, out var s);
            served.Remove(v.Version);
            var configLabels = s is null ? "" : string.Join(",", s.Labels);
            // Compared as lists: a label is free text and may itself hold a ','.
            IReadOnlyList<string> registryLabels = v.ServingLabel is null ? [] : [v.ServingLabel];
            var consistent = v.Serving == (s?.InConfig ?? false)
                && registryLabels.SequenceEqual(s?.Labels ?? [], StringComparer.Ordinal)
                && (s?.ServerState is null || (v.Serving ? s.ServerState == "AVAILABLE" : s.ServerState is "END"));
            rows.Add([
                v.Version, v.Serving ? "on" : "off", v.ServingLabel, s?.InConfig == true ? "listed" : "absent", configLabels,
                s?.ServerState ?? (serving is null ? null : "-"), s?.ServerMessage, consistent ? "yes" : "no",
            ]);
        }
        // Versions the config serves that the registry no longer has: drift too.
        foreach (var s in served.Values.OrderBy(s => s.Version))
        {
            rows.Add([s.Version, "absent", null, s.InConfig ? "listed" : "absent", string.Join(",", s.Labels), s.ServerState ?? "-", s.ServerMessage, "no"]);
        }
        return new ResultSet(ResultTables.Status, rows);
    }

    private IServingBackend RequireServing(OperationSpec op) =>
        _options.Serving ?? throw Fail(ErrorCodes.Backend, op, "no serving backend is configured (MlModelOptions.Serving)");

    /// <summary>
    /// Every connector, host-defined and stored. Administrators see the settings redacted
    /// (<see cref="ConnectorInfo.RedactedSettings"/>); other users, who may use any connector
    /// for imports under <c>USERS/&lt;user&gt;/</c> but manage none, see only what is not a
    /// secret (<see cref="ConnectorInfo.PublicSettings"/>): no keys, no variable names, URLs
    /// without user info or query.
    /// </summary>
    public Task<ResultSet> ListConnectorsAsync(MlModelCaller caller, CancellationToken cancellationToken) =>
        ConnectorOperationAsync("list", async () =>
        {
            CheckCaller("list", caller);
            var administrator = IsAdministrator(caller);
            await EnsureInitializedAsync(cancellationToken);
            var stored = await _repository.ListConnectorsAsync(cancellationToken);
            var all = _options.Connectors.Concat(stored.Where(s => _options.Connectors.All(h => h.Id != s.Id)));
            return new ResultSet(
                [new ResultField("id", FieldType.String), new ResultField("type", FieldType.String), new ResultField("settings", FieldType.String), new ResultField("source", FieldType.String)],
                all.Select(c => new object?[]
                {
                    c.Id, c.Type,
                    string.Join(" ", (administrator ? c.RedactedSettings() : c.PublicSettings())
                        .OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key + "=" + kv.Value)),
                    _options.Connectors.Contains(c) ? "host" : "stored",
                }).ToList());
        });

    public Task SaveConnectorAsync(ConnectorInfo connector, MlModelCaller caller, CancellationToken cancellationToken) =>
        ConnectorOperationAsync("add", async () =>
        {
            ArgumentNullException.ThrowIfNull(connector);
            CheckCaller("add", caller);
            RequireConnectorAdministrator("add", caller);
            if (!Names.IsValid(connector.Id))
            {
                throw ConnectorFail(ErrorCodes.InvalidValue, "add", $"invalid connector id '{connector.Id}'; {Names.Rule}");
            }
            // Credentials in a URL would be stored, listed and logged as part of a non-secret
            // setting; the message names the setting, never its value.
            if (connector.Settings.FirstOrDefault(kv => ConnectorInfo.HasUserInfo(kv.Value)).Key is { } withUserInfo)
            {
                throw ConnectorFail(ErrorCodes.InvalidValue, "add",
                    $"{withUserInfo} must not carry user info (user:password@); give keys as access_key_env/secret_key_env");
            }
            // The provider checks the settings; the store itself (an S3 client) is not needed.
            (CreateStore(connector) as IDisposable)?.Dispose();
            await EnsureInitializedAsync(cancellationToken);
            await _repository.SaveConnectorAsync(connector, cancellationToken);
            return 0;
        });

    public Task<bool> DeleteConnectorAsync(string id, MlModelCaller caller, CancellationToken cancellationToken) =>
        ConnectorOperationAsync("remove", async () =>
        {
            CheckCaller("remove", caller);
            RequireConnectorAdministrator("remove", caller);
            await EnsureInitializedAsync(cancellationToken);
            return await _repository.DeleteConnectorAsync(id, cancellationToken);
        });

    /// <summary>
    /// Runs a connector operation; a backend's or provider's own error is prefixed with
    /// <c>mlmodel connector &lt;verb&gt;:</c>, as <see cref="ExecuteAsync"/> does for commands.
    /// </summary>
    private static async Task<T> ConnectorOperationAsync<T>(string verb, Func<Task<T>> body)
    {
        try
        {
            return await body();
        }
        catch (MlModelException e) when (!e.Message.StartsWith("mlmodel", StringComparison.Ordinal))
        {
            throw ConnectorFail(e.Code, verb, e.Message, e);
        }
    }

    private static MlModelException ConnectorFail(string code, string verb, string message, Exception? inner = null) =>
        new(new MlModelError(code, $"mlmodel connector {verb}: {message}"), inner);

    private static void CheckCaller(string verb, MlModelCaller caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (!Names.IsValid(caller.User))
        {
            throw ConnectorFail(ErrorCodes.PermissionDenied, verb, $"the requesting user '{caller.User}' is not a valid user name; {Names.Rule}");
        }
    }

    private void RequireConnectorAdministrator(string verb, MlModelCaller caller)
    {
        if (!IsAdministrator(caller))
        {
            throw ConnectorFail(ErrorCodes.PermissionDenied, verb, $"only administrators may manage connectors; '{caller.User}' is not one");
        }
    }

    private IObjectStore CreateStore(ConnectorInfo connector)
    {
        var provider = _options.ObjectStoreProviders.FirstOrDefault(p => string.Equals(p.Type, connector.Type, StringComparison.OrdinalIgnoreCase))
            ?? throw new MlModelException(ErrorCodes.Connector,
                $"mlmodel: connector '{connector.Id}' is of type '{connector.Type}', which no registered provider serves; known types: "
                + string.Join(", ", _options.ObjectStoreProviders.Select(p => p.Type)));
        return provider.Create(connector);
    }

    private async Task<IObjectStore> ResolveConnectorAsync(OperationSpec op, string id, CancellationToken cancellationToken)
    {
        var connector = _options.Connectors.FirstOrDefault(c => c.Id == id)
            ?? await _repository.GetConnectorAsync(id, cancellationToken);
        if (connector is null)
        {
            var known = _options.Connectors.Select(c => c.Id)
                .Concat((await _repository.ListConnectorsAsync(cancellationToken)).Select(c => c.Id))
                .Distinct().ToList();
            throw Fail(ErrorCodes.Connector, op, $"unknown connector '{id}'" + (known.Count > 0 ? "; known connectors: " + string.Join(", ", known) : "; no connectors are defined"));
        }
        return CreateStore(connector);
    }
}
