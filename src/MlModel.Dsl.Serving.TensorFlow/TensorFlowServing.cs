using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Backends.Local;
using MlModel.Dsl.Serving.TensorFlow.Config;
using MlModel.Dsl.Serving.TensorFlow.Publishing;
using MlModel.Dsl.Serving.TensorFlow.Rest;

namespace MlModel.Dsl.Serving.TensorFlow;

/// <summary>
/// Deploys and stops SavedModel versions on TensorFlow Serving through the file system: each
/// version is published as <c>&lt;ServingRoot&gt;/&lt;serving_name&gt;/&lt;version&gt;/</c> and listed in the
/// model config file TF Serving polls (<c>model_config_list { config { name base_path
/// model_platform model_version_policy { specific { versions } } version_labels } }</c>).
/// With <see cref="TensorFlowServingOptions.RestAddress"/>, a deploy waits for the version to
/// become AVAILABLE before it sets a label, and undoes itself when the version does not load.
/// Safe to use from several threads and processes at once on the same config file.
/// </summary>
public sealed partial class TensorFlowServing : IDisposable
{
    /// <summary>The model_platform written for new entries.</summary>
    public const string ModelPlatform = "tensorflow";

    // A model name ends up in a folder name, a URL segment and the config. Letters, digits, '_', '.', '-',
    // starting with a letter or digit (spec B.2 names joined by '_' per B.6), and no ':' or '/'
    // (the REST routes match the model name as [^/:]+).

    /// <summary>
    /// The library's budget for a serving name, in UTF-8 bytes; checked here for every operation
    /// and by <see cref="TensorFlowServingBackend"/> before a deploy, with a message for users.
    /// </summary>
    /// <remarks>
    /// Not a rule of TensorFlow Serving, which takes any name: the name is one folder,
    /// <c>&lt;ServingRoot&gt;/&lt;name&gt;/</c>, and file systems cap a folder's name at 255 bytes
    /// (NAME_MAX on ext4 and XFS); 190 stays well below that. The publisher's temporary folders
    /// and lock files (<c>.publish-&lt;version&gt;-&lt;id&gt;</c>, <c>.unpublish-...</c>) live inside
    /// that folder, so they take nothing from it. Spec B.2 allows 128 characters each for the user
    /// and the model, so a <c>&lt;user&gt;_&lt;name&gt;</c> of long or non-ASCII names can exceed
    /// the budget: such a model is stored but cannot be deployed.
    /// </remarks>
    internal const int MaxServingNameBytes = 190;

    private readonly TensorFlowServingOptions _options;
    private readonly ModelConfigFile _config;
    private readonly VersionPublisher _publisher;
    private readonly TensorFlowServingRestClient? _rest;
    private readonly HttpClient? _ownedHttpClient;

    /// <summary>Creates the backend; an <see cref="HttpClient"/> is created (and owned) when a REST address is set.</summary>
    public TensorFlowServing(TensorFlowServingOptions options)
        : this(options, httpClient: null, PublishMode.Auto)
    {
    }

    /// <summary>Creates the backend with the caller's <see cref="HttpClient"/> (not disposed by this instance).</summary>
    public TensorFlowServing(TensorFlowServingOptions options, HttpClient httpClient)
        : this(options, httpClient ?? throw new ArgumentNullException(nameof(httpClient)), PublishMode.Auto)
    {
    }

    internal TensorFlowServing(TensorFlowServingOptions options, HttpClient? httpClient, PublishMode publishMode)
    {
        if (string.IsNullOrWhiteSpace(options.ServingRoot))
        {
            throw new ArgumentException("TensorFlowServingOptions.ServingRoot is required.", nameof(options));
        }

        if (string.IsNullOrWhiteSpace(options.ConfigFile))
        {
            throw new ArgumentException("TensorFlowServingOptions.ConfigFile is required.", nameof(options));
        }

        if (options.AvailableTimeout < TimeSpan.Zero || options.PollInterval <= TimeSpan.Zero || options.LockTimeout < TimeSpan.Zero)
        {
            throw new ArgumentException("TensorFlowServingOptions timeouts must not be negative and PollInterval must be positive.", nameof(options));
        }

        _options = options;
        _config = new ModelConfigFile(options.ConfigFile, options.LockTimeout);
        _publisher = new VersionPublisher(options.ServingRoot, publishMode);
        if (options.RestAddress is { } address)
        {
            if (httpClient is null)
            {
                _ownedHttpClient = RestHttpClient.Create();
                httpClient = _ownedHttpClient;
            }

            _rest = new TensorFlowServingRestClient(httpClient, address);
            Predictor = new RestPredictor(_rest);
        }
    }

