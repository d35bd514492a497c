using System.Buffers.Binary;

namespace MlModel.Dsl.Execution.Archives;

/// <summary>
/// Sees a file's bytes as they stream into the model store (<see cref="HashingStream"/> hands
/// them over), to check its format without reading it twice. Never throws: what it finds is
/// asked for once the file is stored.
/// </summary>
internal interface IContentInspector
{
    void Append(ReadOnlySpan<byte> data);
}

/// <summary><see cref="SavedModelReader"/> as an inspector.</summary>
internal sealed class SavedModelInspector(long length, SavedModelReader.Budget budget) : IContentInspector
{
    private readonly SavedModelReader _reader = new(length, budget);

    public void Append(ReadOnlySpan<byte> data) => _reader.Append(data);

    public SavedModelFacts Complete() => _reader.Complete();
}

/// <summary>
/// Checks that a file is parquet by its frame (Apache Parquet's format: <c>PAR1</c>, the
/// column chunks, the footer, the footer's length as 4 bytes little-endian, <c>PAR1</c>), which
/// is what Spark reads first; the footer itself (thrift) is not decoded. Keeps 12 bytes.
/// </summary>
internal sealed class ParquetInspector(long length) : IContentInspector
{
    /// <summary>Magic + footer length + magic: the smallest file that can hold a footer.</summary>
    private const int Frame = 12;

    private static ReadOnlySpan<byte> Magic => "PAR1"u8;

    private readonly byte[] _head = new byte[4];
    private readonly byte[] _tail = new byte[8];
    private long _offset;

    public void Append(ReadOnlySpan<byte> data)
    {
        // Bytes [0, 4) and [length - 8, length) of the file, wherever the chunks fall.
        for (long i = Math.Max(_offset, 0); i < Math.Min(_offset + data.Length, 4); i++)
        {
            _head[i] = data[(int)(i - _offset)];
        }
        var tailStart = length - 8;
        for (var i = Math.Max(_offset, tailStart); i < _offset + data.Length; i++)
        {
            if (i >= 0)
            {
                _tail[i - tailStart] = data[(int)(i - _offset)];
            }
        }
        _offset += data.Length;
    }

    /// <summary>What is wrong (words after "is not a parquet file: "), or null.</summary>
    public string? Problem()
    {
        if (length < Frame)
        {
            return $"it has {length} bytes, fewer than the {Frame} of the smallest parquet file";
        }
        if (!_head.AsSpan().SequenceEqual(Magic))
        {
            return "it does not start with PAR1";
        }
        if (!_tail.AsSpan(4).SequenceEqual(Magic))
        {
            return "it does not end with PAR1";
        }
        var footer = BinaryPrimitives.ReadUInt32LittleEndian(_tail);
        if (footer == 0 || footer > length - Frame)
        {
            return $"its footer length ({footer} bytes) does not fit in its {length} bytes";
        }
        return null;
    }
}

/// <summary>
/// What the archive reader kept of the files' content for the layout checks, looked up by path
/// relative to the model's root: a few bytes of .h5 files, Spark's metadata part files, what
/// saved_model.pb files hold, and the parquet files that are not parquet.
/// </summary>
internal sealed class ModelContent(
    string root,
    IReadOnlyDictionary<string, byte[]> heads,
    IReadOnlyDictionary<string, string> sparkMetadata,
    IReadOnlyDictionary<string, SavedModelFacts> savedModels,
    IReadOnlyDictionary<string, string> parquetProblems)
{
    /// <summary>Nothing kept (a format with nothing to look into).</summary>
    public static ModelContent Empty { get; } = new("", new Dictionary<string, byte[]>(), new Dictionary<string, string>(), new Dictionary<string, SavedModelFacts>(), new Dictionary<string, string>());

    /// <summary>The first bytes of an .h5 file.</summary>
    public ReadOnlyMemory<byte>? Head(string path) => heads.TryGetValue(root + path, out var h) ? h : null;

    /// <summary>The text of a Spark metadata part file, when it was kept.</summary>
    public string? SparkMetadata(string path) => sparkMetadata.GetValueOrDefault(root + path);

    /// <summary>What a saved_model.pb holds.</summary>
    public SavedModelFacts? SavedModel(string path) => savedModels.GetValueOrDefault(root + path);

    /// <summary>The first parquet file (by path) that is not parquet, and why.</summary>
    public (string Path, string Problem)? BadParquet() =>
        parquetProblems
            .Where(p => p.Key.StartsWith(root, StringComparison.Ordinal))
            .OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => ((string Path, string Problem)?)(p.Key[root.Length..], p.Value))
            .FirstOrDefault();
}
