using System.Formats.Tar;
using MlModel.Dsl.Backends;

namespace MlModel.Dsl.Execution.Archives;

/// <summary>The result of storing a model's files.</summary>
/// <param name="Files">The manifest, paths relative to <see cref="Root"/>.</param>
/// <param name="Root">The folder inside the version's prefix that holds the model ("" or "top/").</param>
/// <param name="Facts">What the layout tells about the model.</param>
/// <param name="TotalBytes">Sum of the file sizes.</param>
internal sealed record StoredModel(IReadOnlyList<ModelFile> Files, string Root, LayoutFacts Facts, long TotalBytes);

/// <summary>
/// Streams a model archive (tar, plain or compressed with gzip, bzip2, xz or zstd, or zip, told
/// apart by their magic bytes) into the model store through a write batch: each entry is checked
/// before a byte of it is written, hashed while it is written, and the whole is validated against
/// its format at the end. Every container passes the same checks (<see cref="ArchiveNames"/>, the
/// limits, links, duplicates). The caller commits the batch; on any failure it deletes the
/// version's prefix, so nothing stays behind.
/// </summary>
internal sealed partial class ModelArchiveReader(IObjectWriteBatch target, string keyPrefix, ModelFormat format, ArchiveLimits limits)
{
    /// <summary>Bytes read between two progress reports: often enough for a progress bar, rarely enough to cost nothing.</summary>
    private const long ProgressStep = 1 << 20;

    /// <summary>
    /// The largest manifest checked (a larger one is stored as a model file): our export's manifest
    /// of 100,000 files with 100-byte paths takes 17 MB. It was 1 MiB, which a model of some 12,000
    /// files passes, so their round trip stored the manifest as a model file.
    /// </summary>
    private const int MaxManifestBytes = 24 << 20;

    /// <summary>
    /// The most of Spark metadata part files kept for the layout check (each up to 1 MiB): a
    /// pipeline's stages take a few kilobytes each; this bounds an archive of many such files.
    /// </summary>
    private const long MaxSparkMetadataBytes = 16 << 20;

    /// <summary>
    /// A file stored (or our export's manifest, with no hash); its hash arrives from the pipeline.
    /// A struct inside the dictionary's entry, with the path as the key: an import holds one per
    /// file until its end, so every object per file counts (about 1.5 KB per file before).
    /// </summary>
    private readonly record struct StoredFile(long Size, PendingSha256? Hash);

    private readonly Dictionary<string, StoredFile> _files = new(StringComparer.Ordinal);
    private readonly HashSet<string> _directories = new(StringComparer.Ordinal);
    private readonly Dictionary<string, byte[]> _heads = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _sparkMetadata = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SavedModelFacts> _savedModels = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _parquetProblems = new(StringComparer.Ordinal);
    private readonly SavedModelReader.Budget _savedModelBudget = new();
    private long _sparkMetadataBytes;
    private byte[]? _manifest;
    private int _entries;
    private long _totalBytes;

    /// <summary>Files stored so far, for progress reports.</summary>
    private int _stored;

    /// <summary>Reads the archive and stores its files under <c>keyPrefix</c>. The reader can be used once.</summary>
    public async Task<StoredModel> ReadArchiveAsync(Stream source, long? sourceLength, IProgress<TransferProgress>? progress, CancellationToken cancellationToken)
    {
        long reported = 0;
        Action<long>? report = progress is null ? null : n =>
        {
            if (n - reported >= ProgressStep || n == sourceLength)
            {
                reported = n;
                progress.Report(new TransferProgress("import", n, sourceLength, _stored));
            }
        };
        var raw = new CountingStream(source, report);
        var (peeked, head, headLength) = await PrefixedStream.PeekAsync(raw, ArchiveFormats.MagicLength, cancellationToken);
        if (headLength == 0)
        {
            throw new ArchiveException("the archive is empty (0 bytes)");
        }
        var container = ArchiveFormats.Detect(head.AsSpan(0, headLength));
        using var hashes = new Sha256Pipeline();
        if (container == ArchiveFormat.Zip)
        {
            await ReadZipAsync(source, peeked, raw, report, hashes, cancellationToken);
        }
        else
        {
            await ReadTarAsync(container, peeked, raw, hashes, cancellationToken);
        }
        return await FinishAsync(hashes, cancellationToken);
    }