    /// <summary>Signature and predict over the REST API; null without <see cref="TensorFlowServingOptions.RestAddress"/>.</summary>
    internal IServingPredictor? Predictor { get; }

    /// <summary>The serving name of a user's model (spec B.6: <c>&lt;user&gt;_&lt;name&gt;</c>).</summary>
    public static string GetServingName(string user, string name) => user + "_" + name;

    /// <summary>
    /// Publishes <paramref name="files"/> as version <paramref name="version"/> of <paramref name="servingName"/>
    /// and adds it to the config; moves <paramref name="label"/> to it once TF Serving has it AVAILABLE.
    /// Deploying an already deployed version only moves the label. On failure the config is left as it
    /// was (only what this call added is removed) and the published folder is deleted.
    /// </summary>
    /// <exception cref="TensorFlowServingException">Invalid arguments, a config this library cannot manage, lock timeout, load failure (with the server's message) or timeout.</exception>
    public async Task<TensorFlowDeployResult> DeployAsync(string servingName, int version, string? label, IReadOnlyList<ServingFile> files, CancellationToken cancellationToken = default)
    {
        ValidateServingName(servingName);
        ValidateVersion(version);
        if (label is not null)
        {
            ValidateLabel(label);
        }

        var basePath = ServerBasePath(servingName);
        var versionPath = _publisher.GetVersionPath(servingName, version);

        var current = await _config.ReadAsync(cancellationToken);
        var existing = current.Find(servingName);
        if (existing is not null)
        {
            EnsureManageable(existing, basePath);
        }

        var alreadyConfigured = existing?.HasVersion(version) == true;
        if (_rest is null && label is not null && !alreadyConfigured
            && existing is not null && existing.Labels.TryGetValue(label, out var holder) && holder != version)
        {
            // Without the REST API nothing can wait for the new version to be AVAILABLE, and TF
            // Serving refuses a config that moves a label onto a version it has not loaded, even with
            // --allow_version_labels_for_unavailable_models (which covers new labels only): it would
            // refuse this file at every poll, and every later change behind it (server_core.cc,
            // UpdateModelVersionLabelMap; serving_config.md "Assigning labels"). Refuse before
            // anything is written; the same deploy once the version is served moves the label.
            throw new TensorFlowServingException(
                TensorFlowServingErrorKind.LabelNeedsAvailableVersion,
                $"Label '{label}' of {servingName} is on version {holder.ToString(CultureInfo.InvariantCulture)}; TensorFlow Serving moves a label only onto a version it has loaded, "
                + "and without its REST address (--serving-url, TensorFlowServingOptions.RestAddress) that cannot be waited for. "
                + $"Deploy version {version.ToString(CultureInfo.InvariantCulture)} without the label first, then again with label={label} once it is serving, or give the REST address");
        }
        // What the server says about this version before the config lists it: a previous END is
        // not the outcome of this load (the state monitor remembers versions it unloaded).
        ServedVersionStatus? stale = null;
        if (_rest is not null && !alreadyConfigured)
        {
            var before = await _rest.GetModelStatusAsync(servingName, version, cancellationToken);
            stale = before.Versions?.FirstOrDefault(s => s.Version == version);
        }

        var published = false;
        if (!alreadyConfigured || !_publisher.IsPublished(servingName, version))
        {
            if (!alreadyConfigured)
            {
                // A folder for a version the config does not list is served by nobody: the leftover of an
                // interrupted deploy or stop. Replace it with the files given now.
                _publisher.Unpublish(servingName, version);
            }

            await _publisher.PublishAsync(servingName, version, files, cancellationToken);
            published = true;
            FaultPoints.Reach(FaultPoints.Points.DeployPublished);
        }

        // Phase 1: the version, without the new label (TF Serving refuses a config whose labels point
        // at versions that are not AVAILABLE: serving_config.md "labels can only be assigned to model
        // versions that are already loaded and available for serving"; server_core.cc
        // UpdateModelVersionLabelMap fails the whole reload with FailedPrecondition).
        var twoPhase = _rest is not null;
        var undo = new DeployUndo();
        try
        {
            var phase1 = await _config.UpdateDetailedAsync(
                doc =>
                {
                    var entry = doc.Find(servingName);
                    var created = false;
                    if (entry is null)
                    {
                        entry = doc.AddModel(servingName, basePath, ModelPlatform);
                        created = true;
                    }
                    else
                    {
                        EnsureManageable(entry, basePath);
                    }

                    var added = entry.AddSpecificVersion(version);
                    if (!twoPhase && label is not null)
                    {
                        entry.SetLabel(label, version);
                    }

                    return (created, added);
                },
                cancellationToken);
            undo.CreatedEntry = phase1.Result.created;
            undo.AddedVersion = phase1.Result.added;
            undo.Record(phase1.TextBefore, phase1.TextWritten);
            FaultPoints.Reach(FaultPoints.Points.DeployConfigWritten);
        }
        catch
        {
            if (published)
            {
                _publisher.Unpublish(servingName, version);
            }

            throw;
        }

        if (_rest is null)
        {
            return new TensorFlowDeployResult(servingName, version, label, versionPath, published, null);
        }

        ServedVersionStatus state;
        try
        {
            state = await _rest.WaitForAvailableAsync(servingName, version, _options.AvailableTimeout, _options.PollInterval, stale, cancellationToken);
        }
        catch (Exception e) when (e is TensorFlowServingException or OperationCanceledException)
        {
            await RollbackAsync(servingName, version, undo, e);
            throw;
        }

        if (label is null)
        {
            return new TensorFlowDeployResult(servingName, version, null, versionPath, published, state);
        }

        // Phase 2: the version is AVAILABLE; move the label to it (serving_config.md: to move a label
        // from N to N+1, first serve both, then assign the label to the loaded N+1).
        try
        {
            var phase2 = await _config.UpdateDetailedAsync(
                doc =>
                {
                    var entry = doc.Find(servingName);
                    if (entry is null || !entry.HasVersion(version))
                    {
                        throw new TensorFlowServingException(
                            TensorFlowServingErrorKind.NotDeployed,
                            $"Version {version} of {servingName} was stopped while it was being deployed; label '{label}' was not set.");
                    }

                    long? previous = entry.Labels.TryGetValue(label, out var p) ? p : null;
                    return (Changed: entry.SetLabel(label, version), Previous: previous);
                },
                cancellationToken);
            undo.Record(phase2.TextBefore, phase2.TextWritten);
            FaultPoints.Reach(FaultPoints.Points.DeployLabelWritten);
            if (phase2.Result.Changed)
            {
                undo.LabelRestore = (label, phase2.Result.Previous);
                await _rest.WaitForLabelAsync(servingName, label, version, _options.AvailableTimeout, _options.PollInterval, cancellationToken);
            }
        }
        catch (Exception e) when (e is TensorFlowServingException or OperationCanceledException)
        {
            await RollbackAsync(servingName, version, undo, e);
            throw;
        }

        return new TensorFlowDeployResult(servingName, version, label, versionPath, published, state);
    }

