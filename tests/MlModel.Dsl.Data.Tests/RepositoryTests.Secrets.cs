using System.Text.Json;
using Dapper;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Data.Tests.Support;

namespace MlModel.Dsl.Data.Tests;

// Connector secrets at rest: what a plain SQL query on the table sees, and what the
// repository gives back with the right key, another key, no key, or altered rows.
public abstract partial class RepositoryTests
{
    private const string SecretValue = "s3cr3t/with+symbols=";
    private const string AccessValue = "AKIA-ACCESS-7Q2";

    private static readonly ConnectorSecretKey OtherKey = ConnectorSecretKey.FromBytes([.. Enumerable.Repeat((byte)0xA5, ConnectorSecretKey.Size)]);

    private static ConnectorInfo SecretConnector(string id = "minio") => new(id, "s3", new Dictionary<string, string>
    {
        ["endpoint"] = "http://127.0.0.1:9000",
        ["bucket"] = "models",
        ["access_key"] = AccessValue,
        ["secret_key"] = SecretValue,
        ["session_token"] = "t0ken-8e1",
        ["secret_key_env"] = "",
    });

    /// <summary>The settings column as stored, read with plain SQL.</summary>
    private async Task<string> RawSettingsAsync(string id)
    {
        await using var connection = await Database.OpenAsync();
        return await connection.ExecuteScalarAsync<string>("SELECT settings FROM mlmodel_connectors WHERE id = @Id", new { Id = id }) ?? "(no row)";
    }

    /// <summary>The settings column parsed: the values as stored, JSON escapes undone.</summary>
    private async Task<Dictionary<string, string>> RawValuesAsync(string id) =>
        JsonSerializer.Deserialize<Dictionary<string, string>>(await RawSettingsAsync(id))!;

    private async Task SetRawValuesAsync(string id, Dictionary<string, string> values)
    {
        await using var connection = await Database.OpenAsync();
        (await connection.ExecuteAsync("UPDATE mlmodel_connectors SET settings = @Settings WHERE id = @Id",
            new { Id = id, Settings = JsonSerializer.Serialize(values) })).Should().Be(1);
    }

    private static Dictionary<string, string> With(Dictionary<string, string> values, string name, string value) =>
        new(values) { [name] = value };

    private static string DecryptFailure(string operation, string setting, string id, string why) =>
        $": {operation}: cannot decrypt the setting '{setting}' of connector '{id}' with the configured key: {why}";

    [Test]
    public async Task Secret_settings_are_stored_encrypted_and_read_back_as_given()
    {
        await Repository.SaveConnectorAsync(SecretConnector());

        (await RawSettingsAsync("minio")).Should().NotContain("s3cr3t").And.NotContain(AccessValue).And.NotContain("t0ken-8e1");
        var raw = await RawValuesAsync("minio");
        raw.Values.Should().NotContain(v => v.Contains("s3cr3t") || v.Contains(AccessValue) || v.Contains("t0ken"));
        raw["secret_key"].Should().StartWith("enc:v1:");
        raw["access_key"].Should().StartWith("enc:v1:");
        raw["session_token"].Should().StartWith("enc:v1:");
        raw["bucket"].Should().Be("models", "settings that are not secrets stay readable");
        raw["endpoint"].Should().Be("http://127.0.0.1:9000");
        raw["secret_key_env"].Should().Be("", "an empty value has nothing to hide");
        // nonce (12) + the value's bytes + tag (16)
        Convert.FromBase64String(raw["secret_key"]["enc:v1:".Length..]).Should().HaveCount(12 + SecretValue.Length + 16);

        (await Repository.GetConnectorAsync("minio"))!.Settings.Should().Equal(SecretConnector().Settings);
        (await Repository.ListConnectorsAsync()).Should().ContainSingle().Which.Settings.Should().Equal(SecretConnector().Settings);
        (await Database.CreateRepository().GetConnectorAsync("minio"))!.Settings.Should().Equal(SecretConnector().Settings,
            "another repository instance with the same key reads it");

        // Each save seals afresh (a new nonce): equal secrets do not show as equal ciphertexts.
        await Repository.SaveConnectorAsync(SecretConnector());
        (await RawValuesAsync("minio"))["secret_key"].Should().NotBe(raw["secret_key"]);
    }

