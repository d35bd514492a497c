using Dapper;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Data.Tests.Support;

namespace MlModel.Dsl.Data.Tests;

public abstract partial class RepositoryTests
{
    [Test]
    public async Task The_file_manifest_comes_back_in_the_order_it_was_given()
    {
        var model = await ImportAsync(Samples.Model(), Samples.Files);
        var other = await ImportAsync(Samples.Model(name: "other"), [new("model.h5", 10, new string('a', 64))]);

        (await Repository.GetFilesAsync(model.Id)).Should().Equal(Samples.Files);
        (await Repository.GetFilesAsync(other.Id)).Should().ContainSingle().Which.Path.Should().Be("model.h5");
        (await Repository.GetFilesAsync(-1)).Should().BeEmpty();
    }

    [Test]
    public async Task A_version_without_files_has_an_empty_manifest()
    {
        var model = await ImportAsync(Samples.Model());

        (await Repository.GetFilesAsync(model.Id)).Should().BeEmpty();
    }

    [Test]
    public async Task Deleting_a_version_deletes_its_manifest()
    {
        var first = await ImportAsync(Samples.Model(), Samples.Files);
        var second = await ImportAsync(Samples.Model(), Samples.Files);

        await Repository.DeleteAsync("root", "mnist_v1", 1);

        (await Repository.GetFilesAsync(first.Id)).Should().BeEmpty();
        (await Repository.GetFilesAsync(second.Id)).Should().Equal(Samples.Files);
        (await Database.CountRowsAsync())["mlmodel_model_files"].Should().Be(Samples.Files.Count);
    }

    [Test]
    public async Task The_manifest_cascades_in_the_schema_itself()
    {
        var model = await ImportAsync(Samples.Model(), Samples.Files);

        // A row deleted behind the repository's back still takes its files with it.
        await using (var connection = await Database.OpenAsync())
        {
            await connection.ExecuteAsync("DELETE FROM mlmodel_models WHERE id = @Id", new { model.Id });
        }

        (await Database.CountRowsAsync())["mlmodel_model_files"].Should().Be(0);
    }
}
