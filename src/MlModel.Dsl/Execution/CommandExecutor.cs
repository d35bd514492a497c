using MlModel.Dsl.Syntax;
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
        _repository = new TracedRepository(options.Repository!);
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

    public async Task<ResultSet> ExecuteAsync(MlModelCommand command, MlModelCaller caller, IProgress<TransferProgress>? progress, RowSource? input, CancellationToken cancellationToken)
    {
        var op = CommandTables.Get(command.Operation);
        if (!Names.IsValid(caller.User))
        {
            throw Fail(ErrorCodes.PermissionDenied, op, $"the requesting user '{caller.User}' is not a valid user name; {Names.Rule}");
        }
        CheckInput(op, command, input);
        // Every rule of the language holds whatever built the record: the parser, the dsl-object or a host.
        CommandRules.Validate(command);
        await EnsureInitializedAsync(op, cancellationToken);
        // Changing operations are recorded in the audit trail, refusals and failures included.
        var attempt = Attempt.Of(command, caller);
        var activity = MlModelTelemetry.Source.StartActivity(op.Title, System.Diagnostics.ActivityKind.Internal);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        // A stage's command goes on while its rows stream: the stream ends its span and records it.
        var streaming = false;
        if (activity is not null)
        {
            var (user, name, version) = Subject(command, caller);
            activity.SetTag(MlModelTelemetry.Tags.Operation, op.TelemetryName);
            activity.SetTag(MlModelTelemetry.Tags.User, user);
            activity.SetTag(MlModelTelemetry.Tags.Model, name);
            activity.SetTag(MlModelTelemetry.Tags.Version, version);
        }
        try
        {
            var result = command switch
            {
                ListCommand c => List(c, caller),
                SummaryCommand c => await SummaryAsync(c, caller, cancellationToken),
                DeleteCommand c => await DeleteAsync(c, caller, attempt!, cancellationToken),
                ImportCommand c => await ImportAsync(c, caller, attempt!, progress, cancellationToken),
                ExportCommand c => await ExportAsync(c, caller, progress, cancellationToken),
                DeployCommand c => await DeployAsync(c, caller, attempt!, cancellationToken),
                StopCommand c => await StopAsync(c, caller, attempt!, cancellationToken),
                HistoryCommand c => await HistoryAsync(c, caller, cancellationToken),
                StatusCommand c => await StatusAsync(c, caller, cancellationToken),
                CheckCommand c => await CheckAsync(c, caller, cancellationToken),
                ServingStatusCommand c => await ServingStatusAsync(c, caller, cancellationToken),
                ServingPredictCommand c => await ServingPredictAsync(c, caller, input!, activity, StreamEnded(activity, op, started), cancellationToken),
                _ => throw new ArgumentOutOfRangeException(nameof(command)),
            };
            if (attempt is not null)
            {
                await AuditAsync(caller, attempt.Operation, attempt.User, attempt.Name, attempt.Version, attempt.Parameters, null);
            }
            if (command is ServingPredictCommand)
            {
                streaming = true;
                return result;
            }
            Record(activity, op, attempt, started, null);
            return result;
        }
        catch (Exception e)
        {
            var error = Map(op, e);
            if (attempt is not null)
            {
                await AuditAsync(caller, attempt.Operation, attempt.User, attempt.Name, attempt.Version, attempt.Parameters, error);
            }
            Record(activity, op, attempt, started, error);
            if (ReferenceEquals(error, e))
            {
                throw;
            }
            throw error;
        }
        finally
        {
            if (!streaming)
            {
                activity?.Dispose();
            }
        }
    }

    /// <summary>
    /// What a stage's stream calls once it ends (read to the end, stopped early by its reader, failed,
    /// or its result disposed unread): the command's outcome, duration and rows, and its span ended.
    /// </summary>
    private static Action<Exception?, long> StreamEnded(System.Diagnostics.Activity? activity, OperationSpec op, long started) => (failure, rows) =>
    {
        activity?.SetTag(MlModelTelemetry.Tags.Rows, rows);
        Record(activity, op, null, started, failure);
        activity?.Dispose();
    };

    /// <summary>The user, model and version a command is about, for its span.</summary>
    private static (string? User, string? Name, int? Version) Subject(MlModelCommand command, MlModelCaller caller) => command switch
    {
        ListCommand c => (c.User, c.Name, null),
        SummaryCommand c => (c.User ?? caller.User, c.Name, c.Version),
        DeleteCommand c => (c.User ?? caller.User, c.Name, c.Version),
        ImportCommand c => (caller.User, c.Name, null),
        ExportCommand c => (c.User ?? caller.User, c.Name, c.Version),
        DeployCommand c => (c.User ?? caller.User, c.Name, c.Version),
        StopCommand c => (c.User ?? caller.User, c.Name, c.Version),
        HistoryCommand c => (c.User ?? caller.User, c.Name, c.Version),
        StatusCommand c => (c.User ?? caller.User, c.Name, null),
        CheckCommand c => (c.User, c.Name, null),
        ServingStatusCommand c => (c.User ?? caller.User, c.Name, null),
        ServingPredictCommand c => (c.User ?? caller.User, c.Name, c.Version),
        _ => (null, null, null),
    };

    /// <summary>The command's outcome on its span and in the metrics.</summary>
    private static void Record(System.Diagnostics.Activity? activity, OperationSpec op, Attempt? attempt, long started, Exception? failure)
    {
        var outcome = MlModelTelemetry.Outcome(failure);
        var operation = new KeyValuePair<string, object?>(MlModelTelemetry.Tags.Operation, op.TelemetryName);
        var result = new KeyValuePair<string, object?>(MlModelTelemetry.Tags.Outcome, outcome);
        MlModelTelemetry.Commands.Add(1, operation, result);
        MlModelTelemetry.Duration.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds, operation, result);
        if (activity is null)
        {
            return;
        }
        if (attempt?.Version is int version)
        {
            activity.SetTag(MlModelTelemetry.Tags.Version, version);
        }
        activity.SetTag(MlModelTelemetry.Tags.Outcome, outcome);
        if (failure is not null)
        {
            // The code, not the message: messages may quote values the user typed.
            var code = failure is MlModelException m ? m.Code : failure is OperationCanceledException ? ErrorCodes.Cancelled : failure.GetType().Name;
            activity.SetTag(MlModelTelemetry.Tags.ErrorCode, code);
            activity.SetStatus(System.Diagnostics.ActivityStatusCode.Error, code);
        }
    }

    /// <summary>What a failure of <paramref name="op"/> is reported as: one error that names the command.</summary>
    private static Exception Map(OperationSpec op, Exception e) => e switch
    {
        // A backend's own error: say which command it failed.
        MlModelException m => Within(op, m),
        OperationCanceledException => e,
        IOException or UnauthorizedAccessException or System.Net.Http.HttpRequestException or InvalidOperationException or TimeoutException
            => Fail(ErrorCodes.Backend, op, "a backend failed: " + e.Message, e),
        _ => e,
    };

    /// <summary>
    /// One attempt at a changing operation, for the audit trail: who, on what, and the version once
    /// the operation knows it (a deploy without <c>version=</c> learns it from the registry).
    /// </summary>
    private sealed class Attempt(string operation, string user, string name, int? version, string parameters)
    {
        public string Operation { get; } = operation;
        public string User { get; } = user;
        public string Name { get; } = name;
        public int? Version { get; set; } = version;
        public string Parameters { get; } = parameters;

        public static Attempt? Of(MlModelCommand command, MlModelCaller caller) => command switch
        {
            DeleteCommand c => new("delete", c.User ?? caller.User, c.Name, c.Version, c.ToString()),
            ImportCommand c => new("import", caller.User, c.Name, null, c.ToString()),
            DeployCommand c => new("deploy", c.User ?? caller.User, c.Name, c.Version, c.ToString()),
            StopCommand c => new("stop", c.User ?? caller.User, c.Name, c.Version, c.ToString()),
            _ => null,
        };
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, SemaphoreSlim> _modelGates = new(StringComparer.Ordinal);

    /// <summary>
    /// Takes the lock of one model for a deploy, stop, delete or repair: within the process first
    /// (the repository's lock may be a file or session lock that does not tell threads apart), then the
    /// repository's, which spans processes and hosts and is released if this process dies. The caller
    /// re-reads the rows it acts on once it holds the lock.
    /// </summary>
    private async Task<IAsyncDisposable> LockModelAsync(OperationSpec op, string user, string name, CancellationToken cancellationToken)
    {
        var timeout = _options.ModelLockTimeout;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var gate = _modelGates.GetOrAdd(user + "/" + name, _ => new SemaphoreSlim(1, 1));
        var gated = false;
        try
        {
            await gate.WaitAsync(deadline.Token);
            gated = true;
            var held = await _repository.LockModelAsync(user, name, deadline.Token);
            return new ModelLock(held, gate);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            if (gated)
            {
                gate.Release();
            }
            throw Fail(ErrorCodes.Conflict, op,
                $"model '{name}' of user '{user}' is being changed by another command (deploy, stop, delete or repair) and was still locked after {timeout.TotalSeconds:0.#} s; try again when it is done", e);
        }
        catch
        {
            if (gated)
            {
                gate.Release();
            }
            throw;
        }
    }

    private sealed class ModelLock(IAsyncDisposable held, SemaphoreSlim gate) : IAsyncDisposable
    {
        private int _released;

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _released, 1) != 0)
            {
                return;
            }
            try
            {
                await held.DisposeAsync();
            }
            finally
            {
                gate.Release();
            }
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
        new(MlModelError.Create(code, CommandWords.Of(op.Operation), op.Name, message), inner);

    /// <summary><paramref name="e"/> placed in <paramref name="op"/>, unless it already belongs to a command.</summary>
    private static MlModelException Within(OperationSpec op, MlModelException e) => e.In(CommandWords.Of(op.Operation), op.Name);

    /// <summary>
    /// The version asked for (the latest when <paramref name="version"/> is null), or not_found. A
    /// version being deleted counts as gone, except for <paramref name="includeDeleting"/> (delete
    /// itself, which finishes the job).
    /// </summary>
    private async Task<ModelVersion> RequireModelAsync(OperationSpec op, string owner, string name, int? version, CancellationToken cancellationToken, bool includeDeleting = false)
    {
        var model = await _repository.GetAsync(owner, name, version, cancellationToken);
        if (model is not null && (includeDeleting || model.State != ModelStates.Deleting))
        {
            return model;
        }
        if (model is not null)
        {
            throw Fail(ErrorCodes.NotFound, op, $"version {version} of model '{name}' of user '{owner}' is being deleted");
        }
        if (version is null)
        {
            throw Fail(ErrorCodes.NotFound, op, $"no model '{name}' of user '{owner}'");
        }
        var versions = (await _repository.GetVersionsAsync(owner, name, cancellationToken)).Where(v => v.State != ModelStates.Deleting).ToList();
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
                Outcome = failure switch
                {
                    null => "ok",
                    MlModelException { Code: ErrorCodes.PermissionDenied } => "denied",
                    _ => "error",
                },
                Message = failure switch
                {
                    null => null,
                    MlModelException m => m.Error.In(CommandWords.MlModel, operation).Message,
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
