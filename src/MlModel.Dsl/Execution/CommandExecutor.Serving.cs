using MlModel.Dsl.Backends;
using MlModel.Dsl.Binding;
using MlModel.Dsl.Execution.Archives;

namespace MlModel.Dsl.Execution;

internal sealed partial class CommandExecutor
{
    private async Task<ResultSet> DeployAsync(DeployCommand c, MlModelCaller caller, Attempt attempt, CancellationToken cancellationToken)
    {
        var op = CommandTables.Get(MlModelOperation.Deploy);
        var owner = Owner(op, c.User, caller);
        var serving = RequireServing(op);
        // The row is read under the model's lock, which a delete holds from its DELETING mark to the
        // row's removal: a deploy that loses the race finds no version (not_found), never a
        // version whose files are going.
        await using var held = await LockModelAsync(op, owner, c.Name, cancellationToken);
        var model = await RequireModelAsync(op, owner, c.Name, c.Version, cancellationToken);
        attempt.Version = model.Version;

        RequireServable(op, model);
        if (model.StorageKey is null || model.State != ModelStates.Done)
        {
            throw Fail(ErrorCodes.Conflict, op, $"version {model.Version} of '{model.Name}' is {model.State} and has no files to serve yet");
        }
        var servingName = ResultTables.ServingName(owner, model.Name);
        var store = RequireModelStore(op);
        var files = await _repository.GetFilesAsync(model.Id, cancellationToken);
        if (_options.VerifyChecksumsOnDeploy)
        {
            await VerifyAsync(op, store, model, files, cancellationToken);
        }
        var servingFiles = files.Select(f =>
        {
            var key = model.StorageKey + f.Path;
            return new ServingFile(f.Path, f.Size, (store as ILocalFileStore)?.GetLocalPath(key), ct => store.OpenReadAsync(key, ct));
        }).ToList();

        try
        {
            using var publish = MlModelTelemetry.Child("mlmodel.publish");
            publish?.SetTag(MlModelTelemetry.Tags.Operation, "deploy");
            await serving.DeployAsync(servingName, model.Version, c.Label, servingFiles, cancellationToken);
        }
        catch (MlModelException e)
        {
            throw Within(op, e);
        }

        // The registry follows what is now served: this version on; a label that moved to
        // it is taken off the version that had it.
        try
        {
            if (c.Label is not null)
            {
                foreach (var other in await _repository.GetVersionsAsync(owner, model.Name, cancellationToken))
                {
                    if (other.Version != model.Version && other.ServingLabel == c.Label)
                    {
                        await _repository.UpdateAsync(other with { ServingLabel = null }, cancellationToken);
                    }
                }
            }
            await _repository.UpdateAsync(model with { Serving = true, ServingName = servingName, ServingLabel = c.Label ?? model.ServingLabel }, cancellationToken);
        }
        catch (Exception) when (!model.Serving)
        {
            // Keep serving and registry in step: undo the deploy the registry could not record.
            try
            {
                await serving.StopAsync(servingName, model.Version, CancellationToken.None);
            }
            catch (Exception)
            {
                // check reports the drift, and stop or check repair=true removes it.
            }
            throw;
        }
        return new ResultSet(ResultTables.Deploy, [["on", model.Version, servingName]]);
    }

    private async Task<ResultSet> StopAsync(StopCommand c, MlModelCaller caller, Attempt attempt, CancellationToken cancellationToken)
    {
        var op = CommandTables.Get(MlModelOperation.Stop);
        var owner = Owner(op, c.User, caller);
        var serving = RequireServing(op);
        await using var held = await LockModelAsync(op, owner, c.Name, cancellationToken);
        var servingName = ResultTables.ServingName(owner, c.Name);
        ModelVersion model;
        if (c.Version is int v)
        {
            model = await RequireModelAsync(op, owner, c.Name, v, cancellationToken);
            RequireServable(op, model);
            if (!model.Serving)
            {
                // The registry says off; a deploy killed before its registry commit may have left it
                // in the serving config: the registry is what counts, so the config follows it.
                if (await StopUnregisteredAsync(op, owner, c.Name, v, cancellationToken))
                {
                    return ResultSet.Scalar("result", "off");
                }
                throw Fail(ErrorCodes.Conflict, op, $"version {v} of '{c.Name}' is not being served");
            }
        }
        else
        {
            var versions = (await _repository.GetVersionsAsync(owner, c.Name, cancellationToken)).Where(m => m.State != ModelStates.Deleting).ToList();
            if (versions.Count == 0)
            {
                throw Fail(ErrorCodes.NotFound, op, $"no model '{c.Name}' of user '{owner}'");
            }
            var served = versions.LastOrDefault(m => m.Serving);
            if (served is null)
            {
                RequireServable(op, versions[^1]);
                // Nothing served by the registry's account: whatever the config still serves of this
                // model is drift, and goes.
                var any = false;
                foreach (var entry in await ManagedEntriesAsync(serving, servingName, cancellationToken))
                {
                    foreach (var stale in entry.Versions.Union(entry.Folders).Distinct().ToList())
                    {
                        any |= await StopUnregisteredAsync(op, owner, c.Name, stale, cancellationToken);
                    }
                }
                if (any)
                {
                    return ResultSet.Scalar("result", "off");
                }
                throw Fail(ErrorCodes.Conflict, op, $"no version of '{c.Name}' is being served");
            }
            model = served;
        }
        attempt.Version = model.Version;
        try
        {
            // A config that no longer lists the version (a stop killed after its config write) needs
            // only the registry's side.
            if (await ServingHoldsAsync(serving, servingName, model.Version, cancellationToken))
            {
                using var publish = MlModelTelemetry.Child("mlmodel.publish");
                publish?.SetTag(MlModelTelemetry.Tags.Operation, "stop");
                await serving.StopAsync(servingName, model.Version, cancellationToken);
            }
        }
        catch (MlModelException e)
        {
            throw Within(op, e);
        }
        await _repository.UpdateAsync(model with { Serving = false, ServingLabel = null }, cancellationToken);
        return ResultSet.Scalar("result", "off");
    }

