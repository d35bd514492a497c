using System.Globalization;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Binding;
using MlModel.Dsl.Execution.Archives;

namespace MlModel.Dsl.Execution;

internal sealed partial class CommandExecutor
{
    /// <summary>
    /// The consistency check, limited to the scope given (a user, a model of one user, or a model name
    /// across users): versions whose files are missing or corrupt, versions cut short while being deleted,
    /// files and temporary files no version owns, and a serving config or version folders that differ
    /// from the registry. With repair: broken versions are marked ERROR (so they are not deployed),
    /// deletes are finished, orphaned and temporary files older than the grace period are removed, and
    /// the serving side is brought back to the registry's account (which is what counts). Each repair
    /// action is recorded in the audit trail of the model it concerns.
    /// </summary>
    private async Task<ResultSet> CheckAsync(CheckCommand c, MlModelCaller caller, CancellationToken cancellationToken)
    {
        var op = CommandTables.Get(MlModelOperation.Check);
        RequireAdministrator(op, caller, "run the consistency check");
        var problems = new List<object?[]>();
        if (c.Version is not null && c.Name is null)
        {
            throw Fail(ErrorCodes.MissingParameter, op, "version= needs name=: a version is one model's");
        }
        var scope = new CheckScope(c.User, c.Name, c.Version);
        var models = _repository.List(new ModelFilter(c.User, c.Name) { IncludeDeleting = true })
            .Where(m => c.Version is null || m.Version == c.Version).ToList();
        var store = _options.ModelStore;

        // Deletes cut short: finish them (the row says DELETING, so nothing uses the version any more).
        foreach (var m in models.Where(m => m.State == ModelStates.Deleting).ToList())
        {
            var action = "none: run mlmodel delete again, or check repair=true";
            if (c.Repair)
            {
                action = await RepairAsync(caller, op, m.User, m.Name, m.Version, "delete cut short", async ct =>
                {
                    var now = await _repository.GetAsync(m.User, m.Name, m.Version, ct);
                    if (now is null || now.State != ModelStates.Deleting || now.Serving)
                    {
                        return "none: changed meanwhile";
                    }
                    await FinishDeleteAsync(op, now, ct);
                    return "delete finished";
                }, cancellationToken);
            }
            problems.Add(["deleting", m.User, m.Name, m.Version, "the version was being deleted when its delete stopped", action]);
        }
        var live = models.Where(m => m.State != ModelStates.Deleting).ToList();

        if (store is not null)
        {
            foreach (var m in live.Where(m => m.StorageKey is not null))
            {
                var found = new List<object?[]>();
                foreach (var file in await _repository.GetFilesAsync(m.Id, cancellationToken))
                {
                    var problem = await CheckFileAsync(store, m, file, cancellationToken);
                    if (problem is not null)
                    {
                        found.Add([problem.Value.Problem, m.User, m.Name, m.Version, problem.Value.Detail, null]);
                    }
                }
                if (found.Count > 0)
                {
                    var action = "none: re-import the model or delete the version";
                    if (c.Repair && m.State != ModelStates.Error)
                    {
                        action = await RepairAsync(caller, op, m.User, m.Name, m.Version, $"{found.Count} missing or corrupt file(s)", async ct =>
                        {
                            var now = await _repository.GetAsync(m.User, m.Name, m.Version, ct);
                            if (now is null || now.State is ModelStates.Error or ModelStates.Deleting)
                            {
                                return "none: changed meanwhile";
                            }
                            await _repository.UpdateAsync(now with { State = ModelStates.Error }, ct);
                            return "marked ERROR";
                        }, cancellationToken);
                    }
                    foreach (var row in found)
                    {
                        row[5] = action;
                    }
                    problems.AddRange(found);
                }
            }

            // Every version the registry has, deleting ones included: their folders are not orphans.
            var known = models.Select(m => ModelPrefix(m.User, m.Name, m.Version)).ToHashSet(StringComparer.Ordinal);
            await FindOrphansAsync(caller, op, store, "models/", scope, known, "orphan_files", c.Repair, problems, cancellationToken);
            var exports = _options.ExportStore ?? store;
            var knownExports = models.Select(m => ExportPrefix(m.User, m.Name, m.Version)).ToHashSet(StringComparer.Ordinal);
            await FindOrphansAsync(caller, op, exports, "exports/", scope, knownExports, "orphan_export", c.Repair, problems, cancellationToken);
            await FindExpiredExportsAsync(caller, op, exports, live, c.Repair, problems, cancellationToken);
            await FindTemporaryAsync(caller, op, store, "models/", scope, c.Repair, problems, cancellationToken);
            if (!ReferenceEquals(exports, store))
            {
                await FindTemporaryAsync(caller, op, exports, "exports/", scope, c.Repair, problems, cancellationToken);
            }
            else
            {
                await FindTemporaryAsync(caller, op, store, "exports/", scope, c.Repair, problems, cancellationToken);
            }
        }

        if (_options.Serving is { } serving)
        {
            await CheckServingAsync(caller, op, serving, c, live, problems, cancellationToken);
        }
        return new ResultSet(ResultTables.Check, problems);
    }

