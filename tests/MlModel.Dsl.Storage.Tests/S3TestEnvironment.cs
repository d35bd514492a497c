using System.Diagnostics;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using MlModel.Dsl.Storage.S3;

namespace MlModel.Dsl.Storage.Tests;

/// <summary>
/// The real S3 server the tests run against (a Ceph RADOS Gateway from scripts/services.sh), from
/// MLMODEL_TEST_S3_ENDPOINT, MLMODEL_TEST_S3_ACCESS_KEY and MLMODEL_TEST_S3_SECRET_KEY. Missing
/// variables fail the tests: S3 support is not optional in this suite.
/// </summary>
internal sealed class S3TestEnvironment
{
    private S3TestEnvironment(string endpoint, string accessKey, string secretKey)
    {
        Endpoint = endpoint;
        AccessKey = accessKey;
        SecretKey = secretKey;
    }

    public string Endpoint { get; }
    public string AccessKey { get; }
    public string SecretKey { get; }

    public static string? StopCommand => Environment.GetEnvironmentVariable("MLMODEL_TEST_S3_STOP");
    public static string? StartCommand => Environment.GetEnvironmentVariable("MLMODEL_TEST_S3_START");

    /// <summary>The environment, or a failed test with instructions.</summary>
    public static S3TestEnvironment Require()
    {
        string[] names = ["MLMODEL_TEST_S3_ENDPOINT", "MLMODEL_TEST_S3_ACCESS_KEY", "MLMODEL_TEST_S3_SECRET_KEY"];
        var missing = names.Where(n => string.IsNullOrEmpty(Environment.GetEnvironmentVariable(n))).ToList();
        if (missing.Count > 0)
        {
            Assert.Fail($"The S3 tests need a real S3 server, but {string.Join(", ", missing)} {(missing.Count == 1 ? "is" : "are")} not set. "
                + "Start one with `scripts/services.sh start` and `source .tmp/services/services.env` before `dotnet test`.");
        }

        return new S3TestEnvironment(
            Environment.GetEnvironmentVariable(names[0])!,
            Environment.GetEnvironmentVariable(names[1])!,
            Environment.GetEnvironmentVariable(names[2])!);
    }

    public S3StoreOptions Options(string bucket, string? prefix = null) => new()
    {
        ServiceUrl = Endpoint,
        Bucket = bucket,
        Prefix = prefix,
        AccessKey = AccessKey,
        SecretKey = SecretKey,
    };

    /// <summary>A raw client, configured as Ceph needs, for setting up and inspecting buckets.</summary>
    public AmazonS3Client RawClient() => new(new BasicAWSCredentials(AccessKey, SecretKey), new AmazonS3Config
    {
        ServiceURL = Endpoint,
        ForcePathStyle = true,
        AuthenticationRegion = "us-east-1",
        RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
        ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        // Never wait forever on the test gateway (a restarted gateway once left a request unanswered).
        Timeout = TimeSpan.FromSeconds(30),
        MaxErrorRetry = 3,
    });

    public static string NewBucketName(string purpose) =>
        $"mlmodel-{purpose}-{Guid.NewGuid():N}"[..Math.Min(63, 9 + purpose.Length + 13)];

    public static async Task CreateBucketAsync(IAmazonS3 client, string bucket) =>
        await client.PutBucketAsync(new PutBucketRequest { BucketName = bucket });

    /// <summary>Removes a bucket with everything in it, pending multipart uploads included.</summary>
    public static async Task RemoveBucketAsync(IAmazonS3 client, string bucket)
    {
        try
        {
            var uploads = await client.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = bucket });
            foreach (var upload in uploads.MultipartUploads ?? [])
            {
                await client.AbortMultipartUploadAsync(bucket, upload.Key, upload.UploadId);
            }

            string? token = null;
            do
            {
                var page = await client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, ContinuationToken = token });
                foreach (var item in page.S3Objects ?? [])
                {
                    await client.DeleteObjectAsync(bucket, item.Key);
                }

                token = page.IsTruncated == true ? page.NextContinuationToken : null;
            }
            while (token is not null);

            await client.DeleteBucketAsync(bucket);
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "NoSuchBucket")
        {
            // Already gone.
        }
    }

    public static async Task<List<MultipartUpload>> PendingUploadsAsync(IAmazonS3 client, string bucket)
    {
        var uploads = await client.ListMultipartUploadsAsync(new ListMultipartUploadsRequest { BucketName = bucket });
        return uploads.MultipartUploads ?? [];
    }

    /// <summary>Runs one of the MLMODEL_TEST_S3_STOP/START shell commands, failing the test if it fails.</summary>
    public static async Task RunAsync(string variable)
    {
        var command = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrWhiteSpace(command))
        {
            Assert.Fail($"{variable} is not set: the test needs the shell command that {(variable.EndsWith("STOP", StringComparison.Ordinal) ? "stops" : "starts")} the S3 server (scripts/services.sh writes it to services.env).");
        }

        var start = new ProcessStartInfo("bash", ["-c", command!])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
        {
            Assert.Fail($"{variable} failed with exit code {process.ExitCode}: {await output} {await error}");
        }
    }
}
