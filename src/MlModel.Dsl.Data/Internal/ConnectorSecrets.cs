using System.Security.Cryptography;
using System.Text;
using MlModel.Dsl.Backends;

namespace MlModel.Dsl.Data.Internal;

/// <summary>
/// Seals and opens the secret settings of connectors (those <see cref="ConnectorInfo.IsSecretSetting"/>
/// names: secret_key, access_key, session tokens, passwords). A sealed value is
/// <c>enc:v1:</c> + base64(nonce | ciphertext | tag): AES-256-GCM with a fresh 12-byte nonce
/// per value and, as associated data, the connector id and the setting name, so a value
/// copied to another connector or setting does not open. Other settings are stored as given.
/// </summary>
internal sealed class ConnectorSecrets(ConnectorSecretKey? key)
{
    public const string Prefix = "enc:v1:";
    private const int NonceSize = 12;
    private const int TagSize = 16;

    public ConnectorSecretKey? Key => key;

    /// <summary>Whether a stored setting is a secret in plain text (written before secrets were encrypted).</summary>
    public static bool IsPlainSecret(KeyValuePair<string, string> setting) =>
        ShouldSeal(setting) && !IsSealed(setting.Value);

    /// <summary>The settings as they are stored: each secret value sealed.</summary>
    /// <exception cref="MlModelException"><c>connector</c>: secrets, and no key to seal them with.</exception>
    public Dictionary<string, string> Seal(string id, IReadOnlyDictionary<string, string> settings, string context, Func<KeyValuePair<string, string>, bool>? which = null)
    {
        which ??= ShouldSeal;
        var stored = new Dictionary<string, string>(settings, StringComparer.Ordinal);
        var secrets = settings.Where(which).Select(kv => kv.Key).ToList();
        if (secrets.Count == 0)
        {
            return stored;
        }
        if (key is null)
        {
            throw new MlModelException(ErrorCodes.Connector,
                $"{context}: connector '{id}' has secret settings ({string.Join(", ", secrets)}), and the repository has no key to encrypt them: " +
                $"set ModelRepositoryOptions.SecretKey (for example from {ConnectorSecretKey.EnvironmentVariable}), or give the keys as access_key_env/secret_key_env");
        }
        using var aes = new AesGcm(key.Get(create: true, context), TagSize);
        foreach (var name in secrets)
        {
            var plain = Encoding.UTF8.GetBytes(settings[name]);
            var sealedValue = new byte[NonceSize + plain.Length + TagSize];
            var nonce = sealedValue.AsSpan(0, NonceSize);
            RandomNumberGenerator.Fill(nonce);
            aes.Encrypt(nonce, plain, sealedValue.AsSpan(NonceSize, plain.Length), sealedValue.AsSpan(NonceSize + plain.Length), AssociatedData(id, name));
            CryptographicOperations.ZeroMemory(plain);
            stored[name] = Prefix + Convert.ToBase64String(sealedValue);
        }
        return stored;
    }

    /// <summary>The connector with its secret values opened; plain ones (from before encryption) are taken as they are.</summary>
    /// <exception cref="MlModelException">
    /// <c>connector</c>: a sealed value and no key, or a value that does not open with the key
    /// (another key, or altered); the message names the connector and the setting.
    /// </exception>
    public ConnectorInfo Open(string id, string type, IReadOnlyDictionary<string, string> stored, string context)
    {
        var sealedNames = stored.Where(kv => ConnectorInfo.IsSecretSetting(kv.Key) && IsSealed(kv.Value)).Select(kv => kv.Key).ToList();
        if (sealedNames.Count == 0)
        {
            return new ConnectorInfo(id, type, stored);
        }
        if (key is null)
        {
            throw new MlModelException(ErrorCodes.Connector,
                $"{context}: connector '{id}' has encrypted settings ({string.Join(", ", sealedNames)}), and the repository has no key to decrypt them: " +
                "set ModelRepositoryOptions.SecretKey to the key they were encrypted with");
        }
        var settings = new Dictionary<string, string>(stored, StringComparer.Ordinal);
        using var aes = new AesGcm(key.Get(create: false, context), TagSize);
        foreach (var name in sealedNames)
        {
            settings[name] = OpenValue(aes, id, name, stored[name], context);
        }
        return new ConnectorInfo(id, type, settings);
    }

    private string OpenValue(AesGcm aes, string id, string name, string value, string context)
    {
        MlModelException Fail(string why, Exception? inner = null) =>
            new(ErrorCodes.Connector, $"{context}: cannot decrypt the setting '{name}' of connector '{id}' with {key!.Source}: {why}", inner);

        if (!value.StartsWith(Prefix, StringComparison.Ordinal))
        {
            throw Fail($"it is in a format this library does not know ('{value[..(value.IndexOf(':', 4) + 1)]}'); upgrade MlModel.Dsl.Data");
        }
        byte[] sealedValue;
        try
        {
            sealedValue = Convert.FromBase64String(value[Prefix.Length..]);
        }
        catch (FormatException e)
        {
            throw Fail("the stored value was altered (it is not base64)", e);
        }
        if (sealedValue.Length < NonceSize + TagSize)
        {
            throw Fail("the stored value was altered (it is too short)");
        }
        var length = sealedValue.Length - NonceSize - TagSize;
        var plain = new byte[length];
        try
        {
            aes.Decrypt(sealedValue.AsSpan(0, NonceSize), sealedValue.AsSpan(NonceSize, length), sealedValue.AsSpan(NonceSize + length), plain, AssociatedData(id, name));
        }
        catch (CryptographicException e)
        {
            // GCM cannot tell the two apart: the tag does not match either way.
            throw Fail("it was encrypted with another key, or the stored value was altered", e);
        }
        var text = Encoding.UTF8.GetString(plain);
        CryptographicOperations.ZeroMemory(plain);
        return text;
    }

    private static bool ShouldSeal(KeyValuePair<string, string> setting) =>
        ConnectorInfo.IsSecretSetting(setting.Key) && setting.Value.Length > 0;

    // enc:v<digits>: is ours; a plain secret that merely starts with "enc" stays plain.
    private static bool IsSealed(string value)
    {
        if (!value.StartsWith("enc:v", StringComparison.Ordinal))
        {
            return false;
        }
        var end = value.IndexOf(':', 5);
        return end > 5 && value.AsSpan(5, end - 5).ContainsAnyExceptInRange('0', '9') is false;
    }

    private static byte[] AssociatedData(string id, string name) =>
        Encoding.UTF8.GetBytes($"mlmodel connector\0{id}\0{name}");
}
