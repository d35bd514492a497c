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

// Owners and the shared flag (spec B.5): stored, read back, and the owner-only save and delete.
public abstract partial class RepositoryTests
{
    private static ConnectorInfo Owned(string id, string? owner, bool shared = false, string bucket = "models") =>
        new(id, "s3", new Dictionary<string, string> { ["bucket"] = bucket, ["access_key"] = AccessValue, ["secret_key"] = SecretValue })
        {
            Owner = owner,
            Shared = shared,
        };

    [Test]
    public async Task A_connector_s_owner_and_shared_flag_are_stored_and_read_back()
    {
        await Repository.SaveConnectorAsync(Owned("179", "demo"));
        await Repository.SaveConnectorAsync(Owned("team", "root", shared: true));
        await Repository.SaveConnectorAsync(Owned("nobody", null, shared: true));

        var demo = await Repository.GetConnectorAsync("179");
        demo!.Owner.Should().Be("demo");
        demo.Shared.Should().BeFalse();
        demo.Settings["secret_key"].Should().Be(SecretValue, "the owner does not change how secrets open");
        (await Repository.ListConnectorsAsync()).Select(c => (c.Id, c.Owner, c.Shared))
            .Should().Equal(("179", "demo", false), ("nobody", null, true), ("team", "root", true));
        (await Database.CreateRepository().GetConnectorAsync("team"))!.Should().Match<ConnectorInfo>(c => c.Owner == "root" && c.Shared);

        // An administrator's save replaces the owner and the flag with the rest.
        await Repository.SaveConnectorAsync(Owned("179", "alice", shared: true, bucket: "other"));
        var replaced = await Repository.GetConnectorAsync("179");
        (replaced!.Owner, replaced.Shared, replaced.Settings["bucket"]).Should().Be(("alice", true, "other"));
    }

    [Test]
    public async Task SaveOwnConnectorAsync_adds_and_replaces_its_owner_s_connector_and_leaves_anyone_else_s()
    {
        (await Repository.SaveOwnConnectorAsync(Owned("179", "demo"))).Should().BeTrue("a new id is added");
        (await Repository.SaveOwnConnectorAsync(Owned("179", "demo", bucket: "mine"))).Should().BeTrue("the owner replaces their own");
        (await Repository.GetConnectorAsync("179"))!.Settings["bucket"].Should().Be("mine");

        (await Repository.SaveOwnConnectorAsync(Owned("179", "alice", bucket: "hers"))).Should().BeFalse("another owner's id is taken");
        var kept = await Repository.GetConnectorAsync("179");
        (kept!.Owner, kept.Settings["bucket"]).Should().Be(("demo", "mine"), "nothing changed");

        await Repository.SaveConnectorAsync(Owned("legacy", null, shared: true));
        (await Repository.SaveOwnConnectorAsync(Owned("legacy", "demo"))).Should().BeFalse("a connector owned by no one is no user's to replace");
        (await Repository.GetConnectorAsync("legacy"))!.Should().Match<ConnectorInfo>(c => c.Owner == null && c.Shared);

        var act = () => Repository.SaveOwnConnectorAsync(Owned("x", null));
        await act.Should().ThrowAsync<ArgumentNullException>();
        (await Repository.GetConnectorAsync("x")).Should().BeNull();
    }

    [Test]
    public async Task DeleteOwnConnectorAsync_removes_only_its_owner_s_connector()
    {
        await Repository.SaveConnectorAsync(Owned("179", "demo"));
        await Repository.SaveConnectorAsync(Owned("legacy", null, shared: true));

        (await Repository.DeleteOwnConnectorAsync("179", "alice")).Should().BeFalse();
        (await Repository.DeleteOwnConnectorAsync("legacy", "demo")).Should().BeFalse();
        (await Repository.DeleteOwnConnectorAsync("missing", "demo")).Should().BeFalse();
        (await Repository.ListConnectorsAsync()).Select(c => c.Id).Should().Equal("179", "legacy");

        (await Repository.DeleteOwnConnectorAsync("179", "demo")).Should().BeTrue();
        (await Repository.GetConnectorAsync("179")).Should().BeNull();
    }

    [Test]
    public async Task Users_adding_the_same_id_at_once_never_replace_each_other_s()
    {
        var saved = await RunConcurrentlyAsync(8, (repository, i) => repository.SaveOwnConnectorAsync(Owned("179", $"user{i}", bucket: $"bucket{i}")));

        saved.Count(s => s).Should().Be(1, "one user gets the id");
        var winner = Array.IndexOf(saved, true);
        var stored = await Repository.GetConnectorAsync("179");
        (stored!.Owner, stored.Settings["bucket"]).Should().Be(($"user{winner}", $"bucket{winner}"), "the row is the winner's, whole");
    }
}

