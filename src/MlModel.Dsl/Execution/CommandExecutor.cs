using MlModel.Dsl.Backends;
using MlModel.Dsl.Binding;

namespace MlModel.Dsl.Execution;

/// <summary>
/// Dispatches bound commands to the backends. One partial file per group of operations:
/// queries, transfers (import, export, delete), serving, maintenance.
/// </summary>
internal sealed partial class CommandExecutor
{
    private readonly MlModelOptions _options;
    private readonly IModelRepository _repository;
    private readonly Lock _initGate = new();
    private Task? _initialization;

    public CommandExecutor(MlModelOptions options)
    {
        _options = options;
        _repository = options.Repository!;
    }

    private TimeZoneInfo Zone => _options.DisplayTimeZone;

    private DateTime Now => _options.TimeProvider.GetUtcNow().UtcDateTime;

    /// <summary>Initialises the repository once; a failed attempt is retried by the next call.</summary>
    public Task EnsureInitializedAsync(CancellationToken cancellationToken)
    {
        lock (_initGate)
        {
            if (_initialization is null || _initialization.IsFaulted || _initialization.IsCanceled)
            {
                _initialization = InitializeRepositoryAsync(cancellationToken);
            }
            return _initialization;
        }
    }

    public async Task<ResultSet> ExecuteAsync(MlModelCommand command, MlModelCaller caller, IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        var op = OperationTable.Get(command.Operation);
        if (!Names.IsValid(caller.User))
        {
            throw Fail(ErrorCodes.PermissionDenied, op, $"the requesting user '{caller.User}' is not a valid user name; {Names.Rule}");
        }
        await EnsureInitializedAsync(op, cancellationToken);
        try
        {
            return command switch
            {
                ListCommand c => List(c, caller),
                SummaryCommand c => await SummaryAsync(c, caller, cancellationToken),
                DeleteCommand c => await DeleteAsync(c, caller, cancellationToken),
                ImportCommand c => await ImportAsync(c, caller, progress, cancellationToken),
                ExportCommand c => await ExportAsync(c, caller, progress, cancellationToken),
                DeployCommand c => await DeployAsync(c, caller, cancellationToken),
                StopCommand c => await StopAsync(c, caller, cancellationToken),
                HistoryCommand c => await HistoryAsync(c, caller, cancellationToken),
                StatusCommand c => await StatusAsync(c, caller, cancellationToken),
                CheckCommand c => await CheckAsync(c, caller, cancellationToken),
                _ => throw new ArgumentOutOfRangeException(nameof(command)),
            };
        }
        catch (MlModelException e) when (!e.Message.StartsWith("mlmodel", StringComparison.Ordinal))
        {
            // A backend's own error: say which command it failed.
            throw Fail(e.Code, op, e.Message, e);
        }
        catch (MlModelException)
        {
            throw;
        }
        catch (OperationCanceledException)
        {
            throw;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Net.Http.HttpRequestException or InvalidOperationException or TimeoutException)
        {
            throw Fail(ErrorCodes.Backend, op, "a backend failed: " + e.Message, e);
        }
    }

    internal bool IsAdministrator(MlModelCaller caller) =>
        caller.IsAdministrator || _options.Administrators.Contains(caller.User);

    /// <summary>Spec B.5: users act on their own models; administrators on anyone's.</summary>
    private string Owner(OperationSpec op, string? user, MlModelCaller caller)
    {
        var owner = user ?? caller.User;
        if (owner != caller.User && !IsAdministrator(caller))
        {
            throw Fail(ErrorCodes.PermissionDenied, op,
                $"user '{caller.User}' may not act on models of user '{owner}'; only administrators can");
        }
        return owner;
    }

    private void RequireAdministrator(OperationSpec op, MlModelCaller caller, string what)
    {
        if (!IsAdministrator(caller))
        {
            throw Fail(ErrorCodes.PermissionDenied, op, $"only administrators may {what}; '{caller.User}' is not one");
        }
    }

    internal static MlModelException Fail(string code, OperationSpec op, string message, Exception? inner = null) =>
        new(new MlModelError(code, $"mlmodel {op.Name}: {message}"), inner);

    private async Task<ModelVersion> RequireModelAsync(OperationSpec op, string owner, string name, int? version, CancellationToken cancellationToken)
    {
        var model = await _repository.GetAsync(owner, name, version, cancellationToken);
        if (model is not null)
        {
            return model;
        }
        if (version is null)
        {
            throw Fail(ErrorCodes.NotFound, op, $"no model '{name}' of user '{owner}'");
        }
        var versions = await _repository.GetVersionsAsync(owner, name, cancellationToken);
        throw Fail(ErrorCodes.NotFound, op, versions.Count == 0
            ? $"no model '{name}' of user '{owner}'"
            : $"no version {version} of model '{name}' of user '{owner}'; its versions are {string.Join(", ", versions.Select(v => v.Version))}");
    }

    public Task<ModelVersion?> GetModelAsync(string user, string name, int? version, CancellationToken cancellationToken) =>
        _repository.GetAsync(user, name, version, cancellationToken);

    /// <summary>Appends to the audit trail; a failing audit write never hides the command's own outcome.</summary>
    private async Task AuditAsync(MlModelCaller caller, string operation, string user, string name, int? version, string parameters, Exception? failure)
    {
        try
        {
            await _repository.AppendAuditAsync(new AuditEntry
            {
                Time = Now,
                Actor = caller.User,
                Operation = operation,
                User = user,
                Name = name,
                Version = version,
                Parameters = parameters,
                Outcome = failure is null ? "ok" : "error",
                Message = failure switch
                {
                    null => null,
                    MlModelException m => m.Message.StartsWith("mlmodel", StringComparison.Ordinal) ? m.Message : $"mlmodel {operation}: {m.Message}",
                    OperationCanceledException => "cancelled",
                    _ => failure.Message,
                },
            }, CancellationToken.None);
        }
        catch (Exception) when (failure is not null)
        {
            // The command already failed; its own error is the one to report.
        }
    }

    /// <summary>Runs a changing operation and records it, success or failure, in the audit trail.</summary>
    private async Task<T> AuditedAsync<T>(MlModelCaller caller, string operation, string user, string name, Func<T, int?> version, int? knownVersion, string parameters, Func<Task<T>> run)
    {
        T result;
        try
        {
            result = await run();
        }
        catch (Exception e)
        {
            await AuditAsync(caller, operation, user, name, knownVersion, parameters, e);
            throw;
        }
        await AuditAsync(caller, operation, user, name, version(result) ?? knownVersion, parameters, null);
        return result;
    }
}