    /// <summary>
    /// Stops serving a version: removes it from the version policy together with the labels pointing at
    /// it (and the whole entry when no version is left), writes the config, then deletes the folder.
    /// </summary>
    /// <exception cref="TensorFlowServingException">Kind <see cref="TensorFlowServingErrorKind.NotDeployed"/> when neither the config nor the folder has the version.</exception>
    public async Task StopAsync(string servingName, int version, CancellationToken cancellationToken = default)
    {
        ValidateServingName(servingName);
        ValidateVersion(version);
        var basePath = ServerBasePath(servingName);
        var removed = await _config.UpdateAsync(
            doc =>
            {
                var entry = doc.Find(servingName);
                if (entry is null || !entry.HasVersion(version))
                {
                    return false;
                }

                EnsureManageable(entry, basePath);
                entry.RemoveLabelsPointingTo(version);
                entry.RemoveSpecificVersion(version);
                if (entry.SpecificVersions.Count == 0)
                {
                    doc.RemoveModel(servingName);
                }

                return true;
            },
            cancellationToken);

        FaultPoints.Reach(FaultPoints.Points.StopConfigWritten);
        // Only after the config no longer lists it: the server unloads it on its next poll.
        var unpublished = _publisher.Unpublish(servingName, version);
        FaultPoints.Reach(FaultPoints.Points.StopUnpublished);
        if (!removed && !unpublished)
        {
            throw new TensorFlowServingException(
                TensorFlowServingErrorKind.NotDeployed,
                $"Version {version} of {servingName} is not deployed on TensorFlow Serving.");
        }
    }

