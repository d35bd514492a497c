using MlModel.Dsl.Backends;
using MlModel.Dsl.IntegrationTests.Support;
using MlModel.Dsl.Storage.S3;

namespace MlModel.Dsl.IntegrationTests.Execution;

/// <summary>Import from and export to a real S3 server (Ceph's RADOS Gateway on 127.0.0.1).</summary>
[NonParallelizable] // one test stops the S3 server
public class S3Tests
{
    private string _bucket = null!;
    private EngineHarness _h = null!;

    [SetUp]
    public async Task SetUp()
    {
        _bucket = await TestServices.CreateBucketAsync();
        var settings = new Dictionary<string, string>
        {
            ["endpoint"] = TestServices.S3Endpoint,
            ["bucket"] = _bucket,
            ["access_key"] = TestServices.S3AccessKey,
            ["secret_key"] = TestServices.S3SecretKey,
        };
        _h = new EngineHarness(o =>
        {
            o.ObjectStoreProviders.Add(new S3ObjectStoreProvider());
            o.Connectors.Add(new ConnectorInfo("minio", "s3", settings));
            o.ModelStore = new S3ObjectStore(new S3StoreOptions
            {
                ServiceUrl = TestServices.S3Endpoint,
                Bucket = _bucket,
                Prefix = "store/",
                AccessKey = TestServices.S3AccessKey,
                SecretKey = TestServices.S3SecretKey,
            });
            o.OrphanGracePeriod = TimeSpan.Zero;
        });
    }

    [TearDown]
    public async Task TearDown()
    {
        _h.Dispose();
        await TestServices.DeleteBucketAsync(_bucket);
    }

    private async Task PutAsync(string key, byte[] content)
    {
        using var client = TestServices.RawClient();
        await client.PutObjectAsync(new Amazon.S3.Model.PutObjectRequest { BucketName = _bucket, Key = key, InputStream = new MemoryStream(content) });
    }

    [Test]
    public async Task Unfinished_uploads_of_killed_writes_are_reported_aborted_by_repair_and_by_delete()
    {
        await PutAsync("USERS/root/m.tar", await File.ReadAllBytesAsync(Path.Combine(TestPaths.RepoRoot, "samples", "models", "half_plus_two.tar")));
        await _h.RunAsync("mlmodel import name=m analysis_tool=tf kind=regression algorithm=deep format=saved_model connector_id=minio path=USERS/root/m.tar");
        await _h.RunAsync("mlmodel import name=m analysis_tool=tf kind=regression algorithm=deep format=saved_model connector_id=minio path=USERS/root/m.tar");
        using var client = TestServices.RawClient();
        // What an export killed mid-write leaves on S3: a multipart upload never completed.
        async Task<string> Start(string key) => (await client.InitiateMultipartUploadAsync(_bucket, key)).UploadId;
        var exportUpload = await Start("store/exports/root/m/1/m_v1_export.tar");
        await Start("store/exports/root/m/2/m_v2_export.tar");
        async Task<List<string>> Pending() =>
            ((await client.ListMultipartUploadsAsync(new Amazon.S3.Model.ListMultipartUploadsRequest { BucketName = _bucket })).MultipartUploads ?? []).Select(u => u.Key).ToList();

        var report = await _h.RunAsync("mlmodel check name=m version=1");
        report.Single().Should().Equal(new object?[] { "temp_files", "root", "m", 1, "1 temporary file(s), 0 bytes under exports/root/m/1/ left by writes that did not finish", "none" });

        (await _h.RunAsync("mlmodel check name=m version=1 repair=true")).Single()[5].Should().Be("deleted");
        (await Pending()).Should().Equal("store/exports/root/m/2/m_v2_export.tar");
        exportUpload.Should().NotBeNullOrEmpty();

        await _h.RunAsync("mlmodel delete name=m version=2");
        (await Pending()).Should().BeEmpty("a version's unfinished uploads go with it");
        (await _h.RunAsync("mlmodel check")).Should().BeEmpty();
    }

