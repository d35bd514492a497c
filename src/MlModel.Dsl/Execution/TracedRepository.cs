using System.Diagnostics;
using MlModel.Dsl.Backends;

namespace MlModel.Dsl.Execution;

/// <summary>
/// The repository as the executor sees it: each call is a child span <c>mlmodel.db</c> of the
/// command's span (with the call's name), so a host sees where a command's time went. Costs
/// nothing measurable when nobody listens (StartActivity returns null).
/// </summary>
internal sealed class TracedRepository(IModelRepository inner) : IModelRepository
{
    public IModelRepository Inner => inner;

    private static async Task<T> Traced<T>(string call, Func<Task<T>> run)
    {
        using var activity = Start(call);
        try
        {
            return await run();
        }
        catch (Exception e)
        {
            activity?.SetStatus(ActivityStatusCode.Error, e.GetType().Name);
            throw;
        }
    }

    private static async Task Traced(string call, Func<Task> run)
    {
        using var activity = Start(call);
        try
        {
            await run();
        }
        catch (Exception e)
        {
            activity?.SetStatus(ActivityStatusCode.Error, e.GetType().Name);
            throw;
        }
    }

    private static Activity? Start(string call)
    {
        var activity = MlModelTelemetry.Child("mlmodel.db");
        activity?.SetTag("db.operation.name", call);
        return activity;
    }

    public Task InitializeAsync(CancellationToken cancellationToken = default) => Traced("initialize", () => inner.InitializeAsync(cancellationToken));

    public Task<string?> DescribeIfNewAsync(CancellationToken cancellationToken = default) =>
        Traced("describe_if_new", () => inner.DescribeIfNewAsync(cancellationToken));

    public Task<int> AllocateVersionAsync(string user, string name, CancellationToken cancellationToken = default) =>
        Traced("allocate_version", () => inner.AllocateVersionAsync(user, name, cancellationToken));

    public Task<bool> ReleaseVersionAsync(string user, string name, int version, CancellationToken cancellationToken = default) =>
        Traced("release_version", () => inner.ReleaseVersionAsync(user, name, version, cancellationToken));

    public Task<IAsyncDisposable> LockModelAsync(string user, string name, CancellationToken cancellationToken = default) =>
        Traced("lock_model", () => inner.LockModelAsync(user, name, cancellationToken));

    public Task<ModelVersion> InsertAsync(ModelVersion model, IReadOnlyList<ModelFile> files, CancellationToken cancellationToken = default) =>
        Traced("insert", () => inner.InsertAsync(model, files, cancellationToken));

    public Task<ModelVersion?> GetAsync(string user, string name, int? version, CancellationToken cancellationToken = default) =>
        Traced("get", () => inner.GetAsync(user, name, version, cancellationToken));

    public Task<IReadOnlyList<ModelVersion>> GetVersionsAsync(string user, string name, CancellationToken cancellationToken = default) =>
        Traced("get_versions", () => inner.GetVersionsAsync(user, name, cancellationToken));

    // Streams: the span would outlive the call; the enumeration is the command's own time.
    public IEnumerable<ModelVersion> List(ModelFilter filter) => inner.List(filter);

    public IEnumerable<ModelListEntry> ListEntries(ModelFilter filter) => inner.ListEntries(filter);

    public Task<IReadOnlyList<ModelFile>> GetFilesAsync(long modelId, CancellationToken cancellationToken = default) =>
        Traced("get_files", () => inner.GetFilesAsync(modelId, cancellationToken));

    public Task<ModelVersion> UpdateAsync(ModelVersion model, CancellationToken cancellationToken = default) =>
        Traced("update", () => inner.UpdateAsync(model, cancellationToken));

    public Task<bool> DeleteAsync(string user, string name, int version, CancellationToken cancellationToken = default) =>
        Traced("delete", () => inner.DeleteAsync(user, name, version, cancellationToken));

    public Task AppendAuditAsync(AuditEntry entry, CancellationToken cancellationToken = default) =>
        Traced("append_audit", () => inner.AppendAuditAsync(entry, cancellationToken));

    public Task<IReadOnlyList<AuditEntry>> GetHistoryAsync(string user, string name, int? version, CancellationToken cancellationToken = default) =>
        Traced("get_history", () => inner.GetHistoryAsync(user, name, version, cancellationToken));

    public Task<ConnectorInfo?> GetConnectorAsync(string id, CancellationToken cancellationToken = default) =>
        Traced("get_connector", () => inner.GetConnectorAsync(id, cancellationToken));

    public Task<IReadOnlyList<ConnectorInfo>> ListConnectorsAsync(CancellationToken cancellationToken = default) =>
        Traced("list_connectors", () => inner.ListConnectorsAsync(cancellationToken));

    public Task SaveConnectorAsync(ConnectorInfo connector, CancellationToken cancellationToken = default) =>
        Traced("save_connector", () => inner.SaveConnectorAsync(connector, cancellationToken));

    public Task<bool> SaveOwnConnectorAsync(ConnectorInfo connector, CancellationToken cancellationToken = default) =>
        Traced("save_own_connector", () => inner.SaveOwnConnectorAsync(connector, cancellationToken));

    public Task<bool> DeleteOwnConnectorAsync(string id, string owner, CancellationToken cancellationToken = default) =>
        Traced("delete_own_connector", () => inner.DeleteOwnConnectorAsync(id, owner, cancellationToken));

    public Task<bool> DeleteConnectorAsync(string id, CancellationToken cancellationToken = default) =>
        Traced("delete_connector", () => inner.DeleteConnectorAsync(id, cancellationToken));
}
