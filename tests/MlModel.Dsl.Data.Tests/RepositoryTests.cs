using MlModel.Dsl.Backends;
using MlModel.Dsl.Data.Tests.Support;

namespace MlModel.Dsl.Data.Tests;

/// <summary>
/// The one repository suite. Each provider derives a fixture that says how to make a fresh
/// database; every test here then runs on SQLite and on PostgreSQL alike. The fixture owns
/// one database; each test starts from empty tables.
/// </summary>
public abstract partial class RepositoryTests
{
    private TestDatabase? _database;
    private IModelRepository? _repository;

    protected abstract Task<TestDatabase> CreateDatabaseAsync();

    protected TestDatabase Database => _database ?? throw new InvalidOperationException("no database");

    /// <summary>A repository on the fixture's database, initialised, tables empty.</summary>
    protected IModelRepository Repository => _repository ?? throw new InvalidOperationException("no repository");

    [OneTimeSetUp]
    public async Task CreateDatabase() => _database = await CreateDatabaseAsync();

    [OneTimeTearDown]
    public async Task DropDatabase()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }

    [SetUp]
    public async Task StartFromEmptyTables()
    {
        _repository = Database.CreateRepository();
        await _repository.InitializeAsync();
        await Database.WipeAsync();
    }

    [TearDown]
    public async Task PutThingsBack()
    {
        await RepairBrokenTableAsync();
        await Database.ReleaseRepositoriesAsync();
    }

    /// <summary>Allocates the next version of (user, name) and inserts <paramref name="model"/> under it.</summary>
    protected static async Task<ModelVersion> ImportAsync(IModelRepository repository, ModelVersion model, IReadOnlyList<ModelFile>? files = null)
    {
        var version = await repository.AllocateVersionAsync(model.User, model.Name);
        return await repository.InsertAsync(model with { Version = version }, files ?? []);
    }

    protected Task<ModelVersion> ImportAsync(ModelVersion model, IReadOnlyList<ModelFile>? files = null) =>
        ImportAsync(Repository, model, files);

    /// <summary>Eight tasks released together, each with its own repository instance.</summary>
    protected async Task<T[]> RunConcurrentlyAsync<T>(int count, Func<IModelRepository, int, Task<T>> work)
    {
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tasks = Enumerable.Range(0, count).Select(i => Task.Run(async () =>
        {
            var repository = Database.CreateRepository();
            await repository.InitializeAsync();
            await start.Task;
            return await work(repository, i);
        })).ToArray();
        start.SetResult();
        return await Task.WhenAll(tasks);
    }
}
