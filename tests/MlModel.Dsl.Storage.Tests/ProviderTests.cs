using MlModel.Dsl.Backends.Local;
using MlModel.Dsl.Storage.S3;

namespace MlModel.Dsl.Storage.Tests;

/// <summary>Connector settings → stores: <see cref="LocalObjectStoreProvider"/> and <see cref="S3ObjectStoreProvider"/>.</summary>
[TestFixture]
[NonParallelizable]
public sealed class ProviderTests
{
    private static ConnectorInfo Connector(string type, params (string Key, string Value)[] settings) =>
        new("conn-1", type, settings.ToDictionary(s => s.Key, s => s.Value));

    private static MlModelException ConnectorError(Action act) =>
        act.Should().Throw<MlModelException>().Which.Tap(e => e.Code.Should().Be(ErrorCodes.Connector));

    // ------------------------------------------------------------------ local

    [Test]
    public async Task Local_settings_make_a_store_over_the_root()
    {
        var root = Directory.CreateTempSubdirectory("mlmodel-provider-").FullName;
        try
        {
            var provider = new LocalObjectStoreProvider();
            provider.Type.Should().Be("local");
            provider.SettingNames.Should().Equal("root");

            var store = provider.Create(Connector("local", ("root", root)));

            store.Should().BeOfType<LocalObjectStore>();
            store.Description.Should().Be("local:" + root);
            await store.PutAsync("k", new MemoryStream([1, 2, 3]), 3);
            File.ReadAllBytes(Path.Combine(root, "k")).Should().Equal(1, 2, 3);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Test]
    public void Local_without_a_root_is_a_clear_connector_error()
    {
        var provider = new LocalObjectStoreProvider();

        ConnectorError(() => provider.Create(Connector("local"))).Message.Should().Contain("conn-1").And.Contain("'root'");
        ConnectorError(() => provider.Create(Connector("local", ("root", " "))));
        ConnectorError(() => provider.Create(Connector("local", ("root", "/tmp"), ("rooot", "x")))).Message.Should().Contain("rooot");
        ConnectorError(() => provider.Create(Connector("s3", ("root", "/tmp"))));
    }

    // ------------------------------------------------------------------ s3

    [Test]
    public async Task S3_settings_make_a_working_store()
    {
        var env = S3TestEnvironment.Require();
        using var raw = env.RawClient();
        var bucket = S3TestEnvironment.NewBucketName("provider");
        await S3TestEnvironment.CreateBucketAsync(raw, bucket);
        try
        {
            var provider = new S3ObjectStoreProvider();
            provider.Type.Should().Be("s3");
            provider.SettingNames.Should().Contain(["endpoint", "region", "bucket", "prefix", "access_key", "secret_key", "access_key_env", "secret_key_env"]);

            var connector = Connector("s3",
                ("endpoint", env.Endpoint), ("region", "us-east-1"), ("bucket", bucket), ("prefix", "team-a/models"),
                ("access_key", env.AccessKey), ("secret_key", env.SecretKey));
            using var store = (S3ObjectStore)provider.Create(connector);

            store.Description.Should().Be($"s3://{bucket}/team-a/models/");
            await store.PutAsync("k", new MemoryStream([4, 5]), 2);
            (await raw.GetObjectMetadataAsync(bucket, "team-a/models/k")).ContentLength.Should().Be(2);
            connector.ToString().Should().NotContain(env.SecretKey);
        }
        finally
        {
            await S3TestEnvironment.RemoveBucketAsync(raw, bucket);
        }
    }

    [Test]
    public async Task S3_credentials_can_come_from_environment_variables()
    {
        var env = S3TestEnvironment.Require();
        using var raw = env.RawClient();
        var bucket = S3TestEnvironment.NewBucketName("provider-env");
        await S3TestEnvironment.CreateBucketAsync(raw, bucket);
        var suffix = Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        var accessVariable = "MLMODEL_PROVIDER_TEST_AK_" + suffix;
        var secretVariable = "MLMODEL_PROVIDER_TEST_SK_" + suffix;
        Environment.SetEnvironmentVariable(accessVariable, env.AccessKey);
        Environment.SetEnvironmentVariable(secretVariable, env.SecretKey);
        try
        {
            var connector = Connector("s3",
                ("endpoint", env.Endpoint), ("bucket", bucket),
                ("access_key_env", accessVariable), ("secret_key_env", secretVariable));

            using var store = (S3ObjectStore)new S3ObjectStoreProvider().Create(connector);

            await store.PutAsync("from-env", new MemoryStream([9]), 1);
            (await store.StatAsync("from-env"))!.Size.Should().Be(1);
            connector.RedactedSettings()["access_key_env"].Should().Be(accessVariable, "the variable's name is not a secret");
        }
        finally
        {
            Environment.SetEnvironmentVariable(accessVariable, null);
            Environment.SetEnvironmentVariable(secretVariable, null);
            await S3TestEnvironment.RemoveBucketAsync(raw, bucket);
        }
    }

    [Test]
    public void S3_with_an_unset_environment_variable_is_a_connector_error_naming_the_variable()
    {
        var variable = "MLMODEL_PROVIDER_TEST_UNSET_" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        var connector = Connector("s3", ("endpoint", "http://127.0.0.1:9"), ("bucket", "b"),
            ("access_key_env", variable), ("secret_key", "s3cr3t-value"));

        var error = ConnectorError(() => new S3ObjectStoreProvider().Create(connector));

        error.Message.Should().Contain(variable).And.NotContain("s3cr3t-value");
    }

    [Test]
    public void S3_without_a_bucket_is_a_clear_connector_error()
    {
        var connector = Connector("s3", ("endpoint", "http://127.0.0.1:9"), ("access_key", "AK"), ("secret_key", "s3cr3t-value"));

        var error = ConnectorError(() => new S3ObjectStoreProvider().Create(connector));

        error.Message.Should().Contain("conn-1").And.Contain("'bucket'").And.NotContain("s3cr3t-value");
    }

    [Test]
    public void S3_settings_are_checked()
    {
        var provider = new S3ObjectStoreProvider();
        (string, string)[] basics = [("endpoint", "http://127.0.0.1:9"), ("bucket", "b")];

        ConnectorError(() => provider.Create(Connector("s3", [.. basics, ("access_key", "AK"), ("access_key_env", "X"), ("secret_key", "S")])));
        ConnectorError(() => provider.Create(Connector("s3", [.. basics, ("access_key", "AK")])));
        ConnectorError(() => provider.Create(Connector("s3", [.. basics, ("bukket", "b")]))).Message.Should().Contain("bukket");
        ConnectorError(() => provider.Create(Connector("s3", ("endpoint", "ftp://x"), ("bucket", "b"))));
        ConnectorError(() => provider.Create(Connector("s3", [.. basics, ("force_path_style", "maybe")])));
        ConnectorError(() => provider.Create(Connector("local", basics)));
    }

    [Test]
    public void S3_with_user_info_in_the_endpoint_is_refused_without_echoing_it()
    {
        var connector = Connector("s3", ("endpoint", "http://minio:pa55w0rd@127.0.0.1:9"), ("bucket", "b"));

        var error = ConnectorError(() => new S3ObjectStoreProvider().Create(connector));

        error.Message.Should().Be("connector 'conn-1' (s3): the endpoint must not carry user info (user:password@); give keys as access_key_env/secret_key_env");
        connector.ToString().Should().Be("conn-1 (s3: endpoint=http://***@127.0.0.1:9/, bucket=b)");
        FluentActions.Invoking(() => new S3ObjectStore(new S3StoreOptions { ServiceUrl = "http://minio:pa55w0rd@127.0.0.1:9", Bucket = "b" }))
            .Should().Throw<MlModelException>().Which.Message
            .Should().Be("the S3 store: the endpoint must not carry user info (user:password@); give keys as access_key_env/secret_key_env");
    }
}

internal static class TapExtensions
{
    public static T Tap<T>(this T value, Action<T> action)
    {
        action(value);
        return value;
    }
}
