using System.Formats.Tar;
using System.Globalization;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Backends.Local;
using MlModel.Dsl.Binding;
using MlModel.Dsl.Execution.Archives;

namespace MlModel.Dsl.Execution;

internal sealed partial class CommandExecutor
{
    /// <summary>Where a version's files live in the model store.</summary>
    internal static string ModelPrefix(string user, string name, int version) =>
        $"models/{user}/{name}/{version.ToString(CultureInfo.InvariantCulture)}/";

    /// <summary>Where a version's export archives live in the export store.</summary>
    internal static string ExportPrefix(string user, string name, int version) =>
        $"exports/{user}/{name}/{version.ToString(CultureInfo.InvariantCulture)}/";

    private IObjectStore RequireModelStore(OperationSpec op) =>
        _options.ModelStore ?? throw Fail(ErrorCodes.Backend, op, "no model store is configured (MlModelOptions.ModelStore)");

    private IObjectStore ExportStore(OperationSpec op) => _options.ExportStore ?? RequireModelStore(op);

    private async Task<ResultSet> ImportAsync(ImportCommand c, MlModelCaller caller, Attempt attempt, IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        var op = CommandTables.Get(MlModelOperation.Import);
        var owner = caller.User;
        var connector = await ResolveConnectorAsync(op, c.ConnectorId, caller, cancellationToken);
        // Spec B.5: through a connector of their own any key; through a shared one, a
        // non-administrator imports only from keys under USERS/<user>/.
        var userFolder = $"USERS/{owner}/";
        if (!MayImportAnyKey(connector, caller) && !(c.Path.StartsWith(userFolder, StringComparison.Ordinal) && !c.Path.Contains("/../", StringComparison.Ordinal)))
        {
            throw Fail(ErrorCodes.PermissionDenied, op, $"user '{owner}' may import through the shared connector '{c.ConnectorId}' only from keys under {userFolder}, not '{c.Path}'");
        }
        var store = RequireModelStore(op);
        {
            var source = CreateStore(connector);
            // A connector's store is made for this import (an S3 client and its buffers): release it after.
            using var sourceLifetime = source as IDisposable;
            ObjectInfo? info;
            try
            {
                info = await source.StatAsync(c.Path, cancellationToken);
            }
            catch (MlModelException e) when (e.Code == ErrorCodes.InvalidValue)
            {
                throw Fail(ErrorCodes.InvalidValue, op, $"invalid path '{c.Path}': {e.Message}", e);
            }
            if (info is null)
            {
                throw Fail(ErrorCodes.NotFound, op, $"connector '{c.ConnectorId}' has no object '{c.Path}'");
            }

            var version = await _repository.AllocateVersionAsync(owner, c.Name, cancellationToken);
            attempt.Version = version;
            var prefix = ModelPrefix(owner, c.Name, version);
            StoredModel stored;
            try
            {
                await using var input = await source.OpenReadAsync(c.Path, cancellationToken);
                await using var batch = new FaultPointBatch(store.BeginWriteBatch());
                var reader = new ModelArchiveReader(batch, prefix, c.Format, _options.ArchiveLimits);
                using (var transfer = MlModelTelemetry.Child("mlmodel.transfer"))
                {
                    transfer?.SetTag(MlModelTelemetry.Tags.Operation, "import");
                    stored = await reader.ReadArchiveAsync(input, info.Size, progress, cancellationToken);
                    transfer?.SetTag("mlmodel.transfer.bytes", stored.TotalBytes);
                }
                MlModelTelemetry.Bytes.Add(stored.TotalBytes, new KeyValuePair<string, object?>(MlModelTelemetry.Tags.Operation, "import"));
                // Durable before the row exists: a row never points at files a crash could lose
                // (unless the store was told not to sync: then the manifest is what tells).
                await CommitAsync(op, batch, version, c.Name, cancellationToken);
                FaultPoints.Reach(FaultPoints.Points.ImportFilesDurable);
            }
            catch (Exception e)
            {
                await AbandonAsync(store, prefix, owner, c.Name, version);
                throw e switch
                {
                    InvalidDataException or ArchiveException => Fail(ErrorCodes.InvalidArchive, op, $"'{c.Path}' is not a valid {FormatLabel(c.Format)} archive: {e.Message}", e),
                    MlModelException m => Within(op, m),
                    OperationCanceledException => e,
                    _ => Fail(ErrorCodes.Backend, op, "the import failed: " + e.Message, e),
                };
            }

            var now = Now;
            try
            {
                var model = await _repository.InsertAsync(new ModelVersion
                {
                    User = owner,
                    Name = c.Name,
                    Version = version,
                    Description = c.Description,
                    AnalysisTool = c.AnalysisTool,
                    Kind = c.Kind,
                    Algorithm = c.Algorithm ?? stored.Facts.Algorithm,
                    Feature = stored.Facts.Feature,
                    Label = stored.Facts.Label,
                    Parameter = c.Parameter ?? stored.Facts.Parameter,
                    Signature = stored.Facts.Signature,
                    Filename = stored.Facts.Filename,
                    Format = CommandRenderer.FormatName(c.Format),
                    ServingName = ResultTables.ServingName(owner, c.Name),
                    State = ModelStates.Done,
                    StorageKey = prefix + stored.Root,
                    SizeBytes = stored.TotalBytes,
                    Created = now,
                    Modified = now,
                }, stored.Files, cancellationToken);
                FaultPoints.Reach(FaultPoints.Points.ImportRowInserted);
                return new ResultSet(ResultTables.Import, [["ok", model.Name, model.Version]]);
            }
            catch
            {
                await AbandonAsync(store, prefix, owner, c.Name, version);
                throw;
            }
        }
    }

