namespace MlModel.Dsl.Storage.S3;

// Keys: the store's key under its prefix, and the prefix an option gives, checked by the object-key rules.
public sealed partial class S3ObjectStore
{
    private string ObjectKey(string key)
    {
        ObjectKeyRules.ValidateKey(key);
        return _prefix + key;
    }

    private static string NormalizePrefix(string? value, string subject)
    {
        var trimmed = (value ?? "").Trim().Trim('/');
        if (trimmed.Length == 0)
        {
            return "";
        }

        try
        {
            ObjectKeyRules.ValidateKey(trimmed);
        }
        catch (MlModelException e)
        {
            throw new MlModelException(ErrorCodes.Connector, $"{subject}: the prefix '{ObjectKeyRules.Printable(trimmed)}' is not usable: {e.Message}", e);
        }

        return trimmed + "/";
    }
}