    /// <summary>The managed serving entry of <paramref name="servingName"/>, if the serving side holds anything of it.</summary>
    private static async Task<IReadOnlyList<ServingEntry>> ManagedEntriesAsync(IServingBackend serving, string servingName, CancellationToken cancellationToken) =>
        (await serving.GetManagedAsync(cancellationToken)).Where(e => e.ServingName == servingName).ToList();

    /// <summary>Whether the serving config lists the version or its folder is published.</summary>
    private static async Task<bool> ServingHoldsAsync(IServingBackend serving, string servingName, int version, CancellationToken cancellationToken) =>
        (await ManagedEntriesAsync(serving, servingName, cancellationToken)).Any(e => e.Versions.Contains(version) || e.Folders.Contains(version));

    /// <summary>
    /// Takes a version that the registry does not serve out of the serving config and removes its
    /// folder, when either is there (a deploy killed before its registry commit); true when it was.
    /// The caller holds the model's lock. A config that cannot be read is left to <c>check</c>.
    /// </summary>
    private async Task<bool> StopUnregisteredAsync(OperationSpec op, string owner, string name, int version, CancellationToken cancellationToken)
    {
        if (_options.Serving is not { } serving)
        {
            return false;
        }
        var servingName = ResultTables.ServingName(owner, name);
        try
        {
            if (!await ServingHoldsAsync(serving, servingName, version, cancellationToken))
            {
                return false;
            }
            await serving.StopAsync(servingName, version, cancellationToken);
            return true;
        }
        catch (MlModelException e) when (op.Operation == MlModelOperation.Delete && e.Code != ErrorCodes.Cancelled)
        {
            // Deleting goes on: the version's files go, so nothing can load it again; check reports the config.
            return false;
        }
    }

    /// <summary>
    /// Spec B.3: deploy and stop refuse what the serving system cannot load (TensorFlow Serving
    /// loads SavedModel directories only), saying why, rather than answering "not served" for a model
    /// that never could be. What it can load is the backend's to say (<see cref="IServingBackend.Capabilities"/>).
    /// </summary>
    private void RequireServable(OperationSpec op, ModelVersion model)
    {
        var can = RequireServing(op).Capabilities;
        if (can.AnalysisTools.Count > 0 && !can.AnalysisTools.Contains(model.AnalysisTool, StringComparer.OrdinalIgnoreCase))
        {
            throw Fail(ErrorCodes.Unsupported, op,
                $"version {model.Version} of '{model.Name}' is a {model.AnalysisTool} model; {can.System} loads {can.Loads} only");
        }
        if (can.Formats.Count > 0 && !can.Formats.Contains(model.Format ?? ""))
        {
            throw Fail(ErrorCodes.Unsupported, op,
                $"version {model.Version} of '{model.Name}' is an {model.Format} model; {can.System} loads {can.LoadsFormats} only (import it with format={can.Formats[0]})");
        }
    }

    /// <summary>Re-reads every file of a version and compares it with its manifest.</summary>
    private static async Task VerifyAsync(OperationSpec op, IObjectStore store, ModelVersion model, IReadOnlyList<ModelFile> files, CancellationToken cancellationToken)
    {
        foreach (var file in files)
        {
            Stream stream;
            try
            {
                stream = await store.OpenReadAsync(model.StorageKey + file.Path, cancellationToken);
            }
            catch (MlModelException e) when (e.Code == ErrorCodes.NotFound)
            {
                throw Fail(ErrorCodes.Integrity, op, $"file '{file.Path}' of version {model.Version} of '{model.Name}' is missing; it is not deployed (run mlmodel check)", e);
            }
            await using var verifying = new HashingStream(stream, file.Size, file.Sha256,
                why => Fail(ErrorCodes.Integrity, op, $"file '{file.Path}' of version {model.Version} of '{model.Name}' fails its checksum ({why}); it is not deployed (run mlmodel check)"),
                headCapacity: 0);
            await verifying.CopyToAsync(Stream.Null, cancellationToken);
        }
    }
}
