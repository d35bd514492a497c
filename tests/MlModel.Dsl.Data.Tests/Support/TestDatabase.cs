using System.Data.Common;
using Dapper;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Data.Internal;

namespace MlModel.Dsl.Data.Tests.Support;

/// <summary>
/// One fresh database for one fixture, on one provider: what the shared suite needs to know
/// about where it runs (Dapper's TestBase idea). Repositories made here are disposed with it.
/// </summary>
public abstract class TestDatabase : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _repositories = [];

    /// <summary>"SQLite" or "PostgreSQL", as the repository names itself in errors.</summary>
    public abstract string Kind { get; }

    /// <summary>
    /// A new repository instance (its own connections) on this database; without
    /// <paramref name="options"/>, with the defaults and <see cref="Key"/>.
    /// </summary>
    public IModelRepository CreateRepository(ModelRepositoryOptions? options = null)
    {
        var repository = NewRepository(options ?? new ModelRepositoryOptions { SecretKey = Key });
        lock (_repositories)
        {
            _repositories.Add((IAsyncDisposable)repository);
        }
        return repository;
    }

    protected abstract IModelRepository NewRepository(ModelRepositoryOptions? options);

    /// <summary>A repository whose database cannot be reached; its connection string holds <see cref="Secret"/>.</summary>
    public abstract IModelRepository CreateUnreachableRepository();

    /// <summary>The connector secret key of the repositories made without options.</summary>
    public static ConnectorSecretKey Key { get; } = ConnectorSecretKey.FromBytes([.. Enumerable.Range(1, ConnectorSecretKey.Size).Select(i => (byte)i)]);

    /// <summary>The password of the unreachable repository, which no message may show.</summary>
    public const string Secret = "hunter2-Sup3rSecret";

    /// <summary>Another fresh, empty database on the same provider (for migration tests).</summary>
    public abstract Task<TestDatabase> CreateSiblingAsync();

    /// <summary>A raw connection, outside the repository.</summary>
    public abstract Task<DbConnection> OpenAsync();

    internal static DapperModelRepository Core(IModelRepository repository) => repository switch
    {
        SqliteModelRepository sqlite => sqlite.Core,
        PostgresModelRepository postgres => postgres.Core,
        _ => throw new ArgumentException("not one of ours", nameof(repository)),
    };

    /// <summary>Empties every table, keeping the schema.</summary>
    public async Task WipeAsync()
    {
        await using var connection = await OpenAsync();
        foreach (var table in Tables)
        {
            await connection.ExecuteAsync("DELETE FROM " + table);
        }
    }

    /// <summary>The repository's tables, children first.</summary>
    public static IReadOnlyList<string> Tables { get; } =
        ["mlmodel_model_files", "mlmodel_models", "mlmodel_version_counters", "mlmodel_audit", "mlmodel_connectors"];

    /// <summary>Row counts of every table.</summary>
    public async Task<Dictionary<string, long>> CountRowsAsync()
    {
        await using var connection = await OpenAsync();
        var counts = new Dictionary<string, long>();
        foreach (var table in Tables)
        {
            counts[table] = await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM " + table);
        }
        return counts;
    }

    /// <summary>
    /// Disposes the repositories made so far (their pools and connections). Called after each
    /// test, so a server with the default 100 connections is never exhausted by idle pools.
    /// </summary>
    public async Task ReleaseRepositoriesAsync()
    {
        IAsyncDisposable[] repositories;
        lock (_repositories)
        {
            repositories = [.. _repositories];
            _repositories.Clear();
        }
        foreach (var repository in repositories)
        {
            await repository.DisposeAsync();
        }
    }

    public virtual async ValueTask DisposeAsync()
    {
        await ReleaseRepositoriesAsync();
        GC.SuppressFinalize(this);
    }
}
