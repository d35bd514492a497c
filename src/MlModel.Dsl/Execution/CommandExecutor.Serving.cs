using MlModel.Dsl.Backends;
using MlModel.Dsl.Binding;
using MlModel.Dsl.Execution.Archives;

namespace MlModel.Dsl.Execution;

internal sealed partial class CommandExecutor
{
    private async Task<ResultSet> DeployAsync(DeployCommand c, MlModelCaller caller, CancellationToken cancellationToken)
    {
        var op = OperationTable.Get(MlModelOperation.Deploy);
        var owner = Owner(op, c.User, caller);
        var serving = RequireServing(op);
        var model = await RequireModelAsync(op, owner, c.Name, c.Version, cancellationToken);

        RequireServable(op, model);
        if (model.StorageKey is null || model.State != ModelStates.Done)
        {
            throw Fail(ErrorCodes.Conflict, op, $"version {model.Version} of '{model.Name}' is {model.State} and has no files to serve yet");
        }
        var servingName = ResultTables.ServingName(owner, model.Name);
        return await AuditedAsync(caller, "deploy", owner, model.Name, _ => (int?)model.Version, model.Version, c.ToString(), async () =>
        {
            var store = RequireModelStore(op);
            var files = await _repository.GetFilesAsync(model.Id, cancellationToken);
            if (_options.VerifyChecksumsOnDeploy)
            {
                await VerifyAsync(op, store, model, files, cancellationToken);
            }
            var servingFiles = files.Select(f =>
            {
                var key = model.StorageKey + f.Path;
                return new ServingFile(f.Path, f.Size, store.GetLocalPath(key), ct => store.OpenReadAsync(key, ct));
            }).ToList();

            try
            {
                await serving.DeployAsync(servingName, model.Version, c.Label, servingFiles, cancellationToken);
            }
            catch (MlModelException e)
            {
                throw Fail(e.Code, op, Strip(e.Message), e);
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
                    // status and check will show the drift.
                }
                throw;
            }
            return new ResultSet(ResultTables.Deploy, [["on", model.Version, servingName]]);
        });
    }

    private async Task<ResultSet> StopAsync(StopCommand c, MlModelCaller caller, CancellationToken cancellationToken)
    {
        var op = OperationTable.Get(MlModelOperation.Stop);
        var owner = Owner(op, c.User, caller);
        var serving = RequireServing(op);
        ModelVersion model;
        if (c.Version is int v)
        {
            model = await RequireModelAsync(op, owner, c.Name, v, cancellationToken);
            RequireServable(op, model);
            if (!model.Serving)
            {
                throw Fail(ErrorCodes.Conflict, op, $"version {v} of '{c.Name}' is not being served");
            }
        }
        else
        {
            var versions = await _repository.GetVersionsAsync(owner, c.Name, cancellationToken);
            if (versions.Count == 0)
            {
                throw Fail(ErrorCodes.NotFound, op, $"no model '{c.Name}' of user '{owner}'");
            }
            var served = versions.LastOrDefault(m => m.Serving);
            if (served is null)
            {
                RequireServable(op, versions[^1]);
                throw Fail(ErrorCodes.Conflict, op, $"no version of '{c.Name}' is being served");
            }
            model = served;
        }
        var servingName = ResultTables.ServingName(owner, model.Name);
        return await AuditedAsync(caller, "stop", owner, model.Name, _ => (int?)model.Version, model.Version, c.ToString(), async () =>
        {
            try
            {
                await serving.StopAsync(servingName, model.Version, cancellationToken);
            }
            catch (MlModelException e)
            {
                throw Fail(e.Code, op, Strip(e.Message), e);
            }
            await _repository.UpdateAsync(model with { Serving = false, ServingLabel = null }, cancellationToken);
            return ResultSet.Scalar("result", "off");
        });
    }

    /// <summary>
    /// Spec B.3: deploy and stop refuse what TensorFlow Serving cannot load (it loads SavedModel
    /// directories only), saying why, rather than answering "not served" for a model that never could be.
    /// </summary>
    private static void RequireServable(OperationSpec op, ModelVersion model)
    {
        if (!string.Equals(model.AnalysisTool, "tf", StringComparison.OrdinalIgnoreCase))
        {
            throw Fail(ErrorCodes.Unsupported, op,
                $"version {model.Version} of '{model.Name}' is a {model.AnalysisTool} model; TensorFlow Serving loads tf SavedModels only");
        }
        if (model.Format != "saved_model")
        {
            throw Fail(ErrorCodes.Unsupported, op,
                $"version {model.Version} of '{model.Name}' is an {model.Format} model; TensorFlow Serving loads SavedModels only (import it with format=saved_model)");
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