    [Test]
    public async Task A_real_saved_model_imports_from_s3_exports_to_a_presigned_url_and_is_deleted()
    {
        await PutAsync("USERS/root/clothes/model.tar", await File.ReadAllBytesAsync(Path.Combine(TestPaths.RepoRoot, "samples", "models", "half_plus_two.tar")));
        var import = await _h.RunAsync("mlmodel import name=tf_clothes analysis_tool=tf kind=classification algorithm=deep format=saved_model connector_id=minio path=USERS/root/clothes/model.tar description=base64(7J2066+47KeAIOu2hOulmA==)");
        import.Single().Should().Equal("ok", "tf_clothes", 1);
        (await TestServices.KeysAsync(_bucket)).Should().Contain("store/models/root/tf_clothes/1/half_plus_two/saved_model.pb");

        var export = (await _h.RunAsync("mlmodel export name=tf_clothes")).Single();
        var url = new Uri((string)export[1]!);
        url.Scheme.Should().Be("http");
        using var http = new HttpClient();
        var tar = await http.GetByteArrayAsync(url);
        await PutAsync("USERS/root/again.tar", tar);
        (await _h.RunAsync("mlmodel import name=again analysis_tool=tf kind=c algorithm=deep format=saved_model connector_id=minio path=USERS/root/again.tar")).Single()[0].Should().Be("ok");

        await _h.RunAsync("mlmodel delete name=tf_clothes version=1");
        (await TestServices.KeysAsync(_bucket)).Should().NotContain(k => k.StartsWith("store/models/root/tf_clothes/", StringComparison.Ordinal) || k.StartsWith("store/exports/root/tf_clothes/", StringComparison.Ordinal));
    }

    [TestCase("half_plus_two.zip")]
    [TestCase("half_plus_two.tar.xz")]
    [TestCase("half_plus_two.tar.zst")]
    [TestCase("half_plus_two.tar.bz2")]
    public async Task Every_container_imports_from_s3_whose_stream_cannot_seek(string fixture)
    {
        // A zip is read from its end: from S3 through a temporary copy, which leaves no file behind.
        var temp = Directory.EnumerateFiles(Path.GetTempPath(), "mlmodel-import-*").ToList();
        await PutAsync("USERS/root/model", Archives.Fixture(fixture));
        (await _h.RunAsync("mlmodel import name=m analysis_tool=tf kind=regression algorithm=deep format=saved_model connector_id=minio path=USERS/root/model"))
            .Single().Should().Equal("ok", "m", 1);
        (await TestServices.KeysAsync(_bucket)).Should().Contain("store/models/root/m/1/half_plus_two/variables/variables.index");
        Directory.EnumerateFiles(Path.GetTempPath(), "mlmodel-import-*").Should().BeEquivalentTo(temp);
    }

    [Test]
    public async Task A_user_imports_any_key_of_their_own_s3_connector_which_others_do_not_see()
    {
        // IRIS's tutorial: user demo imports seoryjj/... through connector 179, demo's own S3 connection.
        await PutAsync("seoryjj/cnn_wine_quality_0422.tar", await File.ReadAllBytesAsync(Path.Combine(TestPaths.RepoRoot, "samples", "models", "half_plus_two.tar")));
        var demo = new MlModelCaller("demo");
        await _h.Engine.Connectors.SaveAsync(new ConnectorInfo("179", "s3", new Dictionary<string, string>
        {
            ["endpoint"] = TestServices.S3Endpoint,
            ["bucket"] = _bucket,
            ["access_key"] = TestServices.S3AccessKey,
            ["secret_key"] = TestServices.S3SecretKey,
        }), demo);
        const string Command = "mlmodel import name=cnn_wine_quality analysis_tool=tf kind=classification algorithm=deep format=saved_model connector_id = 179 path=seoryjj/cnn_wine_quality_0422.tar";

        (await _h.RunAsync(Command, demo)).Single().Should().Equal("ok", "cnn_wine_quality", 1);
        (await TestServices.KeysAsync(_bucket)).Should().Contain("store/models/demo/cnn_wine_quality/1/half_plus_two/saved_model.pb");

        var other = (await FluentActions.Awaiting(() => _h.RunAsync(Command, EngineHarness.Alice)).Should().ThrowAsync<MlModelException>()).Which.Error;
        other.Message.Should().Be("mlmodel import: unknown connector '179'; known connectors: local, minio");
        // The host's connector is shared: demo imports through it only under USERS/demo/.
        (await FluentActions.Awaiting(() => _h.RunAsync(Command.Replace("connector_id = 179", "connector_id=minio", StringComparison.Ordinal), demo))
            .Should().ThrowAsync<MlModelException>()).Which.Error.Code.Should().Be(ErrorCodes.PermissionDenied);
    }

