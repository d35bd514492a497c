namespace MlModel.Dsl.Data;

/// <summary>Settings shared by <see cref="SqliteModelRepository"/> and <see cref="PostgresModelRepository"/>.</summary>
public sealed class ModelRepositoryOptions
{
    /// <summary>
    /// The clock that stamps <c>created</c>, <c>modified</c> and audit times left unset by the
    /// caller. Defaults to <see cref="TimeProvider.System"/>.
    /// </summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>
    /// SQLite only: how long a writer waits for another connection's write lock before it
    /// fails with a <c>backend</c> error. Defaults to 30 seconds.
    /// </summary>
    public TimeSpan BusyTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long one command may run before it fails with a <c>backend</c> error; null keeps
    /// the provider's default (30 seconds).
    /// </summary>
    public TimeSpan? CommandTimeout { get; init; }
}
