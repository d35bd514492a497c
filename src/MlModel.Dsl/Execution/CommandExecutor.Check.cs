using System.Globalization;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Binding;
using MlModel.Dsl.Execution.Archives;

namespace MlModel.Dsl.Execution;

internal sealed partial class CommandExecutor
{
    /// <summary>
    /// The consistency check: versions whose files are missing or corrupt, files no version
    /// owns, and serving config entries the registry does not know. With repair, orphaned files
    /// are deleted and broken versions are marked ERROR (so they are not deployed).
    /// </summary>
    private async Task<ResultSet> CheckAsync(CheckCommand c, MlModelCaller caller, CancellationToken cancellationToken)
    {
        var op = OperationTable.Get(MlModelOperation.Check);
        RequireAdministrator(op, caller, "run the consistency check");
        var problems = new List<object?[]>();
        var models = _repository.List(new ModelFilter(c.User, c.Name)).ToList();
        var store = _options.ModelStore;

        if (store is not null)
        {
            foreach (var m in models.Where(m => m.StorageKey is not null))
            {
                var broken = false;
                foreach (var file in await _repository.GetFilesAsync(m.Id, cancellationToken))
                {
                    var key = m.StorageKey + file.Path;
                    var info = await store.StatAsync(key, cancellationToken);
                    string? problem = null, detail = null;
                    if (info is null)
                    {
                        (problem, detail) = ("missing_file", $"'{file.Path}' is missing");
                    }
                    else if (info.Size != file.Size)
                    {
                        (problem, detail) = ("corrupt_file", $"'{file.Path}' has {info.Size} bytes, the manifest says {file.Size}");
                    }
                    else
                    {
                        try
                        {
                            await using var verifying = new HashingStream(await store.OpenReadAsync(key, cancellationToken), file.Size, file.Sha256,
                                why => new InvalidDataException(why), headCapacity: 0);
                            await verifying.CopyToAsync(Stream.Null, cancellationToken);
                        }
                        catch (InvalidDataException e)
                        {
                            (problem, detail) = ("corrupt_file", $"'{file.Path}': {e.Message}");
                        }
                    }
                    if (problem is not null)
                    {
                        broken = true;
                        problems.Add([problem, m.User, m.Name, m.Version, detail, null]);
                    }
                }
                if (broken)
                {
                    var action = "none: re-import the model or delete the version";
                    if (c.Repair && m.State != ModelStates.Error)
                    {
                        await _repository.UpdateAsync(m with { State = ModelStates.Error }, cancellationToken);
                        action = "marked ERROR";
                    }
                    foreach (var row in problems.Where(r => r[5] is null))
                    {
                        row[5] = action;
                    }
                }
            }

            var known = models.Select(m => ModelPrefix(m.User, m.Name, m.Version)).ToHashSet(StringComparer.Ordinal);
            var scope = c.User is null ? "" : c.User + "/" + (c.Name is null ? "" : c.Name + "/");
            await FindOrphansAsync(store, "models/" + scope, known, "orphan_files", c.Repair, problems, cancellationToken);
            var exports = _options.ExportStore ?? store;
            var knownExports = models.Select(m => ExportPrefix(m.User, m.Name, m.Version)).ToHashSet(StringComparer.Ordinal);
            await FindOrphansAsync(exports, "exports/" + scope, knownExports, "orphan_export", c.Repair, problems, cancellationToken);
        }

        if (_options.Serving is { } serving)
        {
            var deployed = await serving.GetDeployedAsync(cancellationToken);
            var byServingName = models.GroupBy(m => m.ServingName ?? ResultTables.ServingName(m.User, m.Name)).ToDictionary(g => g.Key, g => g.ToList());
            foreach (var (servingName, versions) in deployed)
            {
                if (!byServingName.TryGetValue(servingName, out var rows))
                {
                    if (c.User is null && c.Name is null)
                    {
                        problems.Add(["serving_drift", null, servingName, null, $"the serving config serves {servingName} (versions {string.Join(", ", versions)}), which the registry does not know", "none: not managed here"]);
                    }
                    continue;
                }
                foreach (var v in versions.Where(v => !rows.Any(r => r.Version == v && r.Serving)))
                {
                    var m = rows[0];
                    problems.Add(["serving_drift", m.User, m.Name, v, $"the serving config serves version {v}, the registry says it is off", $"none: mlmodel stop name={m.Name} version={v}"]);
                }
            }
            foreach (var m in models.Where(m => m.Serving))
            {
                var servingName = m.ServingName ?? ResultTables.ServingName(m.User, m.Name);
                if (!deployed.TryGetValue(servingName, out var versions) || !versions.Contains(m.Version))
                {
                    problems.Add(["serving_drift", m.User, m.Name, m.Version, "the registry says this version is served, the serving config does not list it", $"none: mlmodel deploy name={m.Name} version={m.Version}"]);
                }
            }
        }
        return new ResultSet(ResultTables.Check, problems);
    }

    private async Task FindOrphansAsync(IObjectStore store, string prefix, HashSet<string> known, string problem, bool repair, List<object?[]> problems, CancellationToken cancellationToken)
    {
        var groups = new Dictionary<string, (long Bytes, int Files, DateTime Newest)>(StringComparer.Ordinal);
        await foreach (var obj in store.ListAsync(prefix, cancellationToken))
        {
            // <kind>/<user>/<name>/<version>/...
            var parts = obj.Key.Split('/');
            if (parts.Length < 5)
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
                    await store.DeletePrefixAsync(versionPrefix, cancellationToken);
                    action = "deleted";
                }
                else
                {
                    action = $"kept: younger than {_options.OrphanGracePeriod} (an import may be running)";
                }
            }
            problems.Add([problem, parts[1], parts[2], version, $"{g.Files} file(s), {g.Bytes:N0} bytes under {versionPrefix} with no version in the registry", action]);
        }
    }
}
