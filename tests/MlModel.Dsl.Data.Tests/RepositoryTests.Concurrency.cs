using MlModel.Dsl.Backends;
using MlModel.Dsl.Data.Tests.Support;

namespace MlModel.Dsl.Data.Tests;

public abstract partial class RepositoryTests
{
    private const int Writers = 8;

    [Test]
    [Repeat(3)]
    public async Task Concurrent_allocations_for_one_name_get_distinct_versions()
    {
        var versions = await RunConcurrentlyAsync(Writers, (repository, _) => repository.AllocateVersionAsync("root", "mnist_v1"));

        versions.Should().OnlyHaveUniqueItems().And.BeEquivalentTo(Enumerable.Range(1, Writers));
        await Database.WipeAsync();
    }

    [Test]
    public async Task Concurrent_imports_of_different_names_all_land()
    {
        var imported = await RunConcurrentlyAsync(Writers, (repository, i) =>
            ImportAsync(repository, Samples.Model(name: $"model_{i}"), Samples.Files));

        imported.Should().OnlyContain(m => m.Version == 1);
        var listed = Repository.List(new ModelFilter(User: "root")).ToList();
        listed.Select(m => m.Name).Should().BeEquivalentTo(Enumerable.Range(0, Writers).Select(i => $"model_{i}"));
        foreach (var model in listed)
        {
            (await Repository.GetFilesAsync(model.Id)).Should().Equal(Samples.Files);
        }
    }

    [Test]
    public async Task Concurrent_imports_of_one_name_get_distinct_versions_and_all_land()
    {
        var imported = await RunConcurrentlyAsync(Writers, (repository, i) =>
            ImportAsync(repository, Samples.Model() with { Description = $"writer {i}" }));

        imported.Select(m => m.Version).Should().BeEquivalentTo(Enumerable.Range(1, Writers));
        var stored = await Repository.GetVersionsAsync("root", "mnist_v1");
        stored.Select(m => m.Version).Should().Equal(Enumerable.Range(1, Writers));
        stored.Select(m => m.Description).Should().BeEquivalentTo(imported.Select(m => m.Description));
    }

    [Test]
    public async Task Concurrent_first_initialisations_of_an_empty_database_apply_each_migration_once()
    {
        await using var fresh = await Database.CreateSiblingAsync();
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tasks = Enumerable.Range(0, Writers).Select(_ => Task.Run(async () =>
        {
            var repository = fresh.CreateRepository();
            await start.Task;
            await repository.InitializeAsync();
            return await repository.AllocateVersionAsync("root", "mnist_v1");
        })).ToArray();
        start.SetResult();

        (await Task.WhenAll(tasks)).Should().BeEquivalentTo(Enumerable.Range(1, Writers));
        (await SchemaRowsAsync(fresh)).Should().Equal(1, 2, 3, 4, 5, 6);
    }
}
