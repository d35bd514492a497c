using System.Formats.Tar;
using System.IO.Compression;
using MlModel.Dsl.Backends;

namespace MlModel.Dsl.Execution.Archives;

/// <summary>The result of storing a model's files.</summary>
/// <param name="Files">The manifest, paths relative to <see cref="Root"/>.</param>
/// <param name="Root">The folder inside the version's prefix that holds the model ("" or "top/").</param>
/// <param name="Facts">What the layout tells about the model.</param>
/// <param name="TotalBytes">Sum of the file sizes.</param>
internal sealed record StoredModel(IReadOnlyList<ModelFile> Files, string Root, LayoutFacts Facts, long TotalBytes);

/// <summary>
/// Streams a model archive (tar, or gzip-compressed tar detected by its magic bytes) into the
/// model store through a write batch: each entry is checked before a byte of it is written,
/// hashed while it is written, and the whole is validated against its format at the end. The
/// caller commits the batch; on any failure it deletes the version's prefix, so nothing stays behind.
/// </summary>
internal sealed class ModelArchiveReader(IObjectWriteBatch target, string keyPrefix, ModelFormat format, ArchiveLimits limits)
{
    /// <summary>Bytes read between two progress reports: often enough for a progress bar, rarely enough to cost nothing.</summary>
    private const long ProgressStep = 1 << 20;

    /// <summary>A file stored (or our export's manifest, with no hash); its hash arrives from the pipeline.</summary>
    private sealed record StoredFile(string Path, long Size, PendingSha256? Hash);

    private readonly Dictionary<string, StoredFile> _files = new(StringComparer.Ordinal);
    private readonly HashSet<string> _directories = new(StringComparer.Ordinal);
    private readonly Dictionary<string, byte[]> _heads = new(StringComparer.Ordinal);
    private string? _sparkMetadata;
    private string? _manifestText;
    private int _entries;
    private long _totalBytes;

    /// <summary>Reads the archive and stores its files under <c>keyPrefix</c>. The reader can be used once.</summary>
    public async Task<StoredModel> ReadArchiveAsync(Stream source, long? sourceLength, IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        var files = 0;
        long reported = 0;
        var raw = new CountingStream(source, progress is null ? null : n =>
        {
            if (n - reported >= ProgressStep || n == sourceLength)
            {
                reported = n;
                progress.Report(new TransferProgress("import", n, sourceLength, files));
            }
        });
        var (peeked, head, headLength) = await PrefixedStream.PeekAsync(raw, 2, cancellationToken);
        if (headLength == 0)
        {
            throw new InvalidDataException("the archive is empty (0 bytes)");
        }
        Stream tarStream = headLength == 2 && head[0] == 0x1f && head[1] == 0x8b
            ? new GZipStream(peeked, CompressionMode.Decompress)
            : peeked;
        // Expanded bytes are counted as they are decompressed, so a gzip bomb stops at the limit.
        var expanded = new CountingStream(tarStream, limit: limits.MaxExpandedBytes + (_entries + 2) * 1024L,
            overLimit: () => new InvalidDataException($"the archive expands to more than the limit of {limits.MaxExpandedBytes:N0} bytes"));

        using var hashes = new Sha256Pipeline();
        await using var reader = new TarReader(expanded, leaveOpen: false);
        while (true)
        {
            TarEntry? entry;
            try
            {
                entry = await reader.GetNextEntryAsync(copyData: false, cancellationToken);
            }
            catch (Exception e) when (e is FormatException or EndOfStreamException or ArgumentException)
            {
                throw new InvalidDataException($"the archive is not a valid tar, or is truncated or corrupt, after {_entries} entries ({e.Message})");
            }
            if (entry is null)
            {
                break;
            }
            if (++_entries > limits.MaxEntries)
            {
                throw new InvalidDataException($"the archive has more than the limit of {limits.MaxEntries:N0} entries");
            }
            var path = NormalisePath(entry.Name);
            switch (entry.EntryType)
            {
                case TarEntryType.Directory:
                    if (path.Length > 0)
                    {
                        AddDirectory(path);
                    }
                    continue;
                case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                    break;
                case TarEntryType.SymbolicLink or TarEntryType.HardLink:
                    throw new InvalidDataException($"entry '{entry.Name}' is a {(entry.EntryType == TarEntryType.HardLink ? "hard" : "symbolic")} link (to '{entry.LinkName}'); model archives may hold only files and folders");
                case TarEntryType.CharacterDevice or TarEntryType.BlockDevice or TarEntryType.Fifo:
                    throw new InvalidDataException($"entry '{entry.Name}' is a device file or FIFO; model archives may hold only files and folders");
                default:
                    throw new InvalidDataException($"entry '{entry.Name}' has an unsupported tar entry type ({entry.EntryType}); model archives may hold only files and folders");
            }
            if (path.Length == 0)
            {
                throw new InvalidDataException($"entry '{entry.Name}' has no file name");
            }
            var data = entry.DataStream ?? Stream.Null;
            await StoreFileAsync(path, data, entry.Length, hashes, cancellationToken);
            files++;
        }
        return await FinishAsync(hashes, cancellationToken);
    }