// The interface's default SaveOwnConnectorAsync/DeleteOwnConnectorAsync, as a host's own
// repository that implements only the required members gets them.
public abstract partial class RepositoryTests
{
    [Test]
    public async Task The_interface_s_default_owner_only_save_and_delete_follow_the_same_rules()
    {
        IModelRepository minimal = new RequiredMembersOnly(Repository);
        await Repository.SaveConnectorAsync(Owned("legacy", null, shared: true));

        (await minimal.SaveOwnConnectorAsync(Owned("179", "demo"))).Should().BeTrue();
        (await minimal.SaveOwnConnectorAsync(Owned("179", "demo", bucket: "mine"))).Should().BeTrue();
        (await minimal.SaveOwnConnectorAsync(Owned("179", "alice", bucket: "hers"))).Should().BeFalse();
        (await minimal.SaveOwnConnectorAsync(Owned("legacy", "demo"))).Should().BeFalse();
        var kept = await Repository.GetConnectorAsync("179");
        (kept!.Owner, kept.Settings["bucket"]).Should().Be(("demo", "mine"));
        (await Repository.GetConnectorAsync("legacy"))!.Owner.Should().BeNull();

        (await minimal.DeleteOwnConnectorAsync("179", "alice")).Should().BeFalse();
        (await minimal.DeleteOwnConnectorAsync("legacy", "demo")).Should().BeFalse();
        (await minimal.DeleteOwnConnectorAsync("179", "demo")).Should().BeTrue();
        (await Repository.ListConnectorsAsync()).Select(c => c.Id).Should().Equal("legacy");
    }

    /// <summary>A repository with only the members <see cref="IModelRepository"/> requires, forwarded.</summary>
    private sealed class RequiredMembersOnly(IModelRepository inner) : IModelRepository
    {
        public Task InitializeAsync(CancellationToken cancellationToken = default) => inner.InitializeAsync(cancellationToken);
        public Task<int> AllocateVersionAsync(string user, string name, CancellationToken cancellationToken = default) => inner.AllocateVersionAsync(user, name, cancellationToken);
        public Task<ModelVersion> InsertAsync(ModelVersion model, IReadOnlyList<ModelFile> files, CancellationToken cancellationToken = default) => inner.InsertAsync(model, files, cancellationToken);
        public Task<ModelVersion?> GetAsync(string user, string name, int? version, CancellationToken cancellationToken = default) => inner.GetAsync(user, name, version, cancellationToken);
        public Task<IReadOnlyList<ModelVersion>> GetVersionsAsync(string user, string name, CancellationToken cancellationToken = default) => inner.GetVersionsAsync(user, name, cancellationToken);
        public IEnumerable<ModelVersion> List(ModelFilter filter) => inner.List(filter);
        public Task<IReadOnlyList<ModelFile>> GetFilesAsync(long modelId, CancellationToken cancellationToken = default) => inner.GetFilesAsync(modelId, cancellationToken);
        public Task<ModelVersion> UpdateAsync(ModelVersion model, CancellationToken cancellationToken = default) => inner.UpdateAsync(model, cancellationToken);
        public Task<bool> DeleteAsync(string user, string name, int version, CancellationToken cancellationToken = default) => inner.DeleteAsync(user, name, version, cancellationToken);
        public Task AppendAuditAsync(AuditEntry entry, CancellationToken cancellationToken = default) => inner.AppendAuditAsync(entry, cancellationToken);
        public Task<IReadOnlyList<AuditEntry>> GetHistoryAsync(string user, string name, int? version, CancellationToken cancellationToken = default) => inner.GetHistoryAsync(user, name, version, cancellationToken);
        public Task<ConnectorInfo?> GetConnectorAsync(string id, CancellationToken cancellationToken = default) => inner.GetConnectorAsync(id, cancellationToken);
        public Task<IReadOnlyList<ConnectorInfo>> ListConnectorsAsync(CancellationToken cancellationToken = default) => inner.ListConnectorsAsync(cancellationToken);
        public Task SaveConnectorAsync(ConnectorInfo connector, CancellationToken cancellationToken = default) => inner.SaveConnectorAsync(connector, cancellationToken);
        public Task<bool> DeleteConnectorAsync(string id, CancellationToken cancellationToken = default) => inner.DeleteConnectorAsync(id, cancellationToken);
    }
}