    /// <summary>Which models a check covers: keys are models/&lt;user&gt;/&lt;name&gt;/&lt;version&gt;/...</summary>
    private sealed record CheckScope(string? User, string? Name, int? Version)
    {
        /// <summary>The narrowest prefix that holds the whole scope under <paramref name="root"/> ("models/").</summary>
        public string Prefix(string root) => User is null ? root
            : root + User + "/" + (Name is null ? "" : Name + "/" + (Version is int v ? v.ToString(CultureInfo.InvariantCulture) + "/" : ""));

        public bool Covers(string user, string name, string? version = null) =>
            (User is null || User == user) && (Name is null || Name == name)
            && (Version is null || version is null || version == Version.Value.ToString(CultureInfo.InvariantCulture));

        public bool CoversServingName(string servingName) =>
            (User is null || servingName.StartsWith(User + "_", StringComparison.Ordinal))
            && (Name is null || servingName.EndsWith("_" + Name, StringComparison.Ordinal));
    }

    private static async Task<(string Problem, string Detail)?> CheckFileAsync(IObjectStore store, ModelVersion m, ModelFile file, CancellationToken cancellationToken)
    {
        var key = m.StorageKey + file.Path;
        var info = await store.StatAsync(key, cancellationToken);
        if (info is null)
        {
            return ("missing_file", $"'{file.Path}' is missing");
        }
        if (info.Size != file.Size)
        {
            return ("corrupt_file", $"'{file.Path}' has {info.Size} bytes, the manifest says {file.Size}");
        }
        try
        {
            await using var verifying = new HashingStream(await store.OpenReadAsync(key, cancellationToken), file.Size, file.Sha256,
                why => new InvalidDataException(why), headCapacity: 0);
            await verifying.CopyToAsync(Stream.Null, cancellationToken);
            return null;
        }
        catch (InvalidDataException e)
        {
            return ("corrupt_file", $"'{file.Path}': {e.Message}");
        }
    }

    /// <summary>
    /// Runs one repair action under the model's lock (so it never races a deploy, stop or delete of the
    /// model, and acts on what is true once it holds the lock), records it in the model's audit trail,
    /// and returns what it did for the check's action column.
    /// </summary>
    private async Task<string> RepairAsync(MlModelCaller caller, OperationSpec op, string user, string name, int? version, string problem,
        Func<CancellationToken, Task<string>> act, CancellationToken cancellationToken)
    {
        string action;
        Exception? failure = null;
        try
        {
            await using (await LockModelAsync(op, user, name, cancellationToken))
            {
                action = await act(cancellationToken);
            }
        }
        catch (Exception e) when (e is MlModelException or IOException or UnauthorizedAccessException)
        {
            failure = e;
            action = "failed: " + (e is MlModelException m ? m.Error.Detail : e.Message);
        }
        await AuditAsync(caller, "repair", user, name, version, $"check repair=true: {problem}: {action}", failure);
        FaultPoints.Reach(FaultPoints.Points.RepairAction);
        return action;
    }

