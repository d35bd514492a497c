using System.Formats.Tar;
using System.Text.Json;
using MlModel.Dsl.IntegrationTests.Support;

namespace MlModel.Dsl.IntegrationTests.Cli;

/// <summary>
/// <c>mlmodel --store ID</c>: the CLI keeps its model files and exports in a registered
/// connector's bucket, on a real S3 server (Ceph's RADOS Gateway on 127.0.0.1).
/// </summary>
[NonParallelizable] // other fixtures stop and restart the shared S3 server
public class CliS3StoreTests
{
    private TempFolder _home = null!;
    private string _uploads = null!;
    private string _models = null!;

    [SetUp]
    public async Task SetUp()
    {
        _home = new TempFolder();
        _uploads = await TestServices.CreateBucketAsync();
        _models = await TestServices.CreateBucketAsync();
    }

    [TearDown]
    public async Task TearDown()
    {
        _home.Dispose();
        await TestServices.DeleteBucketAsync(_uploads);
        await TestServices.DeleteBucketAsync(_models);
    }

    private async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await MlModel.Cli.Cli.RunAsync(["--home", _home.Path, "--no-progress", .. args], stdout, stderr, CancellationToken.None);
        return (code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Registers an s3 connector on <paramref name="bucket"/> whose credentials are named environment variables (the test's own).</summary>
    private async Task AddConnectorAsync(string id, string bucket)
    {
        var (code, _, error) = await RunAsync("connector", "add", $"id={id}", "type=s3", $"endpoint={TestServices.S3Endpoint}", $"bucket={bucket}",
            "access_key_env=MLMODEL_TEST_S3_ACCESS_KEY", "secret_key_env=MLMODEL_TEST_S3_SECRET_KEY");
        error.Should().BeEmpty();
        code.Should().Be(0);
    }

    private static string[] Rows(string csv) => csv.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries)[1..];

    [Test]
    public async Task A_real_saved_model_goes_from_an_s3_connector_into_an_s3_model_store_exports_to_a_presigned_url_and_is_deleted()
    {
        var model = TestPaths.Model("saved_model_half_plus_two_cpu");
        using (var raw = TestServices.RawClient())
        {
            await raw.PutObjectAsync(new Amazon.S3.Model.PutObjectRequest
            {
                BucketName = _uploads,
                Key = "USERS/root/half_plus_two.tar",
                InputStream = new MemoryStream(Archives.FromFolder(model, "half_plus_two")),
            });
        }
        await AddConnectorAsync("uploads", _uploads);
        await AddConnectorAsync("models", _models);

        var (code, output, error) = await RunAsync("--store", "models", "import", "name=half_plus_two", "analysis_tool=tf", "kind=regression",
            "algorithm=deep", "format=saved_model", "connector_id=uploads", "path=USERS/root/half_plus_two.tar");
        error.Should().BeEmpty();
        code.Should().Be(0);
        output.Should().Contain("ok").And.Contain("half_plus_two");

        var files = Directory.EnumerateFiles(model, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(model, f).Replace('\\', '/'))
            .ToList();
        files.Should().Contain("saved_model.pb").And.Contain("variables/variables.index");
        // The model store is the connector's bucket, with the layout of <home>/store (the
        // archive's top folder, stripped in the manifest, may stay in the keys).
        var keys = await TestServices.KeysAsync(_models);
        keys.Should().OnlyContain(k => k.StartsWith("models/root/half_plus_two/1/", StringComparison.Ordinal));
        foreach (var file in files)
        {
            keys.Should().Contain(k => k.EndsWith("/" + file, StringComparison.Ordinal), $"'{file}' is stored in the bucket");
        }
        Directory.Exists(Path.Combine(_home.Path, "store")).Should().BeFalse("nothing goes to the local store");

        (code, output, error) = await RunAsync("--store", "models", "--format", "csv", "list");
        error.Should().BeEmpty();
        code.Should().Be(0);
        Rows(output).Should().ContainSingle().Which.Should().StartWith("1,root,half_plus_two,1,");

        (code, output, error) = await RunAsync("--store", "models", "--format", "json", "export", "name=half_plus_two");
        error.Should().BeEmpty();
        code.Should().Be(0);
        string url;
        using (var json = JsonDocument.Parse(output))
        {
            var row = json.RootElement.GetProperty("results")[0];
            row[0].GetString().Should().Be("ok");
            url = row[1].GetString()!;
            row[2].GetInt32().Should().Be(3600);
        }
        url.Should().StartWith($"{TestServices.S3Endpoint.TrimEnd('/')}/{_models}/exports/root/half_plus_two/1/half_plus_two_v1_export.tar?")
            .And.Contain("X-Amz-Signature=", "export answers a presigned GET URL");

        using var http = new HttpClient();
        var tar = await http.GetByteArrayAsync(new Uri(url));
        var entries = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        using (var reader = new TarReader(new MemoryStream(tar)))
        {
            while (reader.GetNextEntry() is { } entry)
            {
                var content = new MemoryStream();
                entry.DataStream?.CopyTo(content);
                entries[entry.Name] = content.ToArray();
            }
        }
        entries.Keys.Should().BeEquivalentTo(files.Append("MANIFEST.sha256"));
        foreach (var file in files)
        {
            entries[file].Should().Equal(await File.ReadAllBytesAsync(Path.Combine(model, file)), $"'{file}' comes back as it was imported");
        }

        (code, _, error) = await RunAsync("--store", "models", "delete", "name=half_plus_two", "version=1");
        error.Should().BeEmpty();
        code.Should().Be(0);
        (await TestServices.KeysAsync(_models)).Should().NotContain(k => k.StartsWith("models/root/half_plus_two/", StringComparison.Ordinal)
            || k.StartsWith("exports/root/half_plus_two/", StringComparison.Ordinal));
        (await TestServices.KeysAsync(_uploads)).Should().Equal(["USERS/root/half_plus_two.tar"], "the import source is left alone");
        Rows((await RunAsync("--store", "models", "--format", "csv", "list")).Out).Should().BeEmpty();
    }

    [Test]
    public async Task The_IRIS_tutorial_import_runs_as_user_demo_through_demo_s_own_connector()
    {
        using (var raw = TestServices.RawClient())
        {
            await raw.PutObjectAsync(new Amazon.S3.Model.PutObjectRequest
            {
                BucketName = _uploads,
                Key = "seoryjj/cnn_wine_quality_0422.tar",
                InputStream = new MemoryStream(Archives.FromFolder(TestPaths.Model("saved_model_half_plus_two_cpu"), "cnn_wine_quality")),
            });
        }
        // demo, not an administrator, adds their own S3 connection with its keys (stored encrypted).
        var (code, output, error) = await RunAsync("--user", "demo", "--format", "csv", "connector", "add", "id=179", "type=s3",
            $"endpoint={TestServices.S3Endpoint}", $"bucket={_uploads}", $"access_key={TestServices.S3AccessKey}", $"secret_key={TestServices.S3SecretKey}");
        error.Should().BeEmpty();
        code.Should().Be(0);
        Rows(output).Should().Equal("saved,179,s3,demo,false");

        const string Tutorial = "mlmodel import name=cnn_wine_quality analysis_tool=tf kind=classification algorithm=deep format=saved_model connector_id = 179 path=seoryjj/cnn_wine_quality_0422.tar";
        (code, output, error) = await RunAsync("--user", "demo", "--format", "csv", "-c", Tutorial);
        error.Should().BeEmpty();
        code.Should().Be(0);
        Rows(output).Should().Equal("ok,cnn_wine_quality,1");
        Rows((await RunAsync("--user", "demo", "--format", "csv", "list")).Out).Should().ContainSingle().Which.Should().StartWith("1,demo,cnn_wine_quality,1,");
        File.Exists(Path.Combine(_home.Path, "store", "models", "demo", "cnn_wine_quality", "1", "cnn_wine_quality", "saved_model.pb")).Should().BeTrue();

        // Another user does not see demo's connector: it is as unknown as a missing one.
        (code, output, error) = await RunAsync("--user", "alice", "-c", Tutorial);
        code.Should().Be(1);
        output.Should().BeEmpty();
        error.Trim().Should().Be("mlmodel import: unknown connector '179'; known connectors: local");
        // The shared 'local' connector keeps demo to USERS/demo/.
        (code, _, error) = await RunAsync("--user", "demo", "-c", Tutorial.Replace("connector_id = 179", "connector_id=local", StringComparison.Ordinal));
        code.Should().Be(1);
        error.Trim().Should().Be("mlmodel import: user 'demo' may import through the shared connector 'local' only from keys under USERS/demo/, not 'seoryjj/cnn_wine_quality_0422.tar'");
    }

    [Test]
    public async Task The_IRIS_wine_quality_tutorial_runs_as_typed_in_its_manual()
    {
        using (var raw = TestServices.RawClient())
        {
            await raw.PutObjectAsync(new Amazon.S3.Model.PutObjectRequest
            {
                BucketName = _uploads,
                Key = "seoryjj/cnn_wine_quality_0422.tar",
                InputStream = new MemoryStream(Archives.FromFolder(TestPaths.Model("saved_model_half_plus_two_cpu"), "cnn_wine_quality_0422")),
            });
        }
        var (code, _, error) = await RunAsync("--user", "demo", "connector", "add", "id=179", "type=s3",
            $"endpoint={TestServices.S3Endpoint}", $"bucket={_uploads}", $"access_key={TestServices.S3AccessKey}", $"secret_key={TestServices.S3SecretKey}");
        code.Should().Be(0, error);

        // The two commands exactly as the tutorial types them into IRIS's search box (README: "IRIS's tutorial").
        const string Import = "* | mlmodel import name= model_cnn_wine_quality_0422\n    analysis_tool=tf kind=classification algorithm=deep format= saved_model connector_id = 179 path=seoryjj/cnn_wine_quality_0422.tar";
        const string Deploy = "* | mlmodel deploy name=model_cnn_wine_quality_0422  label='CNN wineQ model'";
        string output;
        (code, output, error) = await RunAsync("--user", "demo", "--format", "csv", "-c", Import);
        code.Should().Be(0, error);
        Rows(output).Should().Equal("ok,model_cnn_wine_quality_0422,1");
        (code, output, error) = await RunAsync("--user", "demo", "--format", "csv", "-c", Deploy);
        code.Should().Be(0, error);
        Rows(output).Should().Equal("on,1,demo_model_cnn_wine_quality_0422");

        (code, output, error) = await RunAsync("--user", "demo", "--format", "csv", "-c", "* | mlmodel status name=model_cnn_wine_quality_0422");
        code.Should().Be(0, error);
        Rows(output).Single().Split(',').Take(5).Should().Equal("1", "on", "CNN wineQ model", "listed", "CNN wineQ model");
        (await File.ReadAllTextAsync(Path.Combine(_home.Path, "serving", "models.config"))).Should().Contain("'CNN wineQ model'");
    }

    [Test]
    public async Task MLMODEL_STORE_names_the_store_like_the_option_and_deploy_copies_from_the_bucket()
    {
        await AddConnectorAsync("models", _models);
        // The import source here is the local connector: --store changes where model files live, not where imports come from.
        var folder = Path.Combine(_home.Path, "objects", "USERS", "root");
        Directory.CreateDirectory(folder);
        await File.WriteAllBytesAsync(Path.Combine(folder, "m.tar"), Archives.FromFolder(TestPaths.Model("saved_model_half_plus_two_cpu")));

        Environment.SetEnvironmentVariable("MLMODEL_STORE", "models");
        try
        {
            var (code, _, error) = await RunAsync("import", "name=m", "analysis_tool=tf", "kind=regression", "algorithm=deep",
                "format=saved_model", "connector_id=local", "path=USERS/root/m.tar");
            error.Should().BeEmpty();
            code.Should().Be(0);
            (await TestServices.KeysAsync(_models)).Should().Contain("models/root/m/1/saved_model.pb");

            (code, _, error) = await RunAsync("deploy", "name=m");
            error.Should().BeEmpty();
            code.Should().Be(0);
            File.Exists(Path.Combine(_home.Path, "serving", "root_m", "1", "saved_model.pb")).Should().BeTrue();

            (code, _, error) = await RunAsync("check");
            error.Should().BeEmpty();
            code.Should().Be(0);
        }
        finally
        {
            Environment.SetEnvironmentVariable("MLMODEL_STORE", null);
        }
    }

    [Test]
    public async Task An_unknown_store_connector_is_a_usage_error_that_names_the_option()
    {
        await AddConnectorAsync("models", _models);
        var (code, output, error) = await RunAsync("--store", "nope", "list");
        code.Should().Be(2);
        output.Should().BeEmpty();
        error.Should().StartWith("mlmodel: --store: unknown connector 'nope'; known connectors: local, models")
            .And.Contain("mlmodel connector add id=nope")
            .And.Contain("Run 'mlmodel --help' for usage.");

        Environment.SetEnvironmentVariable("MLMODEL_STORE", "nope");
        try
        {
            (code, _, error) = await RunAsync("list");
            code.Should().Be(2);
            error.Should().StartWith("mlmodel: MLMODEL_STORE: unknown connector 'nope'");

            // Connectors are managed whatever the store says, so the one it names can be added.
            (code, _, error) = await RunAsync("connector", "list");
            error.Should().BeEmpty();
            code.Should().Be(0);
        }
        finally
        {
            Environment.SetEnvironmentVariable("MLMODEL_STORE", null);
        }
    }

    [Test]
    public async Task A_store_connector_whose_settings_cannot_be_used_is_a_usage_error_and_refused_credentials_fail_without_the_secret()
    {
        // Saved while its variable was set (the provider checks settings on save), used after it is gone.
        Environment.SetEnvironmentVariable("MLMODEL_TEST_CLI_STORE_KEY", TestServices.S3AccessKey);
        try
        {
            (await RunAsync("connector", "add", "id=gone", "type=s3", $"endpoint={TestServices.S3Endpoint}", $"bucket={_models}",
                "access_key_env=MLMODEL_TEST_CLI_STORE_KEY", "secret_key_env=MLMODEL_TEST_S3_SECRET_KEY")).Code.Should().Be(0);
        }
        finally
        {
            Environment.SetEnvironmentVariable("MLMODEL_TEST_CLI_STORE_KEY", null);
        }
        var (code, _, error) = await RunAsync("--store", "gone", "list");
        code.Should().Be(2);
        error.Should().StartWith("mlmodel: --store: connector 'gone' (s3): the environment variable 'MLMODEL_TEST_CLI_STORE_KEY' named by 'access_key_env' is not set");

        // A secret the server refuses shows only at the first request: the command fails (exit 1), the secret hidden.
        (await RunAsync("connector", "add", "id=refused", "type=s3", $"endpoint={TestServices.S3Endpoint}", $"bucket={_models}",
            "access_key=AKNOTAKEY", "secret_key=not-the-secret-123")).Code.Should().Be(0);
        (code, _, error) = await RunAsync("--store", "refused", "check");
        code.Should().Be(1);
        error.Should().StartWith("mlmodel check: ").And.NotContain("not-the-secret-123");
    }

    [Test]
    public async Task Help_describes_the_option()
    {
        var (code, output, _) = await RunAsync("--help");
        code.Should().Be(0);
        output.Should().Contain("--store ID").And.Contain("$MLMODEL_STORE").And.Contain("presigned URL");
    }
}