    [Test]
    public async Task A_repository_with_another_key_fails_naming_the_connector_and_never_returns_garbage()
    {
        await Repository.SaveConnectorAsync(SecretConnector());
        await Repository.SaveConnectorAsync(new ConnectorInfo("plain", "local", new Dictionary<string, string> { ["root"] = "/r" }));
        var other = Database.CreateRepository(new ModelRepositoryOptions { SecretKey = OtherKey });

        var error = (await FluentActions.Awaiting(() => other.GetConnectorAsync("minio")).Should().ThrowAsync<MlModelException>()).Which;

        error.Code.Should().Be(ErrorCodes.Connector);
        error.Message.Should().StartWith($"{Database.Kind} model repository at ")
            .And.EndWith(DecryptFailure("get connector", "access_key", "minio", "it was encrypted with another key, or the stored value was altered"))
            .And.NotContain(SecretValue).And.NotContain(AccessValue);
        (await FluentActions.Awaiting(() => other.ListConnectorsAsync()).Should().ThrowAsync<MlModelException>())
            .Which.Message.Should().Contain(": list connectors: cannot decrypt the setting 'access_key' of connector 'minio'");
        (await other.GetConnectorAsync("plain"))!.Settings["root"].Should().Be("/r", "a connector without secrets needs no key");
    }

    [Test]
    public async Task A_tampered_or_moved_ciphertext_fails()
    {
        await Repository.SaveConnectorAsync(SecretConnector("a"));
        await Repository.SaveConnectorAsync(SecretConnector("b"));
        var rawA = await RawValuesAsync("a");
        var rawB = await RawValuesAsync("b");
        var sealedA = rawA["secret_key"];

        async Task<string> FailureOfA(Dictionary<string, string> settings)
        {
            await SetRawValuesAsync("a", settings);
            var error = (await FluentActions.Awaiting(() => Repository.GetConnectorAsync("a")).Should().ThrowAsync<MlModelException>()).Which;
            error.Code.Should().Be(ErrorCodes.Connector);
            error.Message.Should().NotContain(SecretValue);
            return error.Message;
        }

        // One bit of the ciphertext flipped.
        var bytes = Convert.FromBase64String(sealedA["enc:v1:".Length..]);
        bytes[14] ^= 0x01;
        (await FailureOfA(With(rawA, "secret_key", "enc:v1:" + Convert.ToBase64String(bytes))))
            .Should().EndWith(DecryptFailure("get connector", "secret_key", "a", "it was encrypted with another key, or the stored value was altered"));

        // b's settings, sealed for b, copied into a's row: the connector id is bound in.
        (await FailureOfA(rawB)).Should().EndWith(DecryptFailure("get connector", "access_key", "a", "it was encrypted with another key, or the stored value was altered"));

        // a's own secret_key moved to its access_key: the setting name is bound in too.
        (await FailureOfA(With(rawA, "access_key", sealedA))).Should().EndWith(DecryptFailure("get connector", "access_key", "a", "it was encrypted with another key, or the stored value was altered"));

        (await FailureOfA(With(rawA, "secret_key", "enc:v1:not base64!")))
            .Should().EndWith(DecryptFailure("get connector", "secret_key", "a", "the stored value was altered (it is not base64)"));
        (await FailureOfA(With(rawA, "secret_key", "enc:v1:AAAA")))
            .Should().EndWith(DecryptFailure("get connector", "secret_key", "a", "the stored value was altered (it is too short)"));
        (await FailureOfA(With(rawA, "secret_key", "enc:v2:" + sealedA["enc:v1:".Length..])))
            .Should().EndWith(DecryptFailure("get connector", "secret_key", "a", "it is in a format this library does not know ('enc:v2:'); upgrade MlModel.Dsl.Data"));

        // Put back, it reads again: nothing else was damaged.
        await SetRawValuesAsync("a", rawA);
        (await Repository.GetConnectorAsync("a"))!.Settings["secret_key"].Should().Be(SecretValue);
        (await Repository.GetConnectorAsync("b"))!.Settings["secret_key"].Should().Be(SecretValue);
    }