    /// <summary>What the config lists for <paramref name="servingName"/>, which version folders exist, and (with a REST address) what the server reports.</summary>
    public async Task<TensorFlowServingStatus> GetStatusAsync(string servingName, CancellationToken cancellationToken = default)
    {
        ValidateServingName(servingName);
        var doc = await _config.ReadAsync(cancellationToken);
        var entry = doc.Find(servingName);
        var published = _publisher.GetPublishedVersions(servingName);
        IReadOnlyList<ServedVersionStatus>? served = null;
        string? serverError = null;
        if (_rest is not null)
        {
            var response = await _rest.GetModelStatusAsync(servingName, null, cancellationToken);
            served = response.Versions;
            serverError = response.Error;
        }

        return new TensorFlowServingStatus(servingName, entry is null ? null : ToDeployedModel(entry), published, served, serverError);
    }

    /// <summary>
    /// Makes the labels of <paramref name="servingName"/> in the config exactly <paramref name="labels"/>,
    /// for the versions the config lists (a label of a version it does not list is left out):
    /// labels the registry does not know go, labels it has come back. A label is put only on a
    /// version the config already serves, which TF Serving accepts. False when nothing changed.
    /// </summary>
    public Task<bool> SetLabelsAsync(string servingName, IReadOnlyDictionary<string, long> labels, CancellationToken cancellationToken = default)
    {
        ValidateServingName(servingName);
        var basePath = ServerBasePath(servingName);
        return _config.UpdateAsync(
            doc =>
            {
                var entry = doc.Find(servingName);
                if (entry is null)
                {
                    return false;
                }

                EnsureManageable(entry, basePath);
                var changed = false;
                foreach (var (label, version) in entry.Labels.ToList())
                {
                    if (!labels.TryGetValue(label, out var wanted) || wanted != version)
                    {
                        changed |= entry.RemoveLabel(label);
                    }
                }

                foreach (var (label, version) in labels)
                {
                    if (entry.HasVersion(version))
                    {
                        changed |= entry.SetLabel(label, version);
                    }
                }

                return changed;
            },
            cancellationToken);
    }

    /// <summary>Serving names with a version folder under the serving root (published, whether or not the config lists them).</summary>
    public IReadOnlyList<string> GetPublishedServingNames()
    {
        try
        {
            return Directory.EnumerateDirectories(_publisher.ServingRoot)
                .Select(Path.GetFileName)
                .Where(n => n is not null && IsValidServingName(n) && _publisher.GetPublishedVersions(n).Count > 0)
                .Select(n => n!)
                .Order(StringComparer.Ordinal)
                .ToList();
        }
        catch (DirectoryNotFoundException)
        {
            return [];
        }
    }

    /// <summary>
    /// What deploys, stops and config writes that did not finish left behind (temporary config files,
    /// dead publish folders, unpublish folders), relative to the serving root; removed when
    /// <paramref name="remove"/>. Nothing that a running deploy or stop still uses is listed.
    /// </summary>
    public async Task<IReadOnlyList<string>> FindLeftoversAsync(bool remove, CancellationToken cancellationToken = default)
    {
        var found = new List<string>();
        var configFolder = Path.GetDirectoryName(_config.Path)!;
        var prefix = Path.GetRelativePath(_publisher.ServingRoot, configFolder) is "." ? "" : Path.GetRelativePath(_publisher.ServingRoot, configFolder) + "/";
        found.AddRange((await _config.FindTemporaryFilesAsync(remove, cancellationToken)).Select(f => prefix + f));
        if (Directory.Exists(_publisher.ServingRoot))
        {
            foreach (var dir in Directory.EnumerateDirectories(_publisher.ServingRoot).Order(StringComparer.Ordinal))
            {
                var name = Path.GetFileName(dir);
                if (IsValidServingName(name))
                {
                    found.AddRange(_publisher.FindLeftovers(name, remove));
                }
            }
        }
        return found;
    }

