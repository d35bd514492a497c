using System.Runtime.Versioning;
using MlModel.Dsl.Backends;

namespace MlModel.Dsl.Data.Tests;

/// <summary>
/// <see cref="ConnectorSecretKey"/>: the key file of the embedded default (created on first
/// need, 0600, never replaced, refused when others may read it or it is not a key) and keys
/// given as text. On a real SQLite repository in a folder of its own. File modes are Unix's.
/// </summary>
[TestFixture]
[UnsupportedOSPlatform("windows")]
public sealed class ConnectorSecretKeyTests
{
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private string _folder = null!;
    private readonly List<ModelRepository> _repositories = [];

    [SetUp]
    public void CreateFolder() =>
        _folder = Directory.CreateTempSubdirectory("mlmodel-secret-key-").FullName;

    [TearDown]
    public async Task RemoveFolder()
    {
        foreach (var repository in _repositories)
        {
            await repository.DisposeAsync();
        }
        _repositories.Clear();
        Directory.Delete(_folder, recursive: true);
    }

    private string Home => Path.Combine(_folder, "home");
    private string KeyPath => Path.Combine(Home, "secret.key");

    private SqliteModelRepository Repository(ConnectorSecretKey? key = null)
    {
        var repository = new SqliteModelRepository(Path.Combine(Home, "mlmodel.db"),
            new ModelRepositoryOptions { SecretKey = key ?? ConnectorSecretKey.FromFile(KeyPath) });
        _repositories.Add(repository);
        return repository;
    }

    private static ConnectorInfo WithSecret(string id = "minio") =>
        new(id, "s3", new Dictionary<string, string> { ["bucket"] = "models", ["secret_key"] = "k3y-secret-value" });

    private static ConnectorInfo WithVariables(string id = "vars") =>
        new(id, "s3", new Dictionary<string, string> { ["bucket"] = "models", ["secret_key_env"] = "SK" });

    [Test]
    public async Task The_key_file_is_created_0600_when_the_first_secret_is_stored_and_never_replaced()
    {
        var repository = Repository();
        await repository.InitializeAsync();
        await repository.SaveConnectorAsync(WithVariables());
        File.Exists(KeyPath).Should().BeFalse("no secret has needed it yet");

        await repository.SaveConnectorAsync(WithSecret());

        var key = await File.ReadAllBytesAsync(KeyPath);
        key.Should().HaveCount(32).And.NotEqual(new byte[32]);
        File.GetUnixFileMode(KeyPath).Should().Be(OwnerReadWrite);
        Directory.GetFiles(Home).Select(Path.GetFileName).Should().NotContain(n => n!.EndsWith(".tmp", StringComparison.Ordinal));

        // Another process (a new key object on the same file) reads it; the file is not rewritten.
        var again = Repository();
        (await again.GetConnectorAsync("minio"))!.Settings["secret_key"].Should().Be("k3y-secret-value");
        await again.SaveConnectorAsync(WithSecret("second"));
        (await File.ReadAllBytesAsync(KeyPath)).Should().Equal(key);
    }

