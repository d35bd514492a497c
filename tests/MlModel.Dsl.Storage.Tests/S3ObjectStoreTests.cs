using MlModel.Dsl.Backends;
using System.Diagnostics;
using System.Web;
using Amazon.S3;
using MlModel.Dsl.Storage.S3;

namespace MlModel.Dsl.Storage.Tests;

/// <summary>
/// The contract on <see cref="S3ObjectStore"/> against a real Ceph RADOS Gateway: the fixture makes
/// its own bucket and removes it; each test works under its own key prefix. Then what only S3 has:
/// multipart bookkeeping, presigned URLs, refused credentials, a stopped server.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class S3ObjectStoreTests : ObjectStoreContract
{
    private S3TestEnvironment _env = null!;
    private AmazonS3Client _raw = null!;
    private string _bucket = null!;

    [OneTimeSetUp]
    public async Task CreateBucket()
    {
        _env = S3TestEnvironment.Require();
        _raw = _env.RawClient();
        _bucket = S3TestEnvironment.NewBucketName("store");
        await S3TestEnvironment.CreateBucketAsync(_raw, _bucket);
    }

    [OneTimeTearDown]
    public async Task RemoveBucket()
    {
        if (_raw is not null)
        {
            await S3TestEnvironment.RemoveBucketAsync(_raw, _bucket);
            _raw.Dispose();
        }
    }

    protected override Task<IObjectStore> CreateStoreAsync() =>
        Task.FromResult<IObjectStore>(new S3ObjectStore(_env.Options(_bucket, $"tests/{Guid.NewGuid():N}")));

    protected override Task DestroyStoreAsync(IObjectStore store)
    {
        ((S3ObjectStore)store).Dispose();
        return Task.CompletedTask;
    }

    protected override async Task AssertNothingPendingAsync() =>
        (await S3TestEnvironment.PendingUploadsAsync(_raw, _bucket)).Should().BeEmpty("a failed or finished upload leaves no multipart upload pending");

    private S3ObjectStore S3 => (S3ObjectStore)Store;

    [Test]
    public async Task Objects_live_under_the_prefix_in_the_bucket()
    {
        await Store.PutAsync("models/x", Text("x"), 1);

        var head = await _raw.GetObjectMetadataAsync(_bucket, S3.Prefix + "models/x");
        head.ContentLength.Should().Be(1);
        S3.Prefix.Should().StartWith("tests/").And.EndWith("/");
        Store.Description.Should().Be($"s3://{_bucket}/{S3.Prefix}");
        Store.Should().NotBeAssignableTo<ILocalFileStore>("an S3 store has no local files to hard-link");
    }

    [Test]
    public async Task A_presigned_url_uses_the_endpoints_scheme_and_the_expiry()
    {
        await Store.PutAsync("url/x", Text("x"), 1);

        var url = await Store.GetDownloadUrlAsync("url/x", TimeSpan.FromMinutes(7));

        url.Scheme.Should().Be(new Uri(_env.Endpoint).Scheme);
        url.Authority.Should().Be(new Uri(_env.Endpoint).Authority);
        // 7 minutes; the SDK counts from its own clock, so give or take a second.
        int.Parse(HttpUtility.ParseQueryString(url.Query)["X-Amz-Expires"]!, System.Globalization.CultureInfo.InvariantCulture)
            .Should().BeInRange(419, 421);
        url.ToString().Should().NotContain(_env.SecretKey);
    }

    [Test]
    public async Task An_object_of_unknown_length_below_one_part_takes_a_single_put()
    {
        await Store.PutAsync("one.bin", new PatternStream(3 * MiB, 31), null);

        var head = await _raw.GetObjectMetadataAsync(_bucket, S3.Prefix + "one.bin");
        head.ETag.Should().NotContain("-", "a multipart upload's ETag ends with -<parts>");
        (await HashOfAsync("one.bin")).Should().Be(PatternStream.Sha256(3 * MiB, 31));
    }

    [Test]
    public async Task A_large_object_goes_up_in_parts()
    {
        await Store.PutAsync("parts.bin", new PatternStream(LargeSize, 32), LargeSize);

        var head = await _raw.GetObjectMetadataAsync(_bucket, S3.Prefix + "parts.bin");
        head.ETag.Trim('"').Should().EndWith("-5", "40 MiB in 8 MiB parts (the default) is five parts");
    }

    [Test]
    public async Task Uploads_hold_at_most_MaxConcurrentParts_part_buffers()
    {
        await Store.PutAsync("a.bin", new PatternStream(LargeSize, 39), null);
        await Store.PutAsync("b.bin", new PatternStream(LargeSize, 40), LargeSize);
        await Store.PutAsync("c.bin", new PatternStream(3 * MiB, 41), 3 * MiB);
        await Store.WriteAsync("d.bin", async (stream, ct) =>
        {
            var source = new PatternStream(LargeSize, 42);
            var buffer = new byte[MiB];
            int read;
            while ((read = await source.ReadAsync(buffer, ct)) > 0)
            {
                await stream.WriteAsync(buffer.AsMemory(0, read), ct);
            }
        });

        // 4 x 40 MiB went up in 8 MiB parts through at most 2 (the default) buffers of ~8 MiB.
        S3.Buffers.Allocated.Should().BeLessThanOrEqualTo(new S3StoreOptions().MaxConcurrentParts);
        S3.Buffers.Length.Should().BeLessThanOrEqualTo(8 * MiB + 1);
        (await HashOfAsync("d.bin")).Should().Be(PatternStream.Sha256(LargeSize, 42));
    }

    [Test]
    public async Task Small_part_sizes_and_a_zero_threshold_work()
    {
        var options = _env.Options(_bucket, S3.Prefix + "small-parts");
        options.PartSize = S3StoreOptions.MinPartSize;
        options.MultipartThreshold = 0;
        options.MaxConcurrentParts = 1;
        using var store = new S3ObjectStore(options);

        await store.PutAsync("a.bin", new PatternStream(11 * MiB, 33), 11 * MiB);
        await store.PutAsync("tiny", Text("t"), 1);
        await store.PutAsync("empty", new MemoryStream(), null);

        await using (var read = await store.OpenReadAsync("a.bin"))
        {
            (await PatternStream.HashAsync(read)).Should().Be(PatternStream.Sha256(11 * MiB, 33));
        }

        (await store.StatAsync("tiny"))!.Size.Should().Be(1);
        (await store.StatAsync("empty"))!.Size.Should().Be(0);
        await AssertNothingPendingAsync();
    }

    [Test]
    public async Task A_failed_part_upload_aborts_the_whole_upload()
    {
        // The bucket disappears under the upload: parts fail on the server side.
        var doomed = S3TestEnvironment.NewBucketName("doomed");
        await S3TestEnvironment.CreateBucketAsync(_raw, doomed);
        using var store = new S3ObjectStore(_env.Options(doomed));
        var act = () => store.WriteAsync("x.bin", async (stream, ct) =>
        {
            await stream.WriteAsync(PatternStream.Bytes(17 * MiB, 34), ct);
            await S3TestEnvironment.RemoveBucketAsync(_raw, doomed);
            await stream.WriteAsync(PatternStream.Bytes(17 * MiB, 35), ct);
        });

        var error = (await act.Should().ThrowAsync<MlModelException>()).Which;
        error.Code.Should().BeOneOf(ErrorCodes.Connector, ErrorCodes.Backend, ErrorCodes.NotFound);
        await S3TestEnvironment.RemoveBucketAsync(_raw, doomed);
    }

    [Test]
    public async Task Wrong_credentials_are_a_connector_error_without_the_secret()
    {
        var wrongSecret = "wrong-" + Guid.NewGuid().ToString("N");
        var options = _env.Options(_bucket);
        options.SecretKey = wrongSecret;
        options.ConnectorId = "models-s3";
        using var store = new S3ObjectStore(options);

        async Task Check(Func<Task> act)
        {
            var error = (await act.Should().ThrowAsync<MlModelException>()).Which;
            error.Code.Should().Be(ErrorCodes.Connector);
            error.Message.Should().Contain("refused the credentials").And.Contain("models-s3");
            error.ToString().Should().NotContain(wrongSecret).And.NotContain(_env.SecretKey);
        }

        await Check(() => store.PutAsync("k", Text("x"), 1));
        await Check(() => store.PutAsync("big", new PatternStream(LargeSize, 36), null));
        await Check(() => store.OpenReadAsync("k"));
        await Check(() => store.StatAsync("k"));
        await Check(async () => { await foreach (var _ in store.ListAsync("")) { } });
        await Check(() => store.DeletePrefixAsync("x/"));
        options.ToString().Should().NotContain(wrongSecret).And.NotContain(_env.AccessKey);
        store.ToString().Should().NotContain(wrongSecret);
    }

    [Test]
    public async Task An_unknown_access_key_is_a_connector_error()
    {
        var options = _env.Options(_bucket);
        options.AccessKey = "NOSUCHKEY0000000000";
        using var store = new S3ObjectStore(options);

        var act = () => store.StatAsync("k");

        var error = (await act.Should().ThrowAsync<MlModelException>()).Which;
        error.Code.Should().Be(ErrorCodes.Connector);
        error.ToString().Should().NotContain(_env.SecretKey);
    }

    [Test]
    public async Task A_read_answered_by_a_bare_400_still_names_a_missing_bucket()
    {
        // A server that answers the GET of an object with a 400 and no body (as Ceph's gateway did
        // once in CI for a missing bucket) and a listing with S3's documented NoSuchBucket error.
        using var server = new System.Net.HttpListener();
        var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        var port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        server.Prefixes.Add($"http://127.0.0.1:{port}/");
        server.Start();
        var serving = Task.Run(async () =>
        {
            while (server.IsListening)
            {
                System.Net.HttpListenerContext context;
                try
                {
                    context = await server.GetContextAsync();
                }
                catch (Exception)
                {
                    return;
                }

                var listing = context.Request.QueryString["list-type"] is not null || context.Request.Url!.Query.Contains("list-type", StringComparison.Ordinal);
                context.Response.StatusCode = listing ? 404 : 400;
                if (listing)
                {
                    var body = System.Text.Encoding.UTF8.GetBytes("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><BucketName>gone</BucketName></Error>");
                    context.Response.ContentType = "application/xml";
                    await context.Response.OutputStream.WriteAsync(body);
                }
                context.Response.Close();
            }
        });
        using var store = new S3ObjectStore(new S3StoreOptions
        {
            ServiceUrl = $"http://127.0.0.1:{port}",
            Bucket = "gone",
            AccessKey = "a",
            SecretKey = "b",
        });

        var read = () => store.OpenReadAsync("k");

        var error = (await read.Should().ThrowAsync<MlModelException>()).Which;
        error.Code.Should().Be(ErrorCodes.Connector);
        error.Message.Should().Contain("does not exist");
        server.Stop();
        await serving;
    }

    [Test]
    public async Task A_missing_bucket_is_a_connector_error()
    {
        using var store = new S3ObjectStore(_env.Options("mlmodel-no-such-bucket-" + Guid.NewGuid().ToString("N")[..8]));

        var put = () => store.PutAsync("k", Text("x"), 1);
        var read = () => store.OpenReadAsync("k");
        var stat = () => store.StatAsync("k");

        (await put.Should().ThrowAsync<MlModelException>()).Which.Code.Should().Be(ErrorCodes.Connector);
        (await read.Should().ThrowAsync<MlModelException>()).Which.Message.Should().Contain("does not exist");
        (await stat.Should().ThrowAsync<MlModelException>()).Which.Code.Should().Be(ErrorCodes.Connector);
    }

    [Test]
    public async Task An_unreachable_endpoint_is_a_connector_error()
    {
        var options = _env.Options(_bucket);
        options.ServiceUrl = "http://127.0.0.1:1";
        using var store = new S3ObjectStore(options);

        var act = () => store.StatAsync("k");

        var error = (await act.Should().ThrowAsync<MlModelException>()).Which;
        error.Code.Should().Be(ErrorCodes.Connector);
        error.Message.Should().Contain("127.0.0.1:1");
    }

    [Test]
    [Category("StopsS3Server")] // stops radosgw for a few seconds: keep other S3 test runs apart
    public async Task A_stopped_server_gives_an_error_not_a_hang()
    {
        await Store.PutAsync("before", Text("x"), 1);
        await S3TestEnvironment.RunAsync("MLMODEL_TEST_S3_STOP");
        try
        {
            var watch = Stopwatch.StartNew();
            async Task Check(Func<Task> act)
            {
                var error = (await act.Should().ThrowAsync<MlModelException>()).Which;
                error.Code.Should().BeOneOf(ErrorCodes.Connector, ErrorCodes.Backend);
                error.ToString().Should().NotContain(_env.SecretKey);
            }

            await Check(() => Store.StatAsync("before").WaitAsync(TimeSpan.FromMinutes(2)));
            await Check(() => Store.OpenReadAsync("before").WaitAsync(TimeSpan.FromMinutes(2)));
            await Check(() => Store.PutAsync("after", Text("y"), 1).WaitAsync(TimeSpan.FromMinutes(2)));
            await Check(() => Store.PutAsync("after-big", new PatternStream(LargeSize, 37), null).WaitAsync(TimeSpan.FromMinutes(2)));
            watch.Elapsed.Should().BeLessThan(TimeSpan.FromMinutes(2));
        }
        finally
        {
            await S3TestEnvironment.RunAsync("MLMODEL_TEST_S3_START");
        }

        (await ReadTextAsync("before")).Should().Be("x", "the server is back");
    }

    [Test]
    public async Task Cancelling_a_put_aborts_its_multipart_upload()
    {
        using var cancel = new CancellationTokenSource();
        var source = new CancellingStream(new PatternStream(LargeSize, 38), 25 * MiB, cancel);

        var act = () => Store.PutAsync("cancelled.bin", source, null, cancel.Token);

        await act.Should().ThrowAsync<OperationCanceledException>();
        (await Store.StatAsync("cancelled.bin")).Should().BeNull();
        await AssertNothingPendingAsync();
    }

    [Test]
    public void Options_are_checked()
    {
        S3StoreOptions Options(Action<S3StoreOptions> change)
        {
            var options = _env.Options(_bucket);
            change(options);
            return options;
        }

        foreach (var bad in new[]
                 {
                     Options(o => o.Bucket = ""),
                     Options(o => o.ServiceUrl = "ftp://host"),
                     Options(o => o.ServiceUrl = "not a url"),
                     Options(o => o.SecretKey = null),
                     Options(o => o.PartSize = 1024),
                     Options(o => o.MaxConcurrentParts = 0),
                     Options(o => o.Prefix = "a/../b"),
                 })
        {
            var act = () => new S3ObjectStore(bad);
            act.Should().Throw<MlModelException>().Which.Code.Should().Be(ErrorCodes.Connector);
        }
    }
}
