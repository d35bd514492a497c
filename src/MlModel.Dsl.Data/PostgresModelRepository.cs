using MlModel.Dsl.Backends;
using MlModel.Dsl.Data.Internal;

namespace MlModel.Dsl.Data;

/// <summary>
/// The model repository in a PostgreSQL database, for hosts where several processes or
/// machines share one repository. Tables are prefixed <c>mlmodel_</c> and live in the
/// connection's default schema (its <c>search_path</c>).
/// </summary>
/// <remarks>
/// The schema is created or upgraded by <see cref="ModelRepository.InitializeAsync"/>, or by the first call
/// that needs it; concurrent initialisations are serialised by an advisory lock. The
/// repository owns a connection pool: dispose it when done. Database failures surface as
/// <see cref="MlModelException"/> with code <see cref="ErrorCodes.Backend"/>; their messages
/// name the host, port and database, never the password.
/// </remarks>
public sealed class PostgresModelRepository : ModelRepository
{
    /// <summary>Creates the repository; nothing connects until the first call.</summary>
    /// <param name="connectionString">An Npgsql connection string (<c>Host=...;Database=...;Username=...;Password=...</c>).</param>
    /// <param name="options">Clock and command timeout; defaults when null.</param>
    /// <exception cref="ArgumentException">The connection string does not parse.</exception>
    public PostgresModelRepository(string connectionString, ModelRepositoryOptions? options = null)
        : base(Dialect(connectionString, options ??= new ModelRepositoryOptions()), options)
    {
    }

    private static PostgresDialect Dialect(string connectionString, ModelRepositoryOptions options) =>
        new(connectionString) { CommandTimeoutSeconds = Seconds(options.CommandTimeout) };
}
