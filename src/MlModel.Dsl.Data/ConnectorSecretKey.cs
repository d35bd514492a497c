using System.Security.Cryptography;
using MlModel.Dsl.Backends.Local;

namespace MlModel.Dsl.Data;

/// <summary>
/// The key that encrypts connector secrets at rest (<see cref="ModelRepositoryOptions.SecretKey"/>):
/// 32 bytes for AES-256-GCM, kept outside the database, so that a copy of the database (a
/// backup, a dump, a stolen file) does not give away the object stores' credentials.
/// </summary>
/// <remarks>
/// <para>Where the key comes from: <see cref="FromFile"/> for an embedded database (a file
/// beside it, created on first need with mode 0600); <see cref="FromEnvironment"/>
/// (<c>MLMODEL_SECRET_KEY</c>, the base64 of 32 bytes: <c>openssl rand -base64 32</c>) or
/// <see cref="FromBase64"/> for a database that several machines share, each given the same key.</para>
/// <para>A lost key loses the secrets encrypted with it (the connectors must be added again);
/// nothing else in the database depends on it. <see cref="ToString"/> says where the key is,
/// never the key.</para>
/// </remarks>
public sealed class ConnectorSecretKey
{
    /// <summary>The environment variable <see cref="FromEnvironment"/> reads by default.</summary>
    public const string EnvironmentVariable = "MLMODEL_SECRET_KEY";

    /// <summary>The key size in bytes (AES-256).</summary>
    public const int Size = 32;

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerOnlyFolder = OwnerOnly | UnixFileMode.UserExecute;

    // Any of these on a key file is refused.
    private const UnixFileMode GroupOrOther =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    private readonly string? _path;
    private readonly Lock _gate = new();
    private volatile byte[]? _key;

    private ConnectorSecretKey(byte[]? key, string? path, string source)
    {
        _key = key;
        _path = path;
        Source = source;
    }

    /// <summary>Where the key is, for messages: <c>the key file '/home/u/.mlmodel/secret.key'</c>, <c>the key in MLMODEL_SECRET_KEY</c>.</summary>
    internal string Source { get; }

    /// <summary>A key given as bytes.</summary>
    /// <exception cref="ArgumentException"><paramref name="key"/> is not <see cref="Size"/> bytes long.</exception>
    public static ConnectorSecretKey FromBytes(ReadOnlySpan<byte> key)
    {
        if (key.Length != Size)
        {
            throw new ArgumentException($"The connector secret key must be {Size} bytes, not {key.Length}.", nameof(key));
        }
        return new ConnectorSecretKey(key.ToArray(), null, "the configured key");
    }

    /// <summary>A key given as the base64 of 32 bytes (<c>openssl rand -base64 32</c>).</summary>
    /// <exception cref="ArgumentException"><paramref name="base64"/> is not the base64 of 32 bytes; the message does not show it.</exception>
    public static ConnectorSecretKey FromBase64(string base64)
    {
        ArgumentNullException.ThrowIfNull(base64);
        return new ConnectorSecretKey(Decode(base64, "The connector secret key", nameof(base64)), null, "the configured key");
    }

    /// <summary>
    /// The key in an environment variable (by default <c>MLMODEL_SECRET_KEY</c>), as the base64
    /// of 32 bytes; null when the variable is unset or empty.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// The variable holds something else. The message names the variable, not its value, and
    /// has no parameter name: it can be shown as it is.
    /// </exception>
    public static ConnectorSecretKey? FromEnvironment(string variable = EnvironmentVariable)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(variable);
        var value = Environment.GetEnvironmentVariable(variable);
        return string.IsNullOrWhiteSpace(value)
            ? null
            : new ConnectorSecretKey(Decode(value, variable, parameter: null), null, $"the key in {variable}");
    }

    /// <summary>
    /// The key in a file of 32 bytes. Nothing is read or written here: the file is read when a
    /// secret is first encrypted or decrypted, and created then (atomically, with mode 0600 on
    /// Unix, its folder 0700 if it is created too) when it does not exist and a secret is to be
    /// encrypted. An existing file is never overwritten. A file that others may read (on Unix,
    /// any group or other permission) or that is not 32 bytes long is an error.
    /// </summary>
    public static ConnectorSecretKey FromFile(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var full = Path.GetFullPath(path);
        return new ConnectorSecretKey(null, full, $"the key file '{full}'");
    }

    /// <summary>Where the key is; never the key.</summary>
    public override string ToString() => Source;

    /// <summary>
    /// The key's bytes: given, or read from the file (and the file created first when
    /// <paramref name="create"/> and it does not exist). Failures are <c>connector</c> errors
    /// whose message starts with <paramref name="context"/>.
    /// </summary>
    internal byte[] Get(bool create, string context)
    {
        if (_key is { } known)
        {
            return known;
        }
        lock (_gate)
        {
            // A failure is not remembered: the next call reads the file again (once it is fixed).
            return _key ??= Load(_path!, create, context);
        }
    }

    private static byte[] Load(string path, bool create, string context)
    {
        MlModelException Fail(string message, Exception? inner = null) =>
            new(ErrorCodes.Connector, $"{context}: {message}", inner);

        try
        {
            if (!File.Exists(path))
            {
                if (!create)
                {
                    throw Fail($"the key file '{path}' does not exist; the stored secrets were encrypted with it " +
                        "(restore it from a backup, or add the connectors that hold secrets again)");
                }
                Create(path);
            }
            if (!OperatingSystem.IsWindows())
            {
                var mode = File.GetUnixFileMode(path);
                if ((mode & GroupOrOther) != 0)
                {
                    throw Fail($"the key file '{path}' may be used by other users (mode {Octal(mode)}); " +
                        $"it must be readable by its owner only: chmod 600 '{path}'");
                }
            }
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
            if (file.Length != Size)
            {
                throw Fail($"the key file '{path}' holds {file.Length} bytes, not {Size}; it is not a connector secret key " +
                    "(restore the right file; a new key cannot read the secrets stored with the old one)");
            }
            var key = new byte[Size];
            file.ReadExactly(key);
            return key;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Fail($"cannot {(File.Exists(path) ? "read" : "create")} the key file '{path}': {e.Message}", e);
        }
    }

    /// <summary>
    /// Writes a new random key to a temporary file (0600), syncs it, and links it into place
    /// unless another process was first; then its key is the one. The folder is synced, so the
    /// key survives a crash as the secrets encrypted with it do.
    /// </summary>
    private static void Create(string path)
    {
        var folder = Path.GetDirectoryName(path)!;
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(folder);
        }
        else
        {
            Directory.CreateDirectory(folder, OwnerOnlyFolder);
        }
        var temp = Path.Combine(folder, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        var key = RandomNumberGenerator.GetBytes(Size);
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, BufferSize = 0 };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = OwnerOnly;
            }
            using (var file = new FileStream(temp, options))
            {
                file.Write(key);
                file.Flush(flushToDisk: true);
            }
            if (FileSync.TryPublishNew(temp, path))
            {
                FileSync.SyncFolder(folder);
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
            File.Delete(temp); // still there when another process published its key first
        }
    }

    private static byte[] Decode(string base64, string what, string? parameter)
    {
        var buffer = new byte[base64.Length];
        if (!Convert.TryFromBase64String(base64.Trim(), buffer, out var length) || length != Size)
        {
            throw new ArgumentException(
                $"{what} must be the base64 of {Size} random bytes (e.g. the output of: openssl rand -base64 32).", parameter);
        }
        return buffer[..Size];
    }

    private static string Octal(UnixFileMode mode) => Convert.ToString((int)mode & 0xFFF, 8).PadLeft(4, '0');
}
