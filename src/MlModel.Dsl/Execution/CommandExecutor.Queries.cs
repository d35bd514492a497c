using MlModel.Dsl.Syntax;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Binding;

namespace MlModel.Dsl.Execution;

internal sealed partial class CommandExecutor
{
    private ResultSet List(ListCommand c, MlModelCaller caller)
    {
        var op = CommandTables.Get(MlModelOperation.List);
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
        var op = CommandTables.Get(MlModelOperation.Summary);
        var owner = Owner(op, c.User, caller);
        var model = await RequireModelAsync(op, owner, c.Name, c.Version, cancellationToken);
        return new ResultSet(ResultTables.Summary, ResultTables.SummaryRows(model, Zone));
    }

    private async Task<ResultSet> HistoryAsync(HistoryCommand c, MlModelCaller caller, CancellationToken cancellationToken)
    {
        var op = CommandTables.Get(MlModelOperation.History);
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
        var op = CommandTables.Get(MlModelOperation.Status);
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
    /// The connectors the caller may use (spec B.5), host-defined and stored: an administrator's
    /// list has them all; another user's their own and the shared ones. Columns: id, type,
    /// owner, shared, source (<c>host</c> or <c>stored</c>), settings. Administrators see the
    /// settings redacted (<see cref="ConnectorInfo.RedactedSettings"/>); an owner sees their
    /// connector's secrets as <c>***</c> but no <c>*_env</c> names; other users see only what is
    /// not a secret (<see cref="ConnectorInfo.PublicSettings"/>).
    /// </summary>
    public Task<ResultSet> ListConnectorsAsync(MlModelCaller caller, CancellationToken cancellationToken) =>
        ConnectorOperationAsync("list", async () =>
        {
            CheckCaller("list", caller);
            var administrator = IsAdministrator(caller);
            await EnsureInitializedAsync(cancellationToken);
            var usable = await UsableConnectorsAsync(caller, cancellationToken);
            return new ResultSet(
                [
                    new ResultField("id", FieldType.String), new ResultField("type", FieldType.String),
                    new ResultField("owner", FieldType.String), new ResultField("shared", FieldType.String),
                    new ResultField("source", FieldType.String), new ResultField("settings", FieldType.String),
                ],
                usable.Select(u => new object?[]
                {
                    u.Connector.Id, u.Connector.Type, u.Connector.Owner, u.Connector.Shared ? "true" : "false",
                    u.Host ? "host" : "stored",
                    string.Join(" ", (administrator ? u.Connector.RedactedSettings()
                            : u.Connector.Owner == caller.User ? u.Connector.OwnerSettings()
                            : u.Connector.PublicSettings())
                        .OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key + "=" + kv.Value)),
                }).ToList());
        });

    /// <summary>
    /// Adds a connector, or replaces one with its id (spec B.5). <see cref="ConnectorInfo.Owner"/>
    /// null means the caller. Administrators add any type for anyone, shared or not. Other users
    /// add their own <c>s3</c> connectors, not shared, with the keys given (stored encrypted):
    /// no <c>*_env</c> settings, which would read the host's environment, and no missing keys,
    /// which would sign requests with the host's own credentials; they replace only their own.
    /// </summary>
    public Task SaveConnectorAsync(ConnectorInfo connector, MlModelCaller caller, CancellationToken cancellationToken) =>
        ConnectorOperationAsync("add", async () =>
        {
            ArgumentNullException.ThrowIfNull(connector);
            CheckCaller("add", caller);
            if (!Names.IsValid(connector.Id))
            {
                throw ConnectorFail(ErrorCodes.InvalidValue, "add", $"invalid connector id '{connector.Id}'; {Names.Rule}");
            }
            var owner = connector.Owner ?? caller.User;
            if (!Names.IsValid(owner))
            {
                throw ConnectorFail(ErrorCodes.InvalidValue, "add", $"invalid owner '{owner}'; {Names.Rule}");
            }
            var administrator = IsAdministrator(caller);
            if (!administrator)
            {
                CheckUserConnector(connector, owner, caller);
            }
            // Credentials in a URL would be stored, listed and logged as part of a non-secret
            // setting; the message names the setting, never its value.
            if (connector.Settings.FirstOrDefault(kv => ConnectorInfo.HasUserInfo(kv.Value)).Key is { } withUserInfo)
            {
                throw ConnectorFail(ErrorCodes.InvalidValue, "add",
                    $"{withUserInfo} must not carry user info (user:password@); give keys as " + (administrator ? "access_key_env/secret_key_env" : "access_key/secret_key"));
            }
            // A stored connector with a host-defined id would never be used: the host's wins.
            if (_options.Connectors.Any(c => c.Id == connector.Id))
            {
                throw ConnectorFail(ErrorCodes.Conflict, "add", $"connector id '{connector.Id}' is taken by a connector the host defines; choose another id");
            }
            // The provider checks the settings; the store itself (an S3 client) is not needed.
            Provider(connector).Validate(connector);
            await EnsureInitializedAsync(cancellationToken);
            var saved = connector with { Owner = owner };
            if (administrator)
            {
                await _repository.SaveConnectorAsync(saved, cancellationToken);
            }
            else if (!await _repository.SaveOwnConnectorAsync(saved, cancellationToken))
            {
                // Ids are one name space: saying it is taken is all a user learns of another's connector.
                throw ConnectorFail(ErrorCodes.Conflict, "add", $"connector id '{connector.Id}' is taken; choose another id");
            }
            return 0;
        });

