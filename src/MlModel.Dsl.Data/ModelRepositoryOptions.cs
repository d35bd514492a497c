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

    /// <summary>
    /// The key that encrypts the secret settings of connectors (secret_key, access_key, tokens,
    /// passwords) in the database; see <see cref="ConnectorSecretKey"/>. Null (the default):
    /// a connector with such settings is refused (settings such as <c>secret_key_env</c>, which
    /// name environment variables, need no key), and one stored encrypted cannot be read.
    /// With a key, secrets stored in plain text by an older release are encrypted when the
    /// repository initialises.
    /// </summary>
    public ConnectorSecretKey? SecretKey { get; init; }
}
