using MlModel.Dsl.Backends;
using MlModel.Dsl.Data.Tests.Support;

namespace MlModel.Dsl.Data.Tests;

public abstract partial class RepositoryTests
{
    public static IEnumerable<TestCaseData> Operations()
    {
        TestCaseData Case(string operation, Func<IModelRepository, Task> call) => new TestCaseData(operation, call).SetArgDisplayNames(operation);
        yield return Case("initialize", r => r.InitializeAsync());
        yield return Case("allocate version", r => r.AllocateVersionAsync("root", "mnist_v1"));
        yield return Case("insert", r => r.InsertAsync(Samples.Model(), Samples.Files));
        yield return Case("get", r => r.GetAsync("root", "mnist_v1", null));
        yield return Case("get versions", r => r.GetVersionsAsync("root", "mnist_v1"));
        yield return Case("list", r => Task.FromResult(r.List(new ModelFilter()).ToList()));
        yield return Case("update", r => r.UpdateAsync(Samples.Model()));
        yield return Case("delete", r => r.DeleteAsync("root", "mnist_v1", 1));
        yield return Case("get files", r => r.GetFilesAsync(1));
        yield return Case("append audit", r => r.AppendAuditAsync(Samples.Audit("import", 1, T0)));
        yield return Case("get history", r => r.GetHistoryAsync("root", "mnist_v1", null));
        yield return Case("get connector", r => r.GetConnectorAsync("c"));
        yield return Case("list connectors", r => r.ListConnectorsAsync());
        yield return Case("save connector", r => r.SaveConnectorAsync(new ConnectorInfo("c", "local", new Dictionary<string, string>())));
        yield return Case("delete connector", r => r.DeleteConnectorAsync("c"));
    }

    [TestCaseSource(nameof(Operations))]
    public async Task An_unreachable_database_is_a_backend_error_that_names_the_database_but_not_the_password(string operation, Func<IModelRepository, Task> call)
    {
        var repository = Database.CreateUnreachableRepository();

        var error = (await FluentActions.Awaiting(() => call(repository)).Should().ThrowAsync<MlModelException>()).Which;

        error.Code.Should().Be(ErrorCodes.Backend);
        error.Message.Should().StartWith($"{Database.Kind} model repository at ");
        // The schema is created first, so every operation reports the step that failed.
        error.Message.Should().Contain(": initialize failed: ");
        error.Message.Should().NotContain(TestDatabase.Secret);
        error.InnerException.Should().NotBeNull();
        await ((IAsyncDisposable)repository).DisposeAsync();
    }

    [Test]
    public async Task List_touches_the_database_only_when_enumerated()
    {
        var repository = Database.CreateUnreachableRepository();

        var listing = repository.List(new ModelFilter());

        var error = FluentActions.Invoking(() => listing.First()).Should().Throw<MlModelException>().Which;
        error.Code.Should().Be(ErrorCodes.Backend);
        await ((IAsyncDisposable)repository).DisposeAsync();
    }

    [Test]
    public async Task A_failure_after_the_schema_exists_names_the_operation()
    {
        await ImportAsync(Samples.Model());
        var repository = Database.CreateRepository();
        await repository.InitializeAsync();
        await BreakTableAsync("mlmodel_models");

        var error = (await FluentActions.Awaiting(() => repository.GetAsync("root", "mnist_v1", null))
            .Should().ThrowAsync<MlModelException>()).Which;

        error.Code.Should().Be(ErrorCodes.Backend);
        error.Message.Should().StartWith($"{Database.Kind} model repository at ").And.Contain(": get failed: ");
        var listError = FluentActions.Invoking(() => repository.List(new ModelFilter()).ToList()).Should().Throw<MlModelException>().Which;
        listError.Message.Should().Contain(": list failed: ");
    }

    /// <summary>Renames a table away so that statements on it fail (a fresh database per test keeps this contained).</summary>
    private async Task BreakTableAsync(string table)
    {
        await using var connection = await Database.OpenAsync();
        await Dapper.SqlMapper.ExecuteAsync(connection, $"ALTER TABLE {table} RENAME TO {table}_broken");
        _broken = table;
    }

    private string? _broken;

    private async Task RepairBrokenTableAsync()
    {
        if (_broken is { } table)
        {
            _broken = null;
            await using var connection = await Database.OpenAsync();
            await Dapper.SqlMapper.ExecuteAsync(connection, $"ALTER TABLE {table}_broken RENAME TO {table}");
        }
    }
}
