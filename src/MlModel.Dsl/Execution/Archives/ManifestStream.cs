using MlModel.Dsl.Backends;

namespace MlModel.Dsl.Execution.Archives;

/// <summary>
/// A sha256sum-style manifest (<c>hash  path\n</c> per file) produced line by line as it is
/// read: for 100,000 files the whole text would be about 9 MB of UTF-8, twice that as a string.
/// </summary>
/// <remarks>Like <see cref="HashingStream"/>, it reports a fixed <see cref="Length"/> for the tar writer and never seeks.</remarks>
internal sealed class ManifestStream : ReadOnlyStream
{
    private readonly IReadOnlyList<ModelFile> _files;
    private readonly byte[] _line = new byte[1024];
    private int _next;
    private int _lineStart;
    private int _lineEnd;
    private byte[]? _long;
    private long _position;

    public ManifestStream(IReadOnlyList<ModelFile> files)
    {
        _files = files;
        foreach (var file in files)
        {
            Length += LineLength(file);
        }
    }

    private static int LineLength(ModelFile file) =>
        System.Text.Encoding.UTF8.GetByteCount(file.Sha256) + 2 + System.Text.Encoding.UTF8.GetByteCount(file.Path) + 1;

    public override bool CanSeek => true;
    public override long Length { get; }
    public override long Position { get => _position; set => throw new NotSupportedException(); }

    public override int Read(Span<byte> buffer)
    {
        var total = 0;
        while (buffer.Length > 0)
        {
            if (_lineStart == _lineEnd && !NextLine())
            {
                break;
            }
            var source = (_long ?? _line).AsSpan(_lineStart, _lineEnd - _lineStart);
            var n = Math.Min(source.Length, buffer.Length);
            source[..n].CopyTo(buffer);
            buffer = buffer[n..];
            _lineStart += n;
            total += n;
        }
        _position += total;
        return total;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Task.FromResult(Read(buffer.AsSpan(offset, count)));

    private bool NextLine()
    {
        if (_next == _files.Count)
        {
            return false;
        }
        var file = _files[_next++];
        var length = LineLength(file);
        // A path too long for the usual buffer gets one of its own, for that line only.
        _long = length > _line.Length ? new byte[length] : null;
        var line = (_long ?? _line).AsSpan(0, length);
        var n = System.Text.Encoding.UTF8.GetBytes(file.Sha256, line);
        line[n++] = (byte)' ';
        line[n++] = (byte)' ';
        n += System.Text.Encoding.UTF8.GetBytes(file.Path, line[n..]);
        line[n] = (byte)'\n';
        _lineStart = 0;
        _lineEnd = length;
        return true;
    }

    // The tar writer may ask to be where it already is; nothing else.
    public override long Seek(long offset, SeekOrigin origin) =>
        offset == _position && origin == SeekOrigin.Begin ? _position : throw new NotSupportedException();
}