    /// <summary>What a user who is not an administrator may add: see <see cref="SaveConnectorAsync"/>.</summary>
    private static void CheckUserConnector(ConnectorInfo connector, string owner, MlModelCaller caller)
    {
        MlModelException Denied(string why) => ConnectorFail(ErrorCodes.PermissionDenied, "add", why);

        if (!string.Equals(connector.Type, UserConnectorType, StringComparison.OrdinalIgnoreCase))
        {
            throw Denied($"only administrators add connectors of type '{connector.Type}'; '{caller.User}' may add their own '{UserConnectorType}' connectors");
        }
        if (owner != caller.User)
        {
            throw Denied($"only administrators add connectors for another user; '{caller.User}' may not add one for '{owner}'");
        }
        if (connector.Shared)
        {
            throw Denied($"only administrators share connectors; '{caller.User}' may not add one with shared=true");
        }
        if (connector.Settings.Keys.FirstOrDefault(k => k.EndsWith("_env", StringComparison.OrdinalIgnoreCase)) is { } variable)
        {
            throw Denied($"{variable} names an environment variable of the host, which only administrators may use; give access_key and secret_key (they are stored encrypted)");
        }
        bool Has(string name) => connector.Settings.Any(kv => string.Equals(kv.Key, name, StringComparison.OrdinalIgnoreCase) && kv.Value.Length > 0);
        if (!Has("access_key") || !Has("secret_key"))
        {
            throw Denied("give access_key and secret_key: without them the connector would sign in with the host's own credentials, which only administrators may use");
        }
    }

    /// <summary>The one connector type users who are not administrators add (spec B.5): it reaches their own bucket, not the host's folders.</summary>
    private const string UserConnectorType = "s3";

    /// <summary>
    /// Removes a stored connector: administrators any, other users their own. Another user's
    /// connector is as unknown as a missing one (false), unless it is shared; a host-defined
    /// one is not stored and cannot be removed here.
    /// </summary>
    public Task<bool> DeleteConnectorAsync(string id, MlModelCaller caller, CancellationToken cancellationToken) =>
        ConnectorOperationAsync("remove", async () =>
        {
            ArgumentNullException.ThrowIfNull(id);
            CheckCaller("remove", caller);
            await EnsureInitializedAsync(cancellationToken);
            var administrator = IsAdministrator(caller);
            if (administrator
                    ? await _repository.DeleteConnectorAsync(id, cancellationToken)
                    : await _repository.DeleteOwnConnectorAsync(id, caller.User, cancellationToken))
            {
                return true;
            }
            if (_options.Connectors.Any(c => c.Id == id))
            {
                throw ConnectorFail(ErrorCodes.Conflict, "remove", $"connector '{id}' is defined by the host (MlModelOptions.Connectors), not stored; the host's configuration removes it");
            }
            if (!administrator && await SharedStoredConnectorAsync(id, cancellationToken))
            {
                throw ConnectorFail(ErrorCodes.PermissionDenied, "remove", $"connector '{id}' is shared, and not '{caller.User}''s; only its owner or an administrator may remove it");
            }
            return false;
        });

    // Whether a stored connector is shared; one whose secrets do not open counts as not, so that
    // the error of another user's connector does not tell that it exists.
    private async Task<bool> SharedStoredConnectorAsync(string id, CancellationToken cancellationToken)
    {
        try
        {
            return await _repository.GetConnectorAsync(id, cancellationToken) is { Shared: true };
        }
        catch (MlModelException e) when (e.Code == ErrorCodes.Connector)
        {
            return false;
        }
    }

    /// <summary>
    /// The connectors <paramref name="caller"/> may use (spec B.5), host-defined first, then the
    /// stored ones whose id the host does not define: for an administrator all of them, for
    /// another user their own and the shared ones. Host-defined connectors are shared.
    /// </summary>
    private async Task<List<(ConnectorInfo Connector, bool Host)>> UsableConnectorsAsync(MlModelCaller caller, CancellationToken cancellationToken)
    {
        var stored = await _repository.ListConnectorsAsync(cancellationToken);
        return _options.Connectors.Select(c => (Connector: c with { Shared = true }, Host: true))
            .Concat(stored.Where(s => _options.Connectors.All(h => h.Id != s.Id)).Select(c => (Connector: c, Host: false)))
            .Where(u => MayUse(u.Connector, caller))
            .ToList();
    }

