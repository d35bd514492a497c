using System.Runtime.Versioning;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Backends.Local;
using MlModel.Dsl.Data;
using MlModel.Dsl.IntegrationTests.Support;
using MlModel.Dsl.Storage.S3;

namespace MlModel.Dsl.IntegrationTests.Execution;

/// <summary>
/// The connector registry as callers see it: who may list and manage connectors, what a list
/// shows, and what a connector may not carry. On the embedded harness (SQLite with a key file).
/// </summary>
public class ConnectorTests
{
    private EngineHarness _h = null!;

    [SetUp]
    public void SetUp() => _h = new EngineHarness(o =>
    {
        o.ObjectStoreProviders.Add(new S3ObjectStoreProvider());
        // Host-defined connectors skip SaveAsync's checks: what a list shows of a URL with credentials.
        o.Connectors.Add(new ConnectorInfo("legacy", "s3", new Dictionary<string, string>
        {
            ["endpoint"] = "http://reader:pa55w0rd@10.0.0.7:9000/base?X-Token=t0k3n#frag",
            ["bucket"] = "shared",
            ["access_key_env"] = "LEGACY_ACCESS_KEY",
        }));
    });

    [TearDown]
    public void TearDown() => _h.Dispose();

    private static readonly ConnectorInfo Minio = new("minio", "s3", new Dictionary<string, string>
    {
        ["endpoint"] = "http://127.0.0.1:9",
        ["bucket"] = "models",
        ["region"] = "us-east-1",
        ["access_key"] = "AKIA-VISIBLE-NOT",
        ["secret_key"] = "very-secret-value",
    });

    private async Task<Dictionary<string, string>> SettingsAsync(MlModelCaller caller)
    {
        using var list = (await _h.Engine.Connectors.ListAsync(caller)).ToBuffered();
        ResultWriter.ToJson(list).Should()
            .NotContain("very-secret-value").And.NotContain("AKIA-VISIBLE-NOT").And.NotContain("pa55w0rd").And.NotContain("t0k3n");
        list.Fields.Select(f => f.Name).Should().Equal("id", "type", "owner", "shared", "source", "settings");
        return list.ToDictionary(r => (string)r[0]!, r => (string)r[5]!);
    }

    [Test]
    public async Task Administrators_see_every_setting_with_secrets_masked()
    {
        await _h.Engine.Connectors.SaveAsync(Minio, EngineHarness.Root);

        var settings = await SettingsAsync(EngineHarness.Root);

        settings["minio"].Should().Be("access_key=*** bucket=models endpoint=http://127.0.0.1:9 region=us-east-1 secret_key=***");
        settings["legacy"].Should().Be("access_key_env=LEGACY_ACCESS_KEY bucket=shared endpoint=http://***@10.0.0.7:9000/base?***");
        settings["local"].Should().Be("root=" + _h.Objects);
    }

    [Test]
    public async Task Other_users_see_shared_connectors_but_no_secrets_variable_names_or_url_credentials()
    {
        await _h.Engine.Connectors.SaveAsync(Minio with { Shared = true }, EngineHarness.Root);

        var settings = await SettingsAsync(EngineHarness.Bob);

        settings.Keys.Should().BeEquivalentTo(["local", "legacy", "minio"], "host-defined connectors and shared ones are every user's to use");
        settings["minio"].Should().Be("bucket=models endpoint=http://127.0.0.1:9 region=us-east-1");
        settings["legacy"].Should().Be("bucket=shared endpoint=http://10.0.0.7:9000/base");
        (await SettingsAsync(new MlModelCaller("carol", IsAdministrator: true)))["minio"].Should().Contain("secret_key=***");
    }

    [Test]
    public async Task A_list_for_an_invalid_user_name_is_refused()
    {
        var error = (await FluentActions.Awaiting(() => _h.Engine.Connectors.ListAsync(new MlModelCaller("../x")))
            .Should().ThrowAsync<MlModelException>()).Which.Error;

        error.Code.Should().Be(ErrorCodes.PermissionDenied);
        error.Message.Should().StartWith("mlmodel connector list: the requesting user '../x' is not a valid user name");
    }

    [TestCase("http://minio:pa55w0rd@127.0.0.1:9000")]
    [TestCase("https://minio@s3.example.org")]
    public async Task An_endpoint_with_user_info_is_refused_without_echoing_it(string endpoint)
    {
        var connector = new ConnectorInfo("minio", "s3", new Dictionary<string, string> { ["endpoint"] = endpoint, ["bucket"] = "models" });

        var error = (await FluentActions.Awaiting(() => _h.Engine.Connectors.SaveAsync(connector, EngineHarness.Root))
            .Should().ThrowAsync<MlModelException>()).Which.Error;

        error.Code.Should().Be(ErrorCodes.InvalidValue);
        error.Message.Should().Be("mlmodel connector add: endpoint must not carry user info (user:password@); give keys as access_key_env/secret_key_env");
        (await SettingsAsync(EngineHarness.Root)).Keys.Should().BeEquivalentTo(["local", "legacy"], "nothing was stored");
    }

    [Test]
    public async Task A_host_connector_with_user_info_cannot_make_a_store()
    {
        var error = (await FluentActions.Awaiting(() => _h.RunAsync(
                "mlmodel import name=m analysis_tool=tf kind=c algorithm=deep format=saved_model connector_id=legacy path=USERS/root/m.tar"))
            .Should().ThrowAsync<MlModelException>()).Which.Error;

        error.Code.Should().Be(ErrorCodes.Connector);
        error.Message.Should().Be("mlmodel import: connector 'legacy' (s3): the endpoint must not carry user info (user:password@); give keys as access_key_env/secret_key_env");
    }

    [Test]
    [UnsupportedOSPlatform("windows")]
    public async Task A_stored_secret_that_does_not_decrypt_fails_the_import_naming_the_connector()
    {
        await _h.Engine.Connectors.SaveAsync(Minio, EngineHarness.Root);
        var keyFile = Path.Combine(_h.Home, "secret.key");
        var key = await File.ReadAllBytesAsync(keyFile);
        key[0] ^= 0xFF;
        File.Delete(keyFile);
        await File.WriteAllBytesAsync(keyFile, key);
        File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        // A new engine (as a new process would make) on the same home reads the changed key.
        await using var repository = new SqliteModelRepository(Path.Combine(_h.Home, "mlmodel.db"),
            new ModelRepositoryOptions { SecretKey = ConnectorSecretKey.FromFile(keyFile) });
        var other = new MlModelEngine(new MlModelOptions { Repository = repository, ModelStore = new LocalObjectStore(_h.Store) });

        var error = (await FluentActions.Awaiting(() => other.ExecuteAsync(
                "mlmodel import name=m analysis_tool=tf kind=c algorithm=deep format=saved_model connector_id=minio path=USERS/root/m.tar", EngineHarness.Root))
            .Should().ThrowAsync<MlModelException>()).Which.Error;

        error.Code.Should().Be(ErrorCodes.Connector);
        error.Message.Should().StartWith("mlmodel import: SQLite model repository at ")
            .And.EndWith($": get connector: cannot decrypt the setting 'access_key' of connector 'minio' with the key file '{keyFile}': " +
                "it was encrypted with another key, or the stored value was altered");
        error.Message.Should().NotContain("very-secret-value");
    }
}