    [Test]
    public async Task Without_a_key_secrets_are_refused_and_settings_that_name_variables_are_stored()
    {
        await Repository.SaveConnectorAsync(SecretConnector("sealed"));
        var keyless = Database.CreateRepository(new ModelRepositoryOptions());
        var before = await Database.CountRowsAsync();

        var refused = (await FluentActions.Awaiting(() => keyless.SaveConnectorAsync(SecretConnector())).Should().ThrowAsync<MlModelException>()).Which;

        refused.Code.Should().Be(ErrorCodes.Connector);
        refused.Message.Should().StartWith($"{Database.Kind} model repository at ").And.EndWith(
            ": save connector: connector 'minio' has secret settings (access_key, secret_key, session_token), and the repository has no key to encrypt them: " +
            "set ModelRepositoryOptions.SecretKey (for example from MLMODEL_SECRET_KEY), or give the keys as access_key_env/secret_key_env");
        refused.Message.Should().NotContain(SecretValue);
        (await Database.CountRowsAsync()).Should().Equal(before);

        var byVariables = new ConnectorInfo("env", "s3", new Dictionary<string, string>
        {
            ["bucket"] = "models", ["access_key_env"] = "MINIO_ACCESS_KEY", ["secret_key_env"] = "MINIO_SECRET_KEY",
        });
        await keyless.SaveConnectorAsync(byVariables);
        (await keyless.GetConnectorAsync("env"))!.Settings.Should().Equal(byVariables.Settings);
        (await RawValuesAsync("env")).Should().Equal(byVariables.Settings, "variable names are not secrets");

        var unreadable = (await FluentActions.Awaiting(() => keyless.GetConnectorAsync("sealed")).Should().ThrowAsync<MlModelException>()).Which;
        unreadable.Code.Should().Be(ErrorCodes.Connector);
        unreadable.Message.Should().EndWith(
            ": get connector: connector 'sealed' has encrypted settings (access_key, secret_key, session_token), and the repository has no key to decrypt them: " +
            "set ModelRepositoryOptions.SecretKey to the key they were encrypted with");
    }

    [Test]
    public async Task Plain_secrets_stored_before_encryption_are_read_and_sealed_when_a_repository_with_a_key_opens()
    {
        // Rows as a release before encryption wrote them.
        await using (var connection = await Database.OpenAsync())
        {
            await connection.ExecuteAsync("INSERT INTO mlmodel_connectors (id, type, settings) VALUES (@Id, 's3', @Settings)",
                new { Id = "legacy", Settings = $$"""{"bucket":"models","access_key":"{{AccessValue}}","secret_key":"{{SecretValue}}"}""" });
            await connection.ExecuteAsync("INSERT INTO mlmodel_connectors (id, type, settings) VALUES ('vars', 's3', '{\"bucket\":\"b\",\"secret_key_env\":\"SK\"}')");
        }
        var expected = new Dictionary<string, string> { ["bucket"] = "models", ["access_key"] = AccessValue, ["secret_key"] = SecretValue };

        var keyless = Database.CreateRepository(new ModelRepositoryOptions());
        await keyless.InitializeAsync();
        (await keyless.GetConnectorAsync("legacy"))!.Settings.Should().Equal(expected, "plain rows still read");
        (await RawValuesAsync("legacy")).Should().Equal(expected, "without a key nothing can be sealed");

        await Database.CreateRepository().InitializeAsync();

        (await RawSettingsAsync("legacy")).Should().NotContain("s3cr3t").And.NotContain(AccessValue);
        var raw = await RawValuesAsync("legacy");
        raw["secret_key"].Should().StartWith("enc:v1:");
        raw["access_key"].Should().StartWith("enc:v1:");
        raw["bucket"].Should().Be("models");
        (await Database.CreateRepository().GetConnectorAsync("legacy"))!.Settings.Should().Equal(expected);
        (await RawSettingsAsync("vars")).Should().Be("""{"bucket":"b","secret_key_env":"SK"}""", "a row without plain secrets is not rewritten");
    }
}
