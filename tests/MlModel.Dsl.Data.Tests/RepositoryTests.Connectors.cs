using MlModel.Dsl.Backends;

namespace MlModel.Dsl.Data.Tests;

public abstract partial class RepositoryTests
{
    private static ConnectorInfo S3Connector(string id = "aqef32-asdf23-sadf") => new(id, "s3", new Dictionary<string, string>
    {
        ["endpoint"] = "http://127.0.0.1:9000",
        ["bucket"] = "models",
        ["region"] = "us-east-1",
        ["access_key_env"] = "MLMODEL_S3_ACCESS",
        ["secret_key"] = "s3cr3t/with+symbols=",
        ["설명"] = "테스트 저장소",
    });

    [Test]
    public async Task Connectors_can_be_saved_read_listed_replaced_and_deleted()
    {
        (await Repository.GetConnectorAsync("255")).Should().BeNull();
        (await Repository.ListConnectorsAsync()).Should().BeEmpty();

        await Repository.SaveConnectorAsync(S3Connector());
        await Repository.SaveConnectorAsync(new ConnectorInfo("255", "local", new Dictionary<string, string> { ["root"] = "/data/models" }));
        await Repository.SaveConnectorAsync(new ConnectorInfo("empty", "local", new Dictionary<string, string>()));

        var read = await Repository.GetConnectorAsync("aqef32-asdf23-sadf");
        read!.Type.Should().Be("s3");
        read.Settings.Should().Equal(S3Connector().Settings);
        (await Repository.GetConnectorAsync("empty"))!.Settings.Should().BeEmpty();
        (await Repository.ListConnectorsAsync()).Select(c => c.Id).Should().Equal("255", "aqef32-asdf23-sadf", "empty");

        await Repository.SaveConnectorAsync(new ConnectorInfo("255", "s3", new Dictionary<string, string> { ["bucket"] = "b" }));
        var replaced = await Repository.GetConnectorAsync("255");
        replaced!.Type.Should().Be("s3");
        replaced.Settings.Should().Equal(new Dictionary<string, string> { ["bucket"] = "b" });
        (await Repository.ListConnectorsAsync()).Should().HaveCount(3);

        (await Repository.DeleteConnectorAsync("255")).Should().BeTrue();
        (await Repository.DeleteConnectorAsync("255")).Should().BeFalse();
        (await Repository.GetConnectorAsync("255")).Should().BeNull();
        (await Repository.ListConnectorsAsync()).Select(c => c.Id).Should().Equal("aqef32-asdf23-sadf", "empty");
    }
}
