using MlModel.Dsl;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Backends.Local;
using MlModel.Dsl.Data;
using MlModel.Dsl.Serving.TensorFlow;
using MlModel.Dsl.Storage.S3;

namespace MlModel.Cli;

/// <summary>A usage error found while setting up (an unknown <c>--store</c> connector): exit code 2.</summary>
internal sealed class UsageException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The embedded default, all under one home folder (created 0700):
/// <c>mlmodel.db</c> (SQLite, 0600), <c>secret.key</c> (the key of connector secrets, 0600), <c>objects/</c> (the <c>local</c> connector, where imports come from),
/// <c>store/</c> (managed model files and exports), <c>serving/</c> (TensorFlow Serving's model
/// base paths and <c>serving/models.config</c>, ready for <c>--model_config_file</c>).
/// With <c>--store ID</c> (or <c>MLMODEL_STORE</c>) the model files and exports live in connector
/// ID's bucket or folder instead, under <c>models/</c> and <c>exports/</c> as in <c>store/</c>.
/// </summary>
internal static class EmbeddedSetup
{
    /// <summary>
    /// Builds the engine, which owns its backends (<see cref="MlModelOptions.OwnsBackends"/>): the
    /// caller disposes the engine at exit. <paramref name="resolveStore"/> false skips <c>--store</c>
    /// (the <c>connector</c> subcommand manages connectors and needs no model store, and must work
    /// before the store's connector is added).
    /// </summary>
    /// <exception cref="UsageException"><c>--store</c> names no connector, or one whose store cannot be created.</exception>
    /// <exception cref="MlModelException">Something other than a folder stands where the home or one of its folders belongs.</exception>
    public static async Task<MlModelEngine> CreateAsync(CliOptions o, bool resolveStore, CancellationToken cancellationToken)
    {
        var home = Path.GetFullPath(o.Home);
        var repositoryOptions = new ModelRepositoryOptions { SecretKey = SecretKey(o, home) };
        CheckHome(home, o);
        if (!Directory.Exists(home) && Path.GetDirectoryName(home) is { } parent && !Directory.Exists(parent))
        {
            // A mistyped --home would otherwise start an empty registry that lists nothing.
            throw new UsageException(
                $"the home {home} does not exist, nor does the folder {parent} it would be made in; check --home or MLMODEL_HOME "
                + "(a new home is made only inside a folder that exists)");
        }
        try
        {
            // The home for its owner only; objects/ is a convenience (where the local connector reads
            // archives from), not a requirement: on a read-only or full disk the parts that need to
            // write say why.
            CreateHome(home);
            Directory.CreateDirectory(Path.Combine(home, "objects"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        IModelRepository repository = o.Database is null
            ? new SqliteModelRepository(Path.Combine(home, "mlmodel.db"), repositoryOptions)
            : new PostgresModelRepository(o.Database, repositoryOptions);
        var serving = new TensorFlowServingOptions
        {
            ServingRoot = Path.Combine(home, "serving"),
            ConfigFile = Path.Combine(home, "serving", "models.config"),
            RestAddress = o.ServingUrl is null ? null : new Uri(o.ServingUrl),
            ServerServingRoot = o.ServerServingRoot,
        };
        if (o.ServingTimeout is { } timeout)
        {
            serving.AvailableTimeout = timeout; // else the library's default
        }
        var options = new MlModelOptions
        {
            Repository = repository,
            Serving = new TensorFlowServingBackend(serving),
            OwnsBackends = true,
        };
        options.ObjectStoreProviders.Add(new S3ObjectStoreProvider());
        options.Connectors.Add(new ConnectorInfo("local", "local", new Dictionary<string, string> { ["root"] = Path.Combine(home, "objects") }));
        options.Administrators.Add("root");
        var engine = new MlModelEngine(options);
        try
        {
            if (resolveStore && o.Store is not null)
            {
                // Export goes to the same store (MlModelOptions.ExportStore left null): exports/ beside models/.
                // The library resolves the connector as it does for import: the user's own and shared ones.
                IObjectStore store;
                try
                {
                    store = await engine.Connectors.OpenStoreAsync(o.Store, new MlModelCaller(o.User, o.Admin), usedAs: o.StoreSource, cancellationToken);
                }
                catch (MlModelException e) when (e.Code == ErrorCodes.Connector)
                {
                    // The messages never contain secrets.
                    throw new UsageException(e.Message, e);
                }
                options.ModelStore = o.NoSync && store is LocalObjectStore local ? new LocalObjectStore(local.RootFolder) { Durable = false } : store;
            }
            else
            {
                options.ModelStore = new LocalObjectStore(Path.Combine(home, "store")) { Durable = !o.NoSync };
            }
        }
        catch
        {
            await engine.DisposeAsync();
            throw;
        }
        return engine;
    }

    /// <summary>The name of the connector secret key file in the home folder.</summary>
    public const string SecretKeyFile = "secret.key";

    /// <summary>
    /// The key that encrypts connector secrets: <c>MLMODEL_SECRET_KEY</c> when set (what a
    /// shared PostgreSQL repository needs: every machine gives the same key); else, for the
    /// embedded SQLite file, <c>&lt;home&gt;/secret.key</c>, created (0600) when the first
    /// secret is stored. PostgreSQL without the variable has no key: connectors with secrets
    /// are refused, and <c>*_env</c> settings still work.
    /// </summary>
    /// <exception cref="UsageException">MLMODEL_SECRET_KEY is not the base64 of 32 bytes.</exception>
    private static ConnectorSecretKey? SecretKey(CliOptions o, string home)
    {
        ConnectorSecretKey? fromEnvironment;
        try
        {
            fromEnvironment = ConnectorSecretKey.FromEnvironment();
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message, e);
        }
        return fromEnvironment ?? (o.Database is null ? ConnectorSecretKey.FromFile(Path.Combine(home, SecretKeyFile)) : null);
    }

    /// <summary>The home folder, created for its owner only (0700 on Unix); an existing one keeps its mode.</summary>
    private static void CreateHome(string home)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(home);
        }
        else
        {
            Directory.CreateDirectory(home, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    /// <summary>What lives in the home's folders, for the message when a plain file has taken one's place.</summary>
    private static readonly (string Name, string Holds)[] HomeFolders =
    [
        ("store", "model files and exports"),
        ("serving", "the versions TensorFlow Serving loads and models.config"),
        ("objects", "the archives the 'local' connector imports from"),
    ];

    /// <summary>
    /// Refuses a home whose folders are plain files (a mistaken copy, a file saved under the
    /// wrong name): every command would otherwise fail later, with an error about a file
    /// somewhere under it. Stats only; creates nothing. Folders that options replace
    /// (<c>--store</c>, <c>--database</c>) are not looked at.
    /// </summary>
    private static void CheckHome(string home, CliOptions o)
    {
        if (File.Exists(home))
        {
            throw new MlModelException(ErrorCodes.Backend, $"the home {home} is a file, not a folder; give another with --home or MLMODEL_HOME");
        }
        foreach (var (name, holds) in HomeFolders)
        {
            if (!(name == "store" && o.Store is not null) && File.Exists(Path.Combine(home, name)))
            {
                throw new MlModelException(ErrorCodes.Backend,
                    $"'{name}' in the home {home} is a file, not a folder; mlmodel keeps {holds} there: move the file away");
            }
        }
        if (o.Database is null && Directory.Exists(Path.Combine(home, "mlmodel.db")))
        {
            throw new MlModelException(ErrorCodes.Backend,
                $"'mlmodel.db' in the home {home} is a folder, not a file; mlmodel keeps its SQLite database there: move the folder away");
        }
    }
}