    /// <summary>Stores the files of a local folder (models registered by the host's fit). The reader can be used once.</summary>
    public async Task<StoredModel> ReadFolderAsync(string folder, CancellationToken cancellationToken)
    {
        using var hashes = new Sha256Pipeline();
        var root = Path.GetFullPath(folder);
        foreach (var file in Directory.EnumerateFiles(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
        {
            var info = new FileInfo(file);
            if (info.LinkTarget is not null)
            {
                throw new InvalidDataException($"'{Path.GetRelativePath(root, file)}' is a link; model folders may hold only files and folders");
            }
            if (++_entries > limits.MaxEntries)
            {
                throw new InvalidDataException($"the folder has more than the limit of {limits.MaxEntries:N0} files");
            }
            var path = NormalisePath(Path.GetRelativePath(root, file).Replace(Path.DirectorySeparatorChar, '/'));
            await using var stream = File.OpenRead(file);
            await StoreFileAsync(path, stream, info.Length, hashes, cancellationToken);
        }
        return await FinishAsync(hashes, cancellationToken);
    }

    private async Task StoreFileAsync(string path, Stream data, long length, Sha256Pipeline hashes, CancellationToken cancellationToken)
    {
        if (_files.ContainsKey(path))
        {
            throw new InvalidDataException($"the archive holds '{path}' twice");
        }
        if (_directories.Contains(path))
        {
            throw new InvalidDataException($"'{path}' is both a folder and a file in the archive");
        }
        var byPrefix = _files.GetAlternateLookup<ReadOnlySpan<char>>();
        for (var i = path.IndexOf('/'); i >= 0; i = path.IndexOf('/', i + 1))
        {
            if (byPrefix.ContainsKey(path.AsSpan(0, i)))
            {
                throw new InvalidDataException($"'{path[..i]}' is both a file and a folder in the archive");
            }
        }
        if (length < 0)
        {
            throw new InvalidDataException($"entry '{path}' has a negative size");
        }
        // A running total: summing the manifest for each entry made large archives quadratic.
        if (_totalBytes + length > limits.MaxExpandedBytes)
        {
            throw new InvalidDataException($"the archive expands to more than the limit of {limits.MaxExpandedBytes:N0} bytes");
        }
        _totalBytes += length;

        AddDirectory(path.Contains('/') ? path[..path.LastIndexOf('/')] : "");
        var isSparkMetadata = path.Contains("metadata/part-", StringComparison.Ordinal) && _sparkMetadata is null;
        var isManifest = path.EndsWith(ModelLayout.ManifestFile, StringComparison.Ordinal);
        var headCapacity = isSparkMetadata || isManifest ? (int)Math.Min(length, 1 << 20) : 16;
        Func<string, Exception> truncated = why => new InvalidDataException($"entry '{path}' is truncated: {why}");
        if (isManifest && length <= 1 << 20)
        {
            // Our own export's manifest: checked against the files at the end, not stored as a model file.
            using var manifest = new HashingStream(data, length, null, truncated, headCapacity);
            var buffer = new byte[length];
            await manifest.ReadExactlyAsync(buffer, cancellationToken);
            _manifestText = System.Text.Encoding.UTF8.GetString(buffer);
            _files[path] = new StoredFile(path, -1, null);
            return;
        }
        // Hashed on the pipeline's thread while this one reads and writes.
        using var hashing = new HashingStream(data, length, null, truncated, headCapacity, hashes);
        await target.PutAsync(keyPrefix + path, hashing, length, cancellationToken);
        if (!hashing.IsComplete)
        {
            // The store stopped reading early (or never started, for an empty file): read the
            // rest, so that the file's hash ends here and not in the next file's.
            await hashing.CopyToAsync(Stream.Null, cancellationToken);
        }
        _files[path] = new StoredFile(path, length, hashing.Pending);
        if (path.EndsWith(".h5", StringComparison.OrdinalIgnoreCase))
        {
            _heads[path] = hashing.Head.ToArray(); // only an .h5 file's signature is checked
        }
        if (isSparkMetadata)
        {
            _sparkMetadata = System.Text.Encoding.UTF8.GetString(hashing.Head);
        }
    }

    private void AddDirectory(string path)
    {
        while (path.Length > 0 && _directories.Add(path))
        {
            if (_files.ContainsKey(path))
            {
                throw new InvalidDataException($"'{path}' is both a file and a folder in the archive");
            }
            var slash = path.LastIndexOf('/');
            path = slash < 0 ? "" : path[..slash];
        }
    }

    private async Task<StoredModel> FinishAsync(Sha256Pipeline hashes, CancellationToken cancellationToken)
    {
        await hashes.CompleteAsync(cancellationToken);
        var manifestPath = _files.Values.FirstOrDefault(f => f.Size < 0)?.Path;
        var real = _files.Values.Where(f => f.Size >= 0).Select(f => new ModelFile(f.Path, f.Size, f.Hash!.Sha256!)).ToList();
        if (real.Count == 0)
        {
            throw new InvalidDataException(_entries == 0 ? "the archive is empty: it holds no files" : "the archive holds folders but no files");
        }

        // Files at the root or under a single top folder, which is stripped (spec B.3); a
        // TensorFlow Serving style `model/1/saved_model.pb` is stripped down to the version folder.
        var root = "";
        var paths = real.Select(f => f.Path).ToList();
        while (!ModelLayout.HasMarker(format, paths) && paths.All(p => p.Contains('/')))
        {
            var first = paths[0][..(paths[0].IndexOf('/') + 1)];
            // One top folder of any name; below it, only a numeric (version) folder.
            if ((root.Length > 0 && !first[..^1].All(char.IsAsciiDigit)) || !paths.All(p => p.StartsWith(first, StringComparison.Ordinal)))
            {
                break;
            }
            root += first;
            paths = paths.Select(p => p[first.Length..]).ToList();
        }

        var relative = real.Select(f => f with { Path = f.Path[root.Length..] }).OrderBy(f => f.Path, StringComparer.Ordinal).ToList();
        var facts = ModelLayout.Validate(format, paths, p => _heads.TryGetValue(root + p, out var h) ? h : null, _sparkMetadata);

        if (manifestPath is not null && manifestPath == root + ModelLayout.ManifestFile)
        {
            CheckManifest(relative);
        }
        else if (manifestPath is not null)
        {
            throw new InvalidDataException($"'{manifestPath}' is not at the model's root");
        }
        return new StoredModel(relative, root, facts, relative.Sum(f => f.Size));
    }

    /// <summary>An archive exported by us carries a sha256sum-style manifest: every line must match.</summary>
    private void CheckManifest(List<ModelFile> files)
    {
        var byPath = files.ToDictionary(f => f.Path, StringComparer.Ordinal);
        var listed = 0;
        foreach (var line in _manifestText!.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split("  ", 2);
            if (parts.Length != 2)
            {
                throw new InvalidDataException($"{ModelLayout.ManifestFile} has a malformed line: '{line}'");
            }
            if (!byPath.TryGetValue(parts[1], out var file))
            {
                throw new InvalidDataException($"{ModelLayout.ManifestFile} lists '{parts[1]}', which the archive does not hold");
            }
            if (!string.Equals(file.Sha256, parts[0], StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidDataException($"'{parts[1]}' does not match its SHA-256 in {ModelLayout.ManifestFile}: the archive is corrupt");
            }
            listed++;
        }
        if (listed != files.Count)
        {
            throw new InvalidDataException($"the archive holds files that {ModelLayout.ManifestFile} does not list");
        }
    }

    /// <summary>
    /// An entry name as a safe relative path: '/'-separated, no '.' segments, and never
    /// absolute, '..', empty-segment, backslash or NUL (those are refused, not repaired).
    /// </summary>
    internal static string NormalisePath(string name)
    {
        if (name.Length == 0)
        {
            return "";
        }
        if (name[0] == '/' || name.Contains('\\') || name.Contains('\0') || (name.Length > 1 && name[1] == ':'))
        {
            throw new InvalidDataException($"entry '{Printable(name)}' has an absolute or unsafe path");
        }
        var segments = new List<string>();
        foreach (var segment in name.Split('/'))
        {
            if (segment is "" or ".")
            {
                continue; // "./x", "dir/" and "a//b" are harmless spellings
            }
            if (segment == "..")
            {
                throw new InvalidDataException($"entry '{Printable(name)}' climbs out of the archive with '..'");
            }
            segments.Add(segment);
        }
        return string.Join('/', segments);
    }

    private static string Printable(string s) => new(s.Select(c => char.IsControl(c) ? '?' : c).ToArray());
}
