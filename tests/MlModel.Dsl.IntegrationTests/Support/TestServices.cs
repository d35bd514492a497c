using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace MlModel.Dsl.IntegrationTests.Support;

/// <summary>
/// The real servers the test command starts (scripts/services.sh): PostgreSQL and Ceph's RADOS
/// Gateway on 127.0.0.1. A missing variable fails the test: these tests are never skipped.
/// </summary>
internal static class TestServices
{
    public static string Require(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException($"{name} is not set: run the tests with scripts/test.sh, which starts PostgreSQL and the S3 server");

    public static string S3Endpoint => Require("MLMODEL_TEST_S3_ENDPOINT");
    public static string S3AccessKey => Require("MLMODEL_TEST_S3_ACCESS_KEY");
    public static string S3SecretKey => Require("MLMODEL_TEST_S3_SECRET_KEY");
    public static string Postgres => Require("MLMODEL_TEST_PG");

    public static AmazonS3Client RawClient() => new(
        new BasicAWSCredentials(S3AccessKey, S3SecretKey),
        new AmazonS3Config
        {
            ServiceURL = S3Endpoint,
            ForcePathStyle = true,
            AuthenticationRegion = "us-east-1",
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            // A test's setup and clean-up must never wait forever: the gateway, restarted by the
            // tests that stop it, once left a DeleteBucket unanswered and the run hung in a teardown.
            Timeout = TimeSpan.FromSeconds(30),
            MaxErrorRetry = 3,
        });

    public static async Task<string> CreateBucketAsync()
    {
        var bucket = "t-" + Guid.NewGuid().ToString("N")[..20];
        using var client = RawClient();
        await client.PutBucketAsync(new PutBucketRequest { BucketName = bucket });
        return bucket;
    }

    public static async Task<List<string>> KeysAsync(string bucket)
    {
        using var client = RawClient();
        var keys = new List<string>();
        string? token = null;
        do
        {
            var page = await client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, ContinuationToken = token });
            keys.AddRange((page.S3Objects ?? []).Select(o => o.Key));
            token = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (token is not null);
        return keys;
    }

    /// <summary>Clean-up after a test: best effort (a bucket left in the throwaway gateway harms nothing), never a hang.</summary>
    public static async Task DeleteBucketAsync(string bucket)
    {
        try
        {
            using var client = RawClient();
            foreach (var key in await KeysAsync(bucket))
            {
                await client.DeleteObjectAsync(bucket, key);
            }
            await client.DeleteBucketAsync(bucket);
        }
        catch (Exception e) when (e is AmazonServiceException or AmazonClientException or HttpRequestException or TaskCanceledException or TimeoutException)
        {
            TestContext.Progress.WriteLine($"clean-up of bucket {bucket} failed (left in the test gateway): {e.Message}");
        }
    }

    /// <summary>Runs MLMODEL_TEST_S3_STOP or MLMODEL_TEST_S3_START (shell commands from services.sh).</summary>
    public static void RunServiceCommand(string variable)
    {
        using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("bash", ["-c", Require(variable)]))!;
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{variable} failed with exit code {p.ExitCode}");
        }
    }
}