    [Test]
    public async Task Concurrent_first_uses_agree_on_one_key()
    {
        Directory.CreateDirectory(Home);
        var keys = Enumerable.Range(0, 8).Select(_ => ConnectorSecretKey.FromFile(KeyPath)).ToList();
        using var start = new Barrier(keys.Count);

        // Threads of their own: eight pool threads blocked at the barrier would wait for the pool to grow.
        var loaded = await Task.WhenAll(keys.Select(k => Task.Factory.StartNew(() =>
        {
            start.SignalAndWait();
            return k.Get(create: true, "test");
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)));

        var onDisk = await File.ReadAllBytesAsync(KeyPath);
        loaded.Should().AllSatisfy(k => k.Should().Equal(onDisk));
        Directory.GetFiles(Home).Should().ContainSingle("the losers' temporary files are removed");
    }

    [Test]
    public async Task A_key_file_that_others_may_read_is_refused_and_left_as_it_is()
    {
        Directory.CreateDirectory(Home);
        await File.WriteAllBytesAsync(KeyPath, new byte[32]);
        File.SetUnixFileMode(KeyPath, OwnerReadWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        var error = (await FluentActions.Awaiting(() => Repository().SaveConnectorAsync(WithSecret())).Should().ThrowAsync<MlModelException>()).Which;

        error.Code.Should().Be(ErrorCodes.Connector);
        error.Message.Should().EndWith($": save connector: the key file '{KeyPath}' may be used by other users (mode 0644); " +
            $"it must be readable by its owner only: chmod 600 '{KeyPath}'");
        File.GetUnixFileMode(KeyPath).Should().Be(OwnerReadWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        (await Repository().ListConnectorsAsync()).Should().BeEmpty("nothing was stored");

        // Fixed, the same key object works: a failure is not remembered.
        File.SetUnixFileMode(KeyPath, OwnerReadWrite);
        await Repository().SaveConnectorAsync(WithSecret());
    }

    [TestCase(0)]
    [TestCase(31)]
    [TestCase(44)]
    public async Task A_key_file_of_the_wrong_size_is_refused(int size)
    {
        Directory.CreateDirectory(Home);
        await File.WriteAllBytesAsync(KeyPath, new byte[size]);
        File.SetUnixFileMode(KeyPath, OwnerReadWrite);

        var error = (await FluentActions.Awaiting(() => Repository().SaveConnectorAsync(WithSecret())).Should().ThrowAsync<MlModelException>()).Which;

        error.Code.Should().Be(ErrorCodes.Connector);
        error.Message.Should().EndWith($": save connector: the key file '{KeyPath}' holds {size} bytes, not 32; it is not a connector secret key " +
            "(restore the right file; a new key cannot read the secrets stored with the old one)");
        (await File.ReadAllBytesAsync(KeyPath)).Should().HaveCount(size, "an existing file is never replaced");
    }

    [Test]
    public async Task A_lost_key_file_is_not_made_again_to_read_secrets()
    {
        await Repository().SaveConnectorAsync(WithSecret());
        File.Delete(KeyPath);

        var error = (await FluentActions.Awaiting(() => Repository().GetConnectorAsync("minio")).Should().ThrowAsync<MlModelException>()).Which;

        error.Code.Should().Be(ErrorCodes.Connector);
        error.Message.Should().EndWith($": get connector: the key file '{KeyPath}' does not exist; the stored secrets were encrypted with it " +
            "(restore it from a backup, or add the connectors that hold secrets again)");
        File.Exists(KeyPath).Should().BeFalse();
    }

    [Test]
    public async Task A_key_given_as_base64_reads_what_the_same_key_wrote_and_never_shows_itself()
    {
        var text = Convert.ToBase64String([.. Enumerable.Range(100, 32).Select(i => (byte)i)]);
        var key = ConnectorSecretKey.FromBase64(text);
        await Repository(key).SaveConnectorAsync(WithSecret());

        (await Repository(ConnectorSecretKey.FromBase64(" " + text + "\n")).GetConnectorAsync("minio"))!.Settings["secret_key"].Should().Be("k3y-secret-value");
        File.Exists(KeyPath).Should().BeFalse("a key given as text needs no file");
        key.ToString().Should().Be("the configured key");
        ConnectorSecretKey.FromFile(KeyPath).ToString().Should().Be($"the key file '{KeyPath}'");
    }

    [TestCase("c2hvcnQ=")]                 // "short": 5 bytes
    [TestCase("not base64 at all!")]
    [TestCase("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gIQ==")] // 34 bytes
    public void A_key_that_is_not_32_bytes_of_base64_is_refused_without_showing_it(string text)
    {
        var error = FluentActions.Invoking(() => ConnectorSecretKey.FromBase64(text)).Should().Throw<ArgumentException>().Which;
        error.Message.Should().StartWith("The connector secret key must be the base64 of 32 random bytes (e.g. the output of: openssl rand -base64 32).")
            .And.NotContain(text);

        var variable = "MLMODEL_TEST_SECRET_KEY_" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        Environment.SetEnvironmentVariable(variable, text);
        try
        {
            FluentActions.Invoking(() => ConnectorSecretKey.FromEnvironment(variable)).Should().Throw<ArgumentException>()
                .Which.Message.Should().Be($"{variable} must be the base64 of 32 random bytes (e.g. the output of: openssl rand -base64 32).");
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
        ConnectorSecretKey.FromEnvironment(variable).Should().BeNull("an unset variable is no key");
        FluentActions.Invoking(() => ConnectorSecretKey.FromBytes(new byte[31])).Should().Throw<ArgumentException>();
    }
}