    /// <summary>An import's write batch with a fault point after each file it is given.</summary>
    private sealed class FaultPointBatch(IObjectWriteBatch inner) : IObjectWriteBatch
    {
        public async Task PutAsync(string key, Stream content, long? length, CancellationToken cancellationToken = default)
        {
            await inner.PutAsync(key, content, length, cancellationToken);
            FaultPoints.Reach(FaultPoints.Points.ImportFileWritten);
        }

        public Task CommitAsync(CancellationToken cancellationToken = default) => inner.CommitAsync(cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    private static string FormatLabel(ModelFormat format) => format switch
    {
        ModelFormat.SavedModel => "SavedModel",
        ModelFormat.H5 => "HDF5 model",
        _ => "Spark model",
    };

    /// <summary>Commits the write batch of an import; a failure names the version it was for.</summary>
    private static async Task CommitAsync(OperationSpec op, IObjectWriteBatch batch, int version, string name, CancellationToken cancellationToken)
    {
        try
        {
            await batch.CommitAsync(cancellationToken);
        }
        catch (MlModelException e)
        {
            throw Fail(e.Code, op, $"the files of version {version} of '{name}' could not be made durable: {e.Error.Detail}", e);
        }
    }

    /// <summary>
    /// After a failed import: deletes what it wrote and gives its version number back, so the next
    /// import gets it (spec B.4: one up per import). Best effort: a failed clean-up is found and
    /// finished by <c>mlmodel check repair=true</c>, and then the number stays spent, so that no
    /// later version shares a folder with leftovers.
    /// </summary>
    private async Task AbandonAsync(IObjectStore? store, string prefix, string owner, string name, int version)
    {
        try
        {
            if (store is not null)
            {
                await store.DeletePrefixAsync(prefix, CancellationToken.None);
            }
            await _repository.ReleaseVersionAsync(owner, name, version, CancellationToken.None);
        }
        catch (Exception)
        {
            // The original failure is what the user needs to see.
        }
    }

    private async Task<ResultSet> ExportAsync(ExportCommand c, MlModelCaller caller, IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        var op = CommandTables.Get(MlModelOperation.Export);
        var owner = Owner(op, c.User, caller);
        var model = await RequireModelAsync(op, owner, c.Name, c.Version, cancellationToken);
        if (model.StorageKey is null)
        {
            throw Fail(ErrorCodes.Conflict, op, $"version {model.Version} of '{model.Name}' has no files to export (state {model.State})");
        }
        var store = RequireModelStore(op);
        var exports = ExportStore(op);
        var files = await _repository.GetFilesAsync(model.Id, cancellationToken);
        var key = ExportPrefix(owner, model.Name, model.Version) + $"{model.Name}_v{model.Version}_export.tar";
        var total = files.Sum(f => f.Size);
        long done = 0;
        var count = 0;
        // The local store checks each folder of the model for links once per export, not per file.
        var local = store as ILocalFileStore;
        var verifiedFolders = local is null ? null : new HashSet<string>(StringComparer.Ordinal);

        using var transfer = MlModelTelemetry.Child("mlmodel.transfer");
        transfer?.SetTag(MlModelTelemetry.Tags.Operation, "export");
        try
        {
            try
            {
                await exports.WriteAsync(key, async (output, ct) =>
                {
                    FaultPoints.Reach(FaultPoints.Points.ExportArchiveWriting);
                    await using var tar = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
                    // A sha256sum-style manifest first: `sha256sum -c MANIFEST.sha256` checks an unpacked export.
                    // Produced line by line: the whole text of 100,000 files would take about 20 MB.
                    var manifestEntry = new PaxTarEntry(TarEntryType.RegularFile, ModelLayout.ManifestFile)
                    {
                        DataStream = new ManifestStream(files),
                        Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
                        ModificationTime = model.Modified,
                    };
                    await tar.WriteEntryAsync(manifestEntry, ct);
                    // Checksums are computed on the pipeline's thread while this one reads and writes;
                    // a mismatch surfaces a few files later at most, and always before the tar is whole.
                    using var hashes = new Sha256Pipeline();
                    foreach (var file in files)
                    {
                        var stream = local is null
                            ? await store.OpenReadAsync(model.StorageKey + file.Path, ct)
                            : await local.OpenReadAsync(model.StorageKey + file.Path, verifiedFolders, ct);
                        await using var verifying = new HashingStream(
                            stream, file.Size, file.Sha256,
                            why => Fail(ErrorCodes.Integrity, op, $"file '{file.Path}' of version {model.Version} of '{model.Name}' is corrupt: {why}; run mlmodel check"),
                            headCapacity: 0, hashes);
                        var entry = new PaxTarEntry(TarEntryType.RegularFile, file.Path)
                        {
                            DataStream = verifying,
                            Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
                            ModificationTime = model.Modified,
                        };
                        await tar.WriteEntryAsync(entry, ct);
                        if (!verifying.IsComplete)
                        {
                            // The tar writer reads nothing of an empty file: check it all the same.
                            await verifying.CopyToAsync(Stream.Null, ct);
                        }
                        done += file.Size;
                        progress?.Report(new TransferProgress("export", done, total, ++count));
                    }
                    await hashes.CompleteAsync(ct);
                }, cancellationToken);
            }
            catch (MlModelException e) when (e.Code == ErrorCodes.NotFound)
            {
                throw Fail(ErrorCodes.Integrity, op, $"a file of version {model.Version} of '{model.Name}' is missing from the model store ({e.Error.Detail}); run mlmodel check", e);
            }
            catch (MlModelException e) when (e.Error.Command is null)
            {
                throw Within(op, e);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            if (await GoneAsync(owner, model, CancellationToken.None))
            {
                // A delete that ran meanwhile took the files (or the archive's folder) away: that is the answer.
                await exports.DeleteAsync(key, CancellationToken.None);
                throw Fail(ErrorCodes.NotFound, op, $"version {model.Version} of '{model.Name}' was deleted while it was being exported; the archive was removed", e);
            }
            throw;
        }

        transfer?.SetTag("mlmodel.transfer.bytes", total);
        transfer?.Dispose();
        MlModelTelemetry.Bytes.Add(total, new KeyValuePair<string, object?>(MlModelTelemetry.Tags.Operation, "export"));
        FaultPoints.Reach(FaultPoints.Points.ExportArchiveWritten);
        // A delete may have run while the archive was written (it removes the version's exports,
        // but this one may have landed after it): under the model's lock, which a delete holds
        // from its first change to its last, the version must still be there, or the archive goes.
        await using (await LockModelAsync(op, owner, model.Name, cancellationToken))
        {
            if (await GoneAsync(owner, model, cancellationToken))
            {
                await exports.DeleteAsync(key, CancellationToken.None);
                throw Fail(ErrorCodes.NotFound, op, $"version {model.Version} of '{model.Name}' was deleted while it was being exported; the archive was removed");
            }
        }

        var expiry = _options.ExportUrlExpiry;
        // The promise of "expired time (sec)": an export past its expiry is removed by the next
        // export of the model (and by check repair=true), so a local file:// URL expires too.
        await RemoveExpiredExportsAsync(exports, $"exports/{owner}/{model.Name}/", key, cancellationToken);
        var url = await exports.GetDownloadUrlAsync(key, expiry, cancellationToken);
        return new ResultSet(ResultTables.Export, [["ok", url.AbsoluteUri, (int)expiry.TotalSeconds]]);
    }

    /// <summary>
    /// Deletes the exports under <paramref name="prefix"/> (one model's) older than the URL expiry,
    /// but <paramref name="keep"/>. Each is stat'ed again just before its delete, so an export that a
    /// concurrent command has just written anew is kept. Returns the keys deleted.
    /// </summary>
    private async Task<List<string>> RemoveExpiredExportsAsync(IObjectStore exports, string prefix, string? keep, CancellationToken cancellationToken)
    {
        var deleted = new List<string>();
        var expired = new List<string>();
        await foreach (var obj in exports.ListAsync(prefix, cancellationToken))
        {
            if (obj.Key != keep && Now - obj.LastModified > _options.ExportUrlExpiry)
            {
                expired.Add(obj.Key);
            }
        }
        foreach (var key in expired)
        {
            if (await exports.StatAsync(key, cancellationToken) is { } info && Now - info.LastModified > _options.ExportUrlExpiry)
            {
                await exports.DeleteAsync(key, cancellationToken);
                deleted.Add(key);
            }
        }
        return deleted;
    }

    /// <summary>Whether <paramref name="model"/> was deleted (or is being deleted) since it was read.</summary>
    private async Task<bool> GoneAsync(string owner, ModelVersion model, CancellationToken cancellationToken)
    {
        var now = await _repository.GetAsync(owner, model.Name, model.Version, cancellationToken);
        return now is null || now.Id != model.Id || now.State == ModelStates.Deleting;
    }

    private async Task<ResultSet> DeleteAsync(DeleteCommand c, MlModelCaller caller, Attempt attempt, CancellationToken cancellationToken)
    {
        var op = CommandTables.Get(MlModelOperation.Delete);
        var owner = Owner(op, c.User, caller);
        // Under the model's lock: a deploy of this version either finished before (and the
        // version is served, so refused here) or starts after (and finds no version).
        await using var held = await LockModelAsync(op, owner, c.Name, cancellationToken);
        var model = await RequireModelAsync(op, owner, c.Name, c.Version, cancellationToken, includeDeleting: true);
        if (model.Serving)
        {
            throw Fail(ErrorCodes.Conflict, op,
                $"version {model.Version} of '{model.Name}' is being served as {ResultTables.ServingName(owner, model.Name)}; stop it first: mlmodel stop name={model.Name} version={model.Version}");
        }
        await FinishDeleteAsync(op, model, cancellationToken);
        return ResultSet.Scalar("result", "ok");
    }

    /// <summary>
    /// Deletes a version the caller holds the lock of: the row goes to DELETING first (hidden from
    /// list, summary, export and deploy), then the serving leftovers of a cut-short deploy, the files
    /// and exports (temporary files included), and the row last. Cut short at any point, running it
    /// again (delete, or <c>check repair=true</c>) finishes the job.
    /// </summary>
    private async Task FinishDeleteAsync(OperationSpec op, ModelVersion model, CancellationToken cancellationToken)
    {
        if (model.State != ModelStates.Deleting)
        {
            model = await _repository.UpdateAsync(model with { State = ModelStates.Deleting }, cancellationToken);
        }
        FaultPoints.Reach(FaultPoints.Points.DeleteMarked);
        // The registry says it is not served; a deploy killed before its registry commit may still
        // have it in the serving config or its folder: nothing may serve a deleted version.
        await StopUnregisteredAsync(op, model.User, model.Name, model.Version, cancellationToken);
        if (_options.ModelStore is { } store)
        {
            await store.DeletePrefixAsync(ModelPrefix(model.User, model.Name, model.Version), cancellationToken);
            await ExportStore(op).DeletePrefixAsync(ExportPrefix(model.User, model.Name, model.Version), cancellationToken);
        }
        FaultPoints.Reach(FaultPoints.Points.DeleteFilesRemoved);
        await _repository.DeleteAsync(model.User, model.Name, model.Version, cancellationToken);
    }

    public async Task<ModelVersion> RegisterAsync(ModelRegistration r, MlModelCaller caller, string? filesFolder, CancellationToken cancellationToken)
    {
        var op = CommandTables.Get(MlModelOperation.Import);
        if (!Names.IsValid(r.Name))
        {
            throw Fail(ErrorCodes.InvalidValue, op, $"invalid name '{r.Name}'; {Names.Rule}");
        }
        if (!Names.IsValid(caller.User))
        {
            throw Fail(ErrorCodes.PermissionDenied, op, $"the requesting user '{caller.User}' is not a valid user name; {Names.Rule}");
        }
        await EnsureInitializedAsync(cancellationToken);
        var owner = caller.User;
        return await AuditedAsync(caller, "register", owner, r.Name, (ModelVersion m) => m.Version, null, $"register name={r.Name} analysis_tool={r.AnalysisTool}", async () =>
        {
            var format = r.Format switch
            {
                null => (ModelFormat?)null,
                "saved_model" => ModelFormat.SavedModel,
                "h5" => ModelFormat.H5,
                "spark" => ModelFormat.Spark,
                _ => throw Fail(ErrorCodes.InvalidValue, op, $"invalid format '{r.Format}'; expected saved_model, h5 or spark"),
            };
            var store = filesFolder is null ? null : RequireModelStore(op);
            var version = await _repository.AllocateVersionAsync(owner, r.Name, cancellationToken);
            StoredModel? stored = null;
            var prefix = ModelPrefix(owner, r.Name, version);
            if (filesFolder is not null && store is not null)
            {
                try
                {
                    await using var batch = store.BeginWriteBatch();
                    var reader = new ModelArchiveReader(batch, prefix, format ?? ModelFormat.Spark, _options.ArchiveLimits);
                    stored = await reader.ReadFolderAsync(filesFolder, cancellationToken);
                    await CommitAsync(op, batch, version, r.Name, cancellationToken);
                }
                catch (Exception e)
                {
                    await AbandonAsync(store, prefix, owner, r.Name, version);
                    throw e is InvalidDataException or ArchiveException ? Fail(ErrorCodes.InvalidArchive, op, $"'{filesFolder}' is not a valid model folder: {e.Message}", e) : e;
                }
            }
            var now = Now;
            try
            {
                return await _repository.InsertAsync(new ModelVersion
                {
                    User = owner,
                    Name = r.Name,
                    Version = version,
                    Description = r.Description,
                    AnalysisTool = r.AnalysisTool,
                    Kind = r.Kind,
                    Algorithm = r.Algorithm ?? stored?.Facts.Algorithm,
                    Feature = r.Feature ?? stored?.Facts.Feature,
                    Label = r.Label ?? stored?.Facts.Label,
                    Parameter = r.Parameter ?? stored?.Facts.Parameter,
                    Signature = stored?.Facts.Signature,
                    DataModelName = r.DataModelName,
                    Query = r.Query,
                    Filename = stored?.Facts.Filename,
                    Format = r.Format ?? (stored is null ? null : "spark"),
                    ServingName = ResultTables.ServingName(owner, r.Name),
                    State = ModelStates.Ready,
                    StorageKey = stored is null ? null : prefix + stored.Root,
                    SizeBytes = stored?.TotalBytes,
                    Created = now,
                    Modified = now,
                }, stored?.Files ?? [], cancellationToken);
            }
            catch
            {
                await AbandonAsync(store, prefix, owner, r.Name, version);
                throw;
            }
        });
    }

    public async Task<ModelVersion> UpdateTrainingAsync(string user, string name, int version, TrainingUpdate u, MlModelCaller caller, CancellationToken cancellationToken)
    {
        var op = CommandTables.Get(MlModelOperation.Summary);
        var owner = Owner(op, user, caller);
        if (!ModelStates.All.Contains(u.State) || u.State == ModelStates.Deleting)
        {
            throw Fail(ErrorCodes.InvalidValue, op, $"invalid state '{u.State}'; expected one of {string.Join(", ", ModelStates.All.Where(x => x != ModelStates.Deleting))}");
        }
        await EnsureInitializedAsync(cancellationToken);
        // Under the lock, so that a delete's DELETING mark is never written over.
        await using var held = await LockModelAsync(op, owner, name, cancellationToken);
        var model = await RequireModelAsync(op, owner, name, version, cancellationToken);
        return await AuditedAsync(caller, "state", owner, name, _ => (int?)version, version, $"state {model.State} -> {u.State}" + (u.Message is null ? "" : ": " + u.Message), async () =>
            await _repository.UpdateAsync(model with
            {
                State = u.State,
                Evaluation = u.Evaluation ?? model.Evaluation,
                CrossValidation = u.CrossValidation ?? model.CrossValidation,
                GridInfo = u.GridInfo ?? model.GridInfo,
                TrainCnt = u.TrainCnt ?? model.TrainCnt,
                Elapsed = u.Elapsed ?? model.Elapsed,
                Dictionary = u.Dictionary ?? model.Dictionary,
            }, cancellationToken));
    }
}