    /// <summary>The version folders of <paramref name="servingName"/> under the serving root.</summary>
    public IReadOnlyList<long> GetPublishedVersions(string servingName)
    {
        ValidateServingName(servingName);
        return _publisher.GetPublishedVersions(servingName);
    }

    /// <summary>Every model_config_list entry of the config file (managed or not), for consistency checks.</summary>
    public async Task<IReadOnlyList<DeployedModel>> GetDeployedVersionsAsync(CancellationToken cancellationToken = default)
    {
        var doc = await _config.ReadAsync(cancellationToken);
        return doc.Models.Where(m => m.Name is not null).Select(ToDeployedModel).ToList();
    }

    /// <inheritdoc />
    public void Dispose() => _ownedHttpClient?.Dispose();

    /// <summary>
    /// Undoes a deploy: when nobody wrote the config since our last write, the original text goes back
    /// byte for byte; otherwise only what this deploy added is taken out (concurrent changes stay).
    /// </summary>
    private async Task RollbackAsync(string servingName, long version, DeployUndo undo, Exception cause)
    {
        try
        {
            var restored = undo.LastWritten is { } last && undo.Original is { } original
                && await _config.RestoreIfUnchangedAsync(last, original, CancellationToken.None);
            if (!restored && undo.LastWritten is not null)
            {
                await _config.UpdateAsync(doc => Undo(doc, servingName, version, undo), CancellationToken.None);
            }

            if (undo.AddedVersion)
            {
                _publisher.Unpublish(servingName, version);
            }
        }
        catch (Exception e) when (e is TensorFlowServingException or IOException or UnauthorizedAccessException)
        {
            throw new TensorFlowServingException(
                TensorFlowServingErrorKind.Io,
                $"{cause.Message} Undoing the deploy also failed, the config may still list version {version} of {servingName}: {(e is TensorFlowServingException ? e.Message : FileSystemErrors.Reason(e))}",
                new AggregateException(cause, e))
            {
                ServerMessage = (cause as TensorFlowServingException)?.ServerMessage,
            };
        }
    }

    private static bool Undo(ModelServerConfigDocument doc, string servingName, long version, DeployUndo undo)
    {
        var entry = doc.Find(servingName);
        if (entry is null)
        {
            return false;
        }

        if (undo.LabelRestore is { } restore && entry.Labels.TryGetValue(restore.Label, out var now) && now == version)
        {
            if (restore.Previous is { } previous && entry.HasVersion(previous))
            {
                entry.SetLabel(restore.Label, previous);
            }
            else
            {
                entry.RemoveLabel(restore.Label);
            }
        }

        if (undo.AddedVersion)
        {
            entry.RemoveLabelsPointingTo(version);
            entry.RemoveSpecificVersion(version);
        }

        if (undo.CreatedEntry && entry.SpecificVersions.Count == 0 && entry.Labels.Count == 0)
        {
            doc.RemoveModel(servingName);
        }

        return true;
    }

    /// <summary>What a deploy changed, to undo it.</summary>
    private sealed class DeployUndo
    {
        public bool CreatedEntry { get; set; }

        public bool AddedVersion { get; set; }

        public (string Label, long? Previous)? LabelRestore { get; set; }

        /// <summary>The config text before this deploy's first write (null: there was no file).</summary>
        public string? Original { get; private set; }

        /// <summary>The text of this deploy's last write; null when it wrote nothing.</summary>
        public string? LastWritten { get; private set; }

        public void Record(string? textBefore, string? textWritten)
        {
            if (textWritten is null)
            {
                return;
            }

            if (LastWritten is null)
            {
                Original = textBefore;
            }

            LastWritten = textWritten;
        }
    }