    /// <summary>Reads a tar, plain or compressed, as it streams by.</summary>
    private async Task ReadTarAsync(ArchiveFormat container, Stream peeked, CountingStream raw, Sha256Pipeline hashes, CancellationToken cancellationToken)
    {
        var compressed = container != ArchiveFormat.Tar;
        var label = ArchiveFormats.Label(container);
        var tarStream = compressed
            ? new DecompressedStream(() => ArchiveFormats.Decompress(container, peeked), label, () => raw.Faulted)
            : peeked;
        // Expanded bytes are counted as they are decompressed, so a bomb stops at the limit.
        var expanded = new CountingStream(tarStream, limit: limits.MaxExpandedBytes + (_entries + 2) * 1024L,
            overLimit: () => new ArchiveException($"the archive expands to more than the limit of {limits.MaxExpandedBytes:N0} bytes"));
        var tar = new CheckedTarStream(expanded, compressed
            ? $"its {label} data does not hold a tar archive, or is corrupt: the first 512 bytes it expands to are not a tar header"
            : $"it is not {ArchiveFormats.Accepted}: its first 512 bytes are not a tar header");

        await using var reader = new TarReader(tar, leaveOpen: false);
        while (true)
        {
            TarEntry? entry;
            try
            {
                entry = await reader.GetNextEntryAsync(copyData: false, cancellationToken);
            }
            catch (Exception e) when (e is not (ArchiveException or OperationCanceledException) && !raw.Faulted
                && e is FormatException or EndOfStreamException or ArgumentException or InvalidDataException
                    or NotSupportedException or InvalidOperationException or OverflowException)
            {
                // A header that passed its checksum but that TarReader cannot read (a mode or time
                // field that is not a number, an unknown format): its own words would not help.
                throw new ArchiveException($"entry '{tar.CurrentName}' has a tar header that cannot be read (the archive is damaged or not made by a tar program)", e);
            }
            if (entry is null)
            {
                break;
            }
            if (++_entries > limits.MaxEntries)
            {
                throw new ArchiveException($"the archive has more than the limit of {limits.MaxEntries:N0} entries");
            }
            var path = ArchiveNames.Check(entry.Name, keyPrefix, limits);
            var shown = ArchiveNames.Show(entry.Name);
            switch (entry.EntryType)
            {
                case TarEntryType.Directory:
                    InStep(tar, entry, shown);
                    if (path.Length > 0)
                    {
                        AddDirectory(path);
                    }
                    continue;
                case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                    InStep(tar, entry, shown);
                    break;
                case TarEntryType.SymbolicLink or TarEntryType.HardLink:
                    throw new ArchiveException($"entry '{shown}' is a {(entry.EntryType == TarEntryType.HardLink ? "hard" : "symbolic")} link (to '{ArchiveNames.Show(entry.LinkName)}'); model archives may hold only files and folders");
                case TarEntryType.CharacterDevice or TarEntryType.BlockDevice or TarEntryType.Fifo:
                    throw new ArchiveException($"entry '{shown}' is a device file or FIFO; model archives may hold only files and folders");
                default:
                    throw new ArchiveException($"entry '{shown}' has an unsupported tar entry type ({entry.EntryType}); model archives may hold only files and folders");
            }
            if (path.Length == 0)
            {
                throw new ArchiveException($"entry '{shown}' has no file name");
            }
            var data = entry.DataStream ?? Stream.Null;
            await StoreFileAsync(path, data, entry.Length, hashes, cancellationToken);
            _stored++;
        }
        if (compressed)
        {
            // TarReader stops at the first end-of-archive block; a compression checks its CRC
            // (gzip, xz, zstd) or its stream's end (bzip2) only at its end.
            await tar.DrainAsync(cancellationToken);
        }
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
                throw new ArchiveException($"'{ArchiveNames.Show(Path.GetRelativePath(root, file))}' is a link; model folders may hold only files and folders");
            }
            if (++_entries > limits.MaxEntries)
            {
                throw new ArchiveException($"the folder has more than the limit of {limits.MaxEntries:N0} files");
            }
            var path = ArchiveNames.Check(Path.GetRelativePath(root, file).Replace(Path.DirectorySeparatorChar, '/'), keyPrefix, limits);
            await using var stream = File.OpenRead(file);
            await StoreFileAsync(path, stream, info.Length, hashes, cancellationToken);
        }
        return await FinishAsync(hashes, cancellationToken);
    }

    /// <summary>Refuses an entry that TarReader read from elsewhere than where <see cref="CheckedTarStream"/> checked a header.</summary>
    private static void InStep(CheckedTarStream tar, TarEntry entry, string shown)
    {
        if (!tar.IsAt(entry.Length))
        {
            throw new ArchiveException($"entry '{shown}' has a tar header that cannot be read unambiguously (the archive is damaged or crafted)");
        }
    }

    private async Task StoreFileAsync(string path, Stream data, long length, Sha256Pipeline hashes, CancellationToken cancellationToken)
    {
        if (_files.ContainsKey(path))
        {
            throw new ArchiveException($"the archive holds '{path}' twice");
        }
        if (_directories.Contains(path))
        {
            throw new ArchiveException($"'{path}' is both a folder and a file in the archive");
        }
        var byPrefix = _files.GetAlternateLookup<ReadOnlySpan<char>>();
        for (var i = path.IndexOf('/'); i >= 0; i = path.IndexOf('/', i + 1))
        {
            if (byPrefix.ContainsKey(path.AsSpan(0, i)))
            {
                throw new ArchiveException($"'{path[..i]}' is both a file and a folder in the archive");
            }
        }
        if (length < 0)
        {
            throw new ArchiveException($"entry '{path}' has a negative size");
        }
        // A running total: summing the manifest for each entry made large archives quadratic.
        if (_totalBytes + length > limits.MaxExpandedBytes)
        {
            throw new ArchiveException($"the archive expands to more than the limit of {limits.MaxExpandedBytes:N0} bytes");
        }
        _totalBytes += length;

        AddDirectory(path.Contains('/') ? path[..path.LastIndexOf('/')] : "");
        // Spark's metadata (the model's and each pipeline stage's) is kept to be read at the end.
        var isSparkMetadata = format == ModelFormat.Spark && SparkMetadata.IsMetadataPart(path) && _sparkMetadataBytes < MaxSparkMetadataBytes;
        var isManifest = path.EndsWith(ModelLayout.ManifestFile, StringComparison.Ordinal);
        var headCapacity = isSparkMetadata || isManifest ? (int)Math.Min(length, 1 << 20) : 16;
        Func<string, Exception> truncated = why => new ArchiveException($"entry '{path}' is truncated: {why}");
        if (isManifest && length <= MaxManifestBytes)
        {
            // Our own export's manifest: checked against the files at the end, not stored as a model file.
            using var manifest = new HashingStream(data, length, null, truncated, headCapacity: 0);
            // Kept as UTF-8 (a string would double it) and parsed line by line at the end.
            var buffer = new byte[length];
            await manifest.ReadExactlyAsync(buffer, cancellationToken);
            _manifest = buffer;
            _files[path] = new StoredFile(-1, null);
            return;
        }
        // Hashed on the pipeline's thread while this one reads and writes.
        // saved_model.pb and parquet parts are checked as they stream by: read once, never held whole.
        IContentInspector? inspector = format switch
        {
            ModelFormat.SavedModel when path == ModelLayout.SavedModelFile || path.EndsWith("/" + ModelLayout.SavedModelFile, StringComparison.Ordinal)
                => new SavedModelInspector(length, _savedModelBudget),
            ModelFormat.Spark when path.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase) => new ParquetInspector(length),
            _ => null,
        };
        using var hashing = new HashingStream(data, length, null, truncated, headCapacity, hashes, inspector);
        await target.PutAsync(keyPrefix + path, hashing, length, cancellationToken);
        if (!hashing.IsComplete)
        {
            // The store stopped reading early (or never started, for an empty file): read the
            // rest, so that the file's hash ends here and not in the next file's.
            await hashing.CopyToAsync(Stream.Null, cancellationToken);
        }
        _files[path] = new StoredFile(length, hashing.Pending);
        if (path.EndsWith(".h5", StringComparison.OrdinalIgnoreCase))
        {
            _heads[path] = hashing.Head.ToArray(); // only an .h5 file's signature is checked
        }
        if (isSparkMetadata)
        {
            _sparkMetadata[path] = System.Text.Encoding.UTF8.GetString(hashing.Head);
            _sparkMetadataBytes += hashing.Head.Length;
        }
        switch (inspector)
        {
            case SavedModelInspector savedModel:
                _savedModels[path] = savedModel.Complete();
                break;
            case ParquetInspector parquet when parquet.Problem() is { } problem:
                _parquetProblems[path] = problem;
                break;
        }
    }

    private void AddDirectory(string path)
    {
        while (path.Length > 0 && _directories.Add(path))
        {
            if (_files.ContainsKey(path))
            {
                throw new ArchiveException($"'{path}' is both a file and a folder in the archive");
            }
            var slash = path.LastIndexOf('/');
            path = slash < 0 ? "" : path[..slash];
        }
    }

    private async Task<StoredModel> FinishAsync(Sha256Pipeline hashes, CancellationToken cancellationToken)
    {
        await hashes.CompleteAsync(cancellationToken);
        string? manifestPath = null;
        var full = new string[_files.Count];
        var count = 0;
        foreach (var (path, file) in _files)
        {
            if (file.Size < 0)
            {
                manifestPath = path;
            }
            else
            {
                full[count++] = path;
            }
        }
        if (count == 0)
        {
            throw new ArchiveException(_entries == 0 ? "the archive is empty: it holds no files" : "the archive holds folders but no files");
        }
        var paths = full.AsMemory(0, count);

        // Files at the root or under a single top folder, which is stripped (spec B.3); a
        // TensorFlow Serving style `model/1/saved_model.pb` is stripped down to the version folder.
        // The candidate roots are tried on views of the paths, without copies of them.
        var root = "";
        while (!ModelLayout.HasMarker(format, Relative(paths, root.Length)) && AllHaveSlash(paths, root.Length))
        {
            var p0 = paths.Span[0];
            var first = p0[root.Length..(p0.IndexOf('/', root.Length) + 1)];
            // One top folder of any name; below it, only a numeric (version) folder.
            if ((root.Length > 0 && !first[..^1].All(char.IsAsciiDigit)) || !AllStartWith(paths, root + first))
            {
                break;
            }
            root += first;
        }

        // The manifest handed to the repository: one compact entry per file, sorted by path.
        var entries = new CompactFileList.Entry[count];
        for (var i = 0; i < count; i++)
        {
            var file = _files[full[i]];
            entries[i] = new CompactFileList.Entry(root.Length == 0 ? full[i] : full[i][root.Length..], file.Size, file.Hash!.Hash);
        }
        Array.Sort(entries, static (a, b) => string.CompareOrdinal(a.Path, b.Path));
        var relative = new CompactFileList(entries);
        var relativePaths = new string[count];
        for (var i = 0; i < count; i++)
        {
            relativePaths[i] = entries[i].Path;
        }
        var facts = ModelLayout.Validate(format, relativePaths, new ModelContent(root, _heads, _sparkMetadata, _savedModels, _parquetProblems));

        if (manifestPath is not null && manifestPath == root + ModelLayout.ManifestFile)
        {
            CheckManifest(relative);
        }
        else if (manifestPath is not null)
        {
            throw new ArchiveException($"'{manifestPath}' is not at the model's root");
        }
        _files.Clear();
        _files.TrimExcess();
        return new StoredModel(relative, root, facts, relative.TotalBytes);
    }

    private static IEnumerable<string> Relative(ReadOnlyMemory<string> paths, int skip)
    {
        for (var i = 0; i < paths.Length; i++)
        {
            yield return skip == 0 ? paths.Span[i] : paths.Span[i][skip..];
        }
    }

    private static bool AllHaveSlash(ReadOnlyMemory<string> paths, int skip)
    {
        foreach (var p in paths.Span)
        {
            if (p.IndexOf('/', skip) < 0)
            {
                return false;
            }
        }
        return true;
    }

    private static bool AllStartWith(ReadOnlyMemory<string> paths, string prefix)
    {
        foreach (var p in paths.Span)
        {
            if (!p.StartsWith(prefix, StringComparison.Ordinal))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>An archive exported by us carries a sha256sum-style manifest: every line must match.</summary>
    private void CheckManifest(CompactFileList files)
    {
        var listed = 0;
        var text = _manifest.AsSpan();
        while (text.Length > 0)
        {
            var end = text.IndexOf((byte)'\n');
            var lineBytes = end < 0 ? text : text[..end];
            text = end < 0 ? default : text[(end + 1)..];
            if (lineBytes.IsEmpty)
            {
                continue;
            }
            var line = System.Text.Encoding.UTF8.GetString(lineBytes);
            var parts = line.Split("  ", 2);
            if (parts.Length != 2)
            {
                throw new ArchiveException($"{ModelLayout.ManifestFile} has a malformed line: '{line}'");
            }
            // The files are sorted by path: a binary search, not a dictionary of 100,000 entries.
            var index = files.IndexOf(parts[1]);
            if (index < 0)
            {
                throw new ArchiveException($"{ModelLayout.ManifestFile} lists '{parts[1]}', which the archive does not hold");
            }
            if (!string.Equals(files[index].Sha256, parts[0], StringComparison.OrdinalIgnoreCase))
            {
                throw new ArchiveException($"'{parts[1]}' does not match its SHA-256 in {ModelLayout.ManifestFile}: the archive is corrupt");
            }
            listed++;
        }
        if (listed != files.Count)
        {
            throw new ArchiveException($"the archive holds files that {ModelLayout.ManifestFile} does not list");
        }
    }
}


/// <summary>
/// A model's manifest, sorted by path, held as one array of compact entries (path, size and the
/// 32 bytes of the hash); each <see cref="ModelFile"/> is made when asked for, so 100,000 files
/// take about 10 MB rather than the 25 MB of as many records with hex strings.
/// </summary>
internal sealed class CompactFileList(CompactFileList.Entry[] entries) : IReadOnlyList<ModelFile>
{
    internal readonly record struct Entry(string Path, long Size, Sha256Bytes Hash);

    public int Count => entries.Length;

    public long TotalBytes => entries.Sum(e => e.Size);

    public ModelFile this[int index]
    {
        get
        {
            var e = entries[index];
            var hash = e.Hash;
            return new ModelFile(e.Path, e.Size, Convert.ToHexStringLower(hash));
        }
    }

    /// <summary>The index of <paramref name="path"/>, or a negative number.</summary>
    public int IndexOf(string path)
    {
        int lo = 0, hi = entries.Length - 1;
        while (lo <= hi)
        {
            var mid = lo + ((hi - lo) >> 1);
            var c = string.CompareOrdinal(entries[mid].Path, path);
            if (c == 0)
            {
                return mid;
            }
            if (c < 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        return -1;
    }

    public IEnumerator<ModelFile> GetEnumerator()
    {
        for (var i = 0; i < entries.Length; i++)
        {
            yield return this[i];
        }
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