    private bool MayUse(ConnectorInfo connector, MlModelCaller caller) =>
        connector.Shared || connector.Owner == caller.User || IsAdministrator(caller);

    /// <summary>Spec B.5: through a connector they own any key may be imported; through a shared one, keys under <c>USERS/&lt;user&gt;/</c>.</summary>
    private bool MayImportAnyKey(ConnectorInfo connector, MlModelCaller caller) =>
        connector.Owner == caller.User || IsAdministrator(caller);

    /// <summary>
    /// Runs a connector operation; a backend's or provider's own error is placed in
    /// <c>mlmodel connector &lt;verb&gt;</c>, as <see cref="ExecuteAsync"/> does for commands.
    /// </summary>
    private static async Task<T> ConnectorOperationAsync<T>(string verb, Func<Task<T>> body)
    {
        try
        {
            return await body();
        }
        catch (MlModelException e) when (e.Error.Command is null)
        {
            throw e.In(CommandWords.MlModel, ConnectorOperation(verb));
        }
    }

    private static string ConnectorOperation(string verb) => "connector " + verb;

    private static MlModelException ConnectorFail(string code, string verb, string message, Exception? inner = null) =>
        new(MlModelError.Create(code, CommandWords.MlModel, ConnectorOperation(verb), message), inner);

    private static void CheckCaller(string verb, MlModelCaller caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (!Names.IsValid(caller.User))
        {
            throw ConnectorFail(ErrorCodes.PermissionDenied, verb, $"the requesting user '{caller.User}' is not a valid user name; {Names.Rule}");
        }
    }

    private IObjectStore CreateStore(ConnectorInfo connector) => Provider(connector).Create(connector);

    private IObjectStoreProvider Provider(ConnectorInfo connector) =>
        _options.ObjectStoreProviders.FirstOrDefault(p => string.Equals(p.Type, connector.Type, StringComparison.OrdinalIgnoreCase))
            ?? throw new MlModelException(ErrorCodes.Connector,
                $"connector '{connector.Id}' is of type '{connector.Type}', which no registered provider serves; known types: "
                + string.Join(", ", _options.ObjectStoreProviders.Select(p => p.Type)));

    /// <summary>
    /// The store of the connector <paramref name="id"/>, as <paramref name="caller"/> may use it: the one
    /// call that turns a connector into a store, for import and for hosts (the CLI's <c>--store</c>).
    /// The caller disposes it.
    /// </summary>
    public async Task<IObjectStore> OpenStoreAsync(string id, MlModelCaller caller, string? usedAs, CancellationToken cancellationToken)
    {
        CheckCaller("open", caller);
        await EnsureInitializedAsync(cancellationToken);
        // A host's own use names itself (the CLI's --store); else the error is the library's.
        var (command, operation) = usedAs is null ? (CommandWords.MlModel, ConnectorOperation("open")) : (usedAs, (string?)null);
        ConnectorInfo connector;
        try
        {
            connector = await ResolveConnectorAsync(command, operation, id, caller, cancellationToken);
        }
        catch (MlModelException e)
        {
            // Here the id is the whole request: say how to make it exist.
            throw new MlModelException(MlModelError.Create(e.Code, e.Error.Command, e.Error.Operation,
                $"{e.Error.Detail}. Add it first, e.g.: mlmodel connector add id={id} type=s3 endpoint=URL bucket=B access_key=KEY secret_key=SECRET"), e);
        }
        try
        {
            return CreateStore(connector);
        }
        catch (MlModelException e) when (e.Error.Command is null)
        {
            throw e.In(command, operation);
        }
    }

    /// <summary>
    /// The connector <paramref name="id"/> names, as the caller may use it (host-defined ones
    /// shared); a connector of another user that is not shared is as unknown as a missing one,
    /// and the known ones listed are those the caller may use.
    /// </summary>
    private Task<ConnectorInfo> ResolveConnectorAsync(OperationSpec op, string id, MlModelCaller caller, CancellationToken cancellationToken) =>
        ResolveConnectorAsync(CommandWords.Of(op.Operation), op.Name, id, caller, cancellationToken);

    private async Task<ConnectorInfo> ResolveConnectorAsync(string command, string? operation, string id, MlModelCaller caller, CancellationToken cancellationToken)
    {
        var connector = _options.Connectors.FirstOrDefault(c => c.Id == id) is { } host
            ? host with { Shared = true }
            : await _repository.GetConnectorAsync(id, cancellationToken);
        if (connector is null || !MayUse(connector, caller))
        {
            var known = (await UsableConnectorsAsync(caller, cancellationToken)).Select(u => u.Connector.Id).ToList();
            throw new MlModelException(MlModelError.Create(ErrorCodes.Connector, command, operation, $"unknown connector '{id}'" + (known.Count > 0 ? "; known connectors: " + string.Join(", ", known)
                : IsAdministrator(caller) ? "; no connectors are defined" : $"; user '{caller.User}' has no connectors, and none is shared")));
        }
        return connector;
    }
}