    private DeployedModel ToDeployedModel(ModelConfigEntry entry)
    {
        var name = entry.Name ?? string.Empty;
        var basePath = entry.BasePath ?? string.Empty;
        var managed = IsValidServingName(name) && SamePath(basePath, ServerBasePath(name));
        return new DeployedModel(name, basePath, entry.SpecificVersions.Order().ToList(), entry.Labels, managed);
    }

    /// <summary>A model's base_path as the config gives it to TF Serving (see <see cref="TensorFlowServingOptions.ServerServingRoot"/>).</summary>
    private string ServerBasePath(string servingName) =>
        _options.ServerServingRoot is { Length: > 0 } root
            ? root.TrimEnd('/') + "/" + servingName
            : _publisher.GetModelBasePath(servingName);

    private static void EnsureManageable(ModelConfigEntry entry, string basePath)
    {
        if (entry.BasePath is { } configured && !SamePath(configured, basePath))
        {
            throw new TensorFlowServingException(
                TensorFlowServingErrorKind.ConfigInvalid,
                $"The TensorFlow Serving config already has a model '{entry.Name}' with base_path '{configured}', not '{basePath}'; it is not managed here.");
        }

        if (entry.ModelPlatform is { } platform && platform != ModelPlatform)
        {
            throw new TensorFlowServingException(
                TensorFlowServingErrorKind.ConfigInvalid,
                $"The TensorFlow Serving config has model '{entry.Name}' on platform '{platform}', not '{ModelPlatform}'.");
        }

        if (entry.VersionPolicyKind is { } policy && policy != "specific")
        {
            throw new TensorFlowServingException(
                TensorFlowServingErrorKind.ConfigInvalid,
                $"The TensorFlow Serving config serves model '{entry.Name}' with the '{policy}' version policy; only 'specific' versions can be managed.");
        }
    }

    private static bool SamePath(string a, string b) =>
        string.Equals(Path.TrimEndingDirectorySeparator(a), Path.TrimEndingDirectorySeparator(b), StringComparison.Ordinal);

    private static bool IsValidServingName(string name) =>
        ServingNameRegex().IsMatch(name) && Encoding.UTF8.GetByteCount(name) <= MaxServingNameBytes;

    private static void ValidateServingName(string servingName)
    {
        if (servingName is null || !IsValidServingName(servingName))
        {
            throw new TensorFlowServingException(
                TensorFlowServingErrorKind.InvalidArgument,
                $"'{servingName}' is not a valid serving name: use letters, digits, '_', '.' and '-', starting with a letter or digit, at most {MaxServingNameBytes} UTF-8 bytes.");
        }
    }

    private static void ValidateVersion(int version)
    {
        if (version < 1)
        {
            throw new TensorFlowServingException(
                TensorFlowServingErrorKind.InvalidArgument,
                $"Version {version.ToString(CultureInfo.InvariantCulture)} is not valid: versions start at 1.");
        }
    }

    private static void ValidateLabel(string label)
    {
        // TensorFlow Serving has no rule on a label's characters: version_labels is a
        // map<string, int64> (config/model_server_config.proto), and the REST routes match a label
        // as [^/:]+ and URL-decode it (model_servers/http_rest_api_util.cc), so any label can be
        // addressed once URL-encoded. What is left: a proto3 string is UTF-8, so a label must be
        // Unicode text to be written as it is (a lone surrogate would become U+FFFD), and an empty
        // one cannot be addressed (the REST API reads an empty label as none).
        if (label.Length == 0)
        {
            throw new TensorFlowServingException(TensorFlowServingErrorKind.InvalidArgument, "A version label must not be empty.");
        }

        if (HasLoneSurrogate(label))
        {
            throw new TensorFlowServingException(
                TensorFlowServingErrorKind.InvalidArgument,
                "A version label must be Unicode text: it holds a lone surrogate, which UTF-8 (and so the config file) cannot carry.");
        }
    }

    [GeneratedRegex(@"^[\p{L}\p{Nd}][\p{L}\p{Nd}_.\-]*\z")]
    private static partial Regex ServingNameRegex();

    private static bool HasLoneSurrogate(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                return true;
            }
        }

        return false;
    }
}
