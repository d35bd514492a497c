namespace MlModel.Dsl.Storage.S3;

/// <summary>
/// Creates <see cref="S3ObjectStore"/>s for connectors of type <c>s3</c>.
/// </summary>
/// <remarks>
/// Settings: <c>endpoint</c> (an http(s) URL; absent for AWS S3), <c>region</c> (default
/// <c>us-east-1</c>), <c>bucket</c> (required), <c>prefix</c>, and the credentials either as
/// <c>access_key</c>/<c>secret_key</c> or as <c>access_key_env</c>/<c>secret_key_env</c>, the names of
/// environment variables that hold them (read when the store is created). Without any credentials
/// the AWS SDK's default chain applies. <c>force_path_style</c> (true/false, default true) is optional.
/// Unknown settings are refused, so that a misspelt one does not go unnoticed, and so is an
/// endpoint with user info (<c>http://user:password@host</c>): URLs are shown, keys never.
/// </remarks>
public sealed class S3ObjectStoreProvider : IObjectStoreProvider
{
    /// <summary>The connector type: <c>s3</c>.</summary>
    public const string TypeName = "s3";

    /// <inheritdoc />
    public string Type => TypeName;

    /// <inheritdoc />
    public IReadOnlyList<string> SettingNames { get; } =
    [
        "endpoint", "region", "bucket", "prefix",
        "access_key", "secret_key", "access_key_env", "secret_key_env",
        "force_path_style",
    ];

    /// <inheritdoc />
    public IObjectStore Create(ConnectorInfo connector) => CreateStore(connector);

    /// <summary>Checks the settings (bucket, endpoint, credentials and their variables) without creating an S3 client.</summary>
    public void Validate(ConnectorInfo connector) => Options(connector);

    /// <summary>Creates the store for <paramref name="connector"/> as its concrete type.</summary>
    public S3ObjectStore CreateStore(ConnectorInfo connector) => new(Options(connector));

    /// <summary>The store's options from <paramref name="connector"/>'s settings, checked.</summary>
    private S3StoreOptions Options(ConnectorInfo connector)
    {
        ArgumentNullException.ThrowIfNull(connector);
        var subject = $"connector '{connector.Id}' ({TypeName})";
        if (!string.Equals(connector.Type, TypeName, StringComparison.OrdinalIgnoreCase))
        {
            throw new MlModelException(ErrorCodes.Connector, $"connector '{connector.Id}' is of type '{connector.Type}', not '{TypeName}'");
        }

        var settings = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in connector.Settings)
        {
            if (!SettingNames.Contains(name, StringComparer.OrdinalIgnoreCase))
            {
                throw new MlModelException(ErrorCodes.Connector,
                    $"{subject} has an unknown setting '{name}'; known settings: {string.Join(", ", SettingNames)}");
            }

            settings[name] = value;
        }

        string? Get(string name) =>
            settings.TryGetValue(name, out var value) && !string.IsNullOrWhiteSpace(value) ? value.Trim() : null;

        var bucket = Get("bucket")
            ?? throw new MlModelException(ErrorCodes.Connector, $"{subject} needs the setting 'bucket' (the S3 bucket that holds the objects)");

        // Before the credentials are looked up: this is the more important of the two problems.
        if (Get("endpoint") is { } endpoint && ConnectorInfo.HasUserInfo(endpoint))
        {
            throw new MlModelException(ErrorCodes.Connector,
                $"{subject}: the endpoint must not carry user info (user:password@); give keys as access_key_env/secret_key_env");
        }

        var forcePathStyle = true;
        if (Get("force_path_style") is { } style && !bool.TryParse(style, out forcePathStyle))
        {
            throw new MlModelException(ErrorCodes.Connector, $"{subject}: the setting 'force_path_style' must be true or false, not '{style}'");
        }

        var options = new S3StoreOptions
        {
            ConnectorId = connector.Id,
            ServiceUrl = Get("endpoint"),
            Region = Get("region") ?? "us-east-1",
            Bucket = bucket,
            Prefix = Get("prefix"),
            AccessKey = Credential(settings, "access_key", subject),
            SecretKey = Credential(settings, "secret_key", subject),
            ForcePathStyle = forcePathStyle,
        };
        return options;
    }

    /// <summary>A credential given directly or through an environment variable; never echoed in messages.</summary>
    private static string? Credential(Dictionary<string, string> settings, string name, string subject)
    {
        var direct = settings.TryGetValue(name, out var value) && !string.IsNullOrEmpty(value) ? value : null;
        var variable = settings.TryGetValue(name + "_env", out var env) && !string.IsNullOrWhiteSpace(env) ? env.Trim() : null;
        if (direct is not null && variable is not null)
        {
            throw new MlModelException(ErrorCodes.Connector, $"{subject} gives both '{name}' and '{name}_env'; give one");
        }

        if (variable is null)
        {
            return direct;
        }

        var fromEnvironment = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrEmpty(fromEnvironment))
        {
            throw new MlModelException(ErrorCodes.Connector,
                $"{subject}: the environment variable '{variable}' named by '{name}_env' is not set");
        }

        return fromEnvironment;
    }
}
