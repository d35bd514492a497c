namespace MlModel.Dsl.Backends.Local;

/// <summary>
/// Creates <see cref="LocalObjectStore"/>s for connectors of type <c>local</c>. Setting:
/// <c>root</c>, the folder under which objects are stored (required).
/// </summary>
public sealed class LocalObjectStoreProvider : IObjectStoreProvider
{
    /// <summary>The connector type: <c>local</c>.</summary>
    public const string TypeName = "local";

    /// <summary>The setting naming the root folder.</summary>
    public const string RootSetting = "root";

    /// <inheritdoc />
    public string Type => TypeName;

    /// <inheritdoc />
    public IReadOnlyList<string> SettingNames { get; } = [RootSetting];

    /// <inheritdoc />
    public IObjectStore Create(ConnectorInfo connector)
    {
        ArgumentNullException.ThrowIfNull(connector);
        if (!string.Equals(connector.Type, TypeName, StringComparison.OrdinalIgnoreCase))
        {
            throw new MlModelException(ErrorCodes.Connector,
                $"connector '{connector.Id}' is of type '{connector.Type}', not '{TypeName}'");
        }

        foreach (var name in connector.Settings.Keys)
        {
            if (!SettingNames.Contains(name, StringComparer.OrdinalIgnoreCase))
            {
                throw new MlModelException(ErrorCodes.Connector,
                    $"connector '{connector.Id}' ({TypeName}) has an unknown setting '{name}'; known settings: {string.Join(", ", SettingNames)}");
            }
        }

        var root = connector.Settings
            .FirstOrDefault(kv => string.Equals(kv.Key, RootSetting, StringComparison.OrdinalIgnoreCase)).Value;
        if (string.IsNullOrWhiteSpace(root))
        {
            throw new MlModelException(ErrorCodes.Connector,
                $"connector '{connector.Id}' ({TypeName}) needs the setting '{RootSetting}' (the folder that holds the objects)");
        }

        try
        {
            return new LocalObjectStore(root);
        }
        catch (MlModelException e)
        {
            throw new MlModelException(ErrorCodes.Connector,
                $"connector '{connector.Id}' ({TypeName}): the setting '{RootSetting}' is not a usable folder path", e);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new MlModelException(ErrorCodes.Connector,
                $"connector '{connector.Id}' ({TypeName}): the setting '{RootSetting}' is not a usable folder path: {e.Message}", e);
        }
    }
}