    private async Task FindOrphansAsync(MlModelCaller caller, OperationSpec op, IObjectStore store, string root, CheckScope scope, HashSet<string> known, string problem, bool repair, List<object?[]> problems, CancellationToken cancellationToken)
    {
        var groups = new Dictionary<string, (long Bytes, int Files, DateTime Newest)>(StringComparer.Ordinal);
        await foreach (var obj in store.ListAsync(scope.Prefix(root), cancellationToken))
        {
            // <kind>/<user>/<name>/<version>/...
            var parts = obj.Key.Split('/');
            if (parts.Length < 5 || !scope.Covers(parts[1], parts[2], parts[3]))
            {
                continue;
            }
            var versionPrefix = string.Join('/', parts.Take(4)) + "/";
            if (known.Contains(versionPrefix))
            {
                continue;
            }
            groups.TryGetValue(versionPrefix, out var g);
            groups[versionPrefix] = (g.Bytes + obj.Size, g.Files + 1, obj.LastModified > g.Newest ? obj.LastModified : g.Newest);
        }
        foreach (var (versionPrefix, g) in groups.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var parts = versionPrefix.Split('/');
            int? version = int.TryParse(parts[3], NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : null;
            var action = "none";
            if (repair)
            {
                if (Now - g.Newest >= _options.OrphanGracePeriod)
                {
                    action = await RepairAsync(caller, op, parts[1], parts[2], version, $"{problem} under {versionPrefix}", async ct =>
                    {
                        // Under the lock no delete is halfway, and an import inserts its row only once
                        // its files are complete: a row that appeared meanwhile owns them.
                        if (version is int n && await _repository.GetAsync(parts[1], parts[2], n, ct) is not null)
                        {
                            return "kept: a version owns them now";
                        }
                        await store.DeletePrefixAsync(versionPrefix, ct);
                        return "deleted";
                    }, cancellationToken);
                }
                else
                {
                    action = $"kept: younger than {_options.OrphanGracePeriod} (an import may be running)";
                }
            }
            problems.Add([problem, parts[1], parts[2], version, $"{g.Files} file(s), {g.Bytes:N0} bytes under {versionPrefix} with no version in the registry", action]);
        }
    }

    /// <summary>Exports of the versions checked that are past the URL expiry: their URLs promised they would go.</summary>
    private async Task FindExpiredExportsAsync(MlModelCaller caller, OperationSpec op, IObjectStore exports, List<ModelVersion> live, bool repair, List<object?[]> problems, CancellationToken cancellationToken)
    {
        foreach (var m in live)
        {
            var expired = new List<ObjectInfo>();
            await foreach (var obj in exports.ListAsync(ExportPrefix(m.User, m.Name, m.Version), cancellationToken))
            {
                if (Now - obj.LastModified > _options.ExportUrlExpiry)
                {
                    expired.Add(obj);
                }
            }
            if (expired.Count == 0)
            {
                continue;
            }
            var action = "none";
            if (repair)
            {
                action = await RepairAsync(caller, op, m.User, m.Name, m.Version, "expired exports", async ct =>
                {
                    var gone = await RemoveExpiredExportsAsync(exports, ExportPrefix(m.User, m.Name, m.Version), null, ct);
                    return gone.Count == expired.Count ? "deleted" : $"deleted {gone.Count} (the others were written anew meanwhile)";
                }, cancellationToken);
            }
            problems.Add(["expired_export", m.User, m.Name, m.Version,
                $"{expired.Count} export(s), {expired.Sum(e => e.Size):N0} bytes, older than the download URL's expiry ({_options.ExportUrlExpiry.TotalSeconds:0} s)", action]);
        }
    }

    /// <summary>Temporary files (writes in progress, or cut short by a crash) in the scope, by folder.</summary>
    private async Task FindTemporaryAsync(MlModelCaller caller, OperationSpec op, IObjectStore store, string root, CheckScope scope, bool repair, List<object?[]> problems, CancellationToken cancellationToken)
    {
        var groups = new SortedDictionary<string, List<ObjectInfo>>(StringComparer.Ordinal);
        await foreach (var obj in store.ListTemporaryAsync(scope.Prefix(root), cancellationToken))
        {
            var parts = obj.Key.Split('/');
            if (parts.Length >= 3 && !scope.Covers(parts[1], parts[2], parts.Length >= 5 ? parts[3] : null))
            {
                continue;
            }
            var folder = obj.Key[..(obj.Key.LastIndexOf('/') + 1)];
            if (!groups.TryGetValue(folder, out var list))
            {
                groups[folder] = list = [];
            }
            list.Add(obj);
        }
        foreach (var (folder, files) in groups)
        {
            var parts = folder.Split('/');
            string? user = parts.Length > 2 ? parts[1] : null, name = parts.Length > 3 ? parts[2] : null;
            int? version = parts.Length > 4 && int.TryParse(parts[3], NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : null;
            var action = "none";
            if (repair)
            {
                var old = files.Where(f => Now - f.LastModified >= _options.OrphanGracePeriod).ToList();
                if (old.Count == 0)
                {
                    action = $"kept: younger than {_options.OrphanGracePeriod} (a write may be running)";
                }
                else
                {
                    async Task<string> Remove(CancellationToken ct)
                    {
                        foreach (var f in old)
                        {
                            await store.DeleteTemporaryAsync(f.Key, ct);
                        }
                        return old.Count == files.Count ? "deleted" : $"deleted {old.Count}; kept {files.Count - old.Count} younger than {_options.OrphanGracePeriod}";
                    }
                    action = user is not null && name is not null && Names.IsValid(user) && Names.IsValid(name)
                        ? await RepairAsync(caller, op, user, name, version, $"temporary files under {folder}", Remove, cancellationToken)
                        : await Remove(cancellationToken);
                }
            }
            problems.Add(["temp_files", user, name, version,
                $"{files.Count} temporary file(s), {files.Sum(f => f.Size):N0} bytes under {folder} left by writes that did not finish", action]);
        }
    }

    /// <summary>The serving config and version folders against the registry, which is what counts.</summary>
    private async Task CheckServingAsync(MlModelCaller caller, OperationSpec op, IServingBackend serving, CheckCommand c, List<ModelVersion> live, List<object?[]> problems, CancellationToken cancellationToken)
    {
        IReadOnlyList<ServingEntry> managed;
        try
        {
            managed = await serving.GetManagedAsync(cancellationToken);
        }
        catch (MlModelException e)
        {
            // One problem; everything else is still checked.
            problems.Add(["serving_config", null, null, null, e.Error.Detail, "none: fix or replace the serving config; nothing was changed"]);
            return;
        }
        var scope = new CheckScope(c.User, c.Name, c.Version);
        if (c.User is null && c.Name is null)
        {
            // Leftovers of writes that did not finish: the serving side's own temporary files.
            var leftovers = await serving.FindLeftoversAsync(c.Repair, cancellationToken);
            foreach (var leftover in leftovers)
            {
                problems.Add(["serving_temp", null, null, null, $"'{leftover}' in the serving folder was left by a deploy, stop or config write that did not finish", c.Repair ? "deleted" : "none"]);
            }
            if (c.Repair && leftovers.Count > 0)
            {
                FaultPoints.Reach(FaultPoints.Points.RepairAction);
            }
        }
        var byServingName = live.GroupBy(m => m.ServingName ?? ResultTables.ServingName(m.User, m.Name))
            .ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        foreach (var entry in managed)
        {
            byServingName.TryGetValue(entry.ServingName, out var rows);
            if (rows is null && !scope.CoversServingName(entry.ServingName))
            {
                continue;
            }
            var owner = rows?[0];
            if (rows is null && (c.User is not null || c.Name is not null))
            {
                // A scoped check knows only its scope's rows: a serving name that merely looks like it
                // may be another model's (user_name splits more than one way).
                continue;
            }
            var stale = entry.Versions.Union(entry.Folders).Distinct().Order()
                .Where(v => c.Version is null || v == c.Version)
                .Where(v => rows is null || !rows.Any(r => r.Version == v && r.Serving)).ToList();
            foreach (var v in stale)
            {
                var inConfig = entry.Versions.Contains(v);
                var detail = rows is null
                    ? $"{(inConfig ? "the serving config serves" : "a version folder is published for")} {entry.ServingName} version {v}, which no version in the registry is"
                    : inConfig
                        ? $"the serving config serves version {v}, the registry says it is off"
                        : $"version {v} has a published serving folder, the registry says it is off";
                var action = $"none: mlmodel stop name={owner?.Name ?? "?"} version={v}";
                if (rows is null)
                {
                    action = "none: remove it from the serving config (a model this registry no longer has)";
                }
                if (c.Repair)
                {
                    if (owner is not null)
                    {
                        action = await RepairAsync(caller, op, owner.User, owner.Name, v, inConfig ? "served, registry off" : "serving folder, registry off", async ct =>
                        {
                            var now = await _repository.GetAsync(owner.User, owner.Name, v, ct);
                            if (now is { Serving: true })
                            {
                                return "none: served now";
                            }
                            await serving.StopAsync(entry.ServingName, v, ct);
                            return "removed from serving";
                        }, cancellationToken);
                    }
                    else
                    {
                        // No row at all: a deploy that lost its registry commit to a delete. Nothing may serve it.
                        try
                        {
                            await serving.StopAsync(entry.ServingName, v, cancellationToken);
                            action = "removed from serving";
                        }
                        catch (MlModelException e)
                        {
                            action = "failed: " + e.Error.Detail;
                        }
                        FaultPoints.Reach(FaultPoints.Points.RepairAction);
                    }
                }
                problems.Add(["serving_drift", owner?.User, owner?.Name, v, detail, action]);
            }

            if (rows is null || c.Version is not null)
            {
                continue; // labels are the model's, not one version's
            }
            // Labels: the registry's (one per served version) against the config's.
            var registryLabels = rows.Where(r => r.Serving && r.ServingLabel is not null && entry.Versions.Contains(r.Version))
                .ToDictionary(r => r.ServingLabel!, r => r.Version, StringComparer.Ordinal);
            var drift = entry.Labels.Where(kv => !stale.Contains(kv.Value) && (!registryLabels.TryGetValue(kv.Key, out var rv) || rv != kv.Value))
                .Select(kv => (kv.Key, (int?)kv.Value, registryLabels.TryGetValue(kv.Key, out var rv) ? (int?)rv : null))
                .Concat(registryLabels.Where(kv => !entry.Labels.ContainsKey(kv.Key)).Select(kv => (kv.Key, (int?)null, (int?)kv.Value)))
                .ToList();
            if (drift.Count > 0)
            {
                var first = rows[0];
                var action = "none: mlmodel check repair=true";
                if (c.Repair)
                {
                    action = await RepairAsync(caller, op, first.User, first.Name, null, "label drift", async ct =>
                    {
                        var now = (await _repository.GetVersionsAsync(first.User, first.Name, ct))
                            .Where(r => r.Serving && r.ServingLabel is not null && r.State != ModelStates.Deleting)
                            .ToDictionary(r => r.ServingLabel!, r => r.Version, StringComparer.Ordinal);
                        await serving.SetLabelsAsync(entry.ServingName, now, ct);
                        return "labels set to the registry's";
                    }, cancellationToken);
                }
                foreach (var (label, configVersion, registryVersion) in drift)
                {
                    var detail = (configVersion, registryVersion) switch
                    {
                        (int cv, null) => $"the serving config has label '{label}' on version {cv}, the registry has no such label",
                        (null, int rv) => $"the registry has label '{label}' on version {rv}, the serving config does not",
                        _ => $"the serving config has label '{label}' on version {configVersion}, the registry on version {registryVersion}",
                    };
                    problems.Add(["label_drift", first.User, first.Name, configVersion ?? registryVersion, detail, action]);
                }
            }
        }

        foreach (var m in live.Where(m => m.Serving))
        {
            var servingName = m.ServingName ?? ResultTables.ServingName(m.User, m.Name);
            if (managed.Any(e => e.ServingName == servingName && e.Versions.Contains(m.Version)))
            {
                continue;
            }
            var action = $"none: mlmodel deploy name={m.Name} version={m.Version}";
            if (c.Repair)
            {
                action = await RepairAsync(caller, op, m.User, m.Name, m.Version, "registry on, not served", async ct =>
                {
                    var now = await _repository.GetAsync(m.User, m.Name, m.Version, ct);
                    var entries = await ManagedEntriesAsync(serving, servingName, ct);
                    var entry = entries.Count == 0 ? null : entries[0];
                    if (now is not { Serving: true } || entry?.Versions.Contains(m.Version) == true)
                    {
                        return "none: changed meanwhile";
                    }
                    if (entry?.Folders.Contains(m.Version) == true)
                    {
                        // A stop cut short after its config write: finish it.
                        await serving.StopAsync(servingName, m.Version, ct);
                    }
                    await _repository.UpdateAsync(now with { Serving = false, ServingLabel = null }, ct);
                    return $"registry set to off: deploy it again with mlmodel deploy name={m.Name} version={m.Version}";
                }, cancellationToken);
            }
            problems.Add(["serving_drift", m.User, m.Name, m.Version, "the registry says this version is served, the serving config does not list it", action]);
        }
    }
}