    [Test]
    public async Task Credentials_the_server_refuses_give_a_connector_error_without_the_secret()
    {
        await _h.Engine.Connectors.SaveAsync(new ConnectorInfo("wrong", "s3", new Dictionary<string, string>
        {
            ["endpoint"] = TestServices.S3Endpoint,
            ["bucket"] = _bucket,
            ["access_key"] = TestServices.S3AccessKey,
            ["secret_key"] = "not-the-secret-123",
        }), EngineHarness.Root);
        var act = () => _h.RunAsync("mlmodel import name=m analysis_tool=tf kind=c algorithm=deep format=saved_model connector_id=wrong path=USERS/root/m.tar");
        var error = (await act.Should().ThrowAsync<MlModelException>()).Which.Error;
        error.Code.Should().Be("connector");
        error.Message.Should().StartWith("mlmodel import: ").And.NotContain("not-the-secret-123");
        var history = await _h.RunAsync("mlmodel history name=m");
        ResultWriter.ToJson(history).Should().NotContain("not-the-secret-123");
    }

    [Test]
    public async Task The_s3_server_stopping_mid_import_gives_a_clear_error_no_row_and_no_orphans_after_check()
    {
        // A model large enough that the import is still writing when the server goes away.
        using var folder = new TempFolder();
        var data = new byte[24 << 20];
        new Random(1).NextBytes(data);
        File.Copy(Path.Combine(TestPaths.Model("saved_model_half_plus_two_cpu"), "saved_model.pb"), folder.Combine("saved_model.pb"));
        Directory.CreateDirectory(folder.Combine("variables"));
        await File.WriteAllBytesAsync(folder.Combine("variables", "variables.data-00000-of-00001"), data);
        _h.PutObject("USERS/root/big.tar", Archives.FromFolder(folder.Path));

        var stopped = 0;
        var progress = new Inline<TransferProgress>(p =>
        {
            if (p.Bytes > 8 << 20 && Interlocked.Exchange(ref stopped, 1) == 0)
            {
                TestServices.RunServiceCommand("MLMODEL_TEST_S3_STOP");
            }
        });
        try
        {
            var command = MlModelParser.Parse("mlmodel import name=big analysis_tool=tf kind=c algorithm=deep format=saved_model connector_id=local path=USERS/root/big.tar");
            var act = () => _h.Engine.ExecuteAsync(command, EngineHarness.Root, progress);
            var error = (await act.Should().ThrowAsync<MlModelException>()).Which.Error;
            stopped.Should().Be(1);
            error.Message.Should().StartWith("mlmodel import: ");
            error.Code.Should().BeOneOf("connector", "backend");
        }
        finally
        {
            TestServices.RunServiceCommand("MLMODEL_TEST_S3_START");
        }
        (await _h.RunAsync("mlmodel list")).Should().BeEmpty("a failed import leaves no row");
        await _h.RunAsync("mlmodel check repair=true");
        (await _h.RunAsync("mlmodel check")).Should().BeEmpty();
        (await TestServices.KeysAsync(_bucket)).Should().NotContain(k => k.StartsWith("store/models/", StringComparison.Ordinal));
    }

    [Test]
    public async Task The_s3_server_stopping_mid_export_gives_a_clear_error_and_leaves_no_export()
    {
        using var folder = new TempFolder();
        var data = new byte[40 << 20];
        new Random(2).NextBytes(data);
        File.Copy(Path.Combine(TestPaths.Model("saved_model_half_plus_two_cpu"), "saved_model.pb"), folder.Combine("saved_model.pb"));
        await File.WriteAllBytesAsync(folder.Combine("weights.bin"), data);
        _h.PutObject("USERS/root/big.tar", Archives.FromFolder(folder.Path));
        await _h.RunAsync("mlmodel import name=big analysis_tool=tf kind=c algorithm=deep format=saved_model connector_id=local path=USERS/root/big.tar");

        var stopped = 0;
        var progress = new Inline<TransferProgress>(p =>
        {
            if (Interlocked.Exchange(ref stopped, 1) == 0)
            {
                TestServices.RunServiceCommand("MLMODEL_TEST_S3_STOP");
            }
        });
        try
        {
            var act = () => _h.Engine.ExecuteAsync(MlModelParser.Parse("mlmodel export name=big"), EngineHarness.Root, progress);
            var error = (await act.Should().ThrowAsync<MlModelException>()).Which.Error;
            error.Message.Should().StartWith("mlmodel export: ");
        }
        finally
        {
            TestServices.RunServiceCommand("MLMODEL_TEST_S3_START");
        }
        await _h.RunAsync("mlmodel check repair=true");
        (await TestServices.KeysAsync(_bucket)).Should().NotContain(k => k.StartsWith("store/exports/", StringComparison.Ordinal));
        (await _h.RunAsync("mlmodel list")).Should().HaveCount(1, "the model itself is untouched");
    }

    /// <summary>An IProgress that runs on the reporting thread (Progress&lt;T&gt; would post to the pool).</summary>
    private sealed class Inline<T>(Action<T> action) : IProgress<T>
    {
        public void Report(T value) => action(value);
    }
}
