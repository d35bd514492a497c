using MlModel.Dsl.Data.Tests.Support;

namespace MlModel.Dsl.Data.Tests;

public abstract partial class RepositoryTests
{
    private const string Unused = " holds no model and has never allocated a version";

    [Test]
    public async Task A_repository_is_new_until_it_allocates_a_version_and_stays_used_after_every_model_is_deleted()
    {
        // A fresh instance on the wiped (existing) database: it knows nothing of this process.
        var repository = Database.CreateRepository();
        (await repository.DescribeIfNewAsync()).Should().StartWith($"the {Database.Kind} database ").And.EndWith(Unused);

        await ImportAsync(repository, Samples.Model());
        (await repository.DescribeIfNewAsync()).Should().BeNull();
        (await repository.DeleteAsync("root", "mnist_v1", 1)).Should().BeTrue();
        (await Database.CreateRepository().DescribeIfNewAsync()).Should().BeNull("its version numbers stay spent");
    }

    [Test]
    public async Task A_version_given_back_by_a_failed_import_still_marks_the_repository_as_used()
    {
        var version = await Repository.AllocateVersionAsync("root", "mnist_v1");
        (await Repository.ReleaseVersionAsync("root", "mnist_v1", version)).Should().BeTrue();

        (await Database.CreateRepository().DescribeIfNewAsync()).Should().BeNull();
    }

    [Test]
    public async Task Connectors_and_history_alone_do_not_make_a_repository_used()
    {
        await Repository.SaveConnectorAsync(new Backends.ConnectorInfo("c", "local", new Dictionary<string, string>()));
        await Repository.AppendAuditAsync(Samples.Audit("list", null, T0));

        // Still new: whether the file was there before this repository first opened it depends on
        // which test of the fixture ran first, so either description is right; "used" would be null.
        (await Repository.DescribeIfNewAsync()).Should().Match(d => d!.EndsWith(Unused, StringComparison.Ordinal) || d.EndsWith("did not exist when this process opened it", StringComparison.Ordinal));
    }
}
