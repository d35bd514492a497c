namespace MlModel.Dsl.Execution.Archives;

/// <summary>
/// The base of the archive code's forward-only, read-only streams (counting, hashing, checking,
/// decompressing, the export's manifest): what none of them can do, said once. The two that report
/// a fixed length for the tar writer (<see cref="HashingStream"/>, <see cref="ManifestStream"/>)
/// also accept a seek to where they are.
/// </summary>
/// <remarks>
/// A subclass overrides <see cref="Stream.Read(Span{byte})"/> (the array overload forwards to it) or
/// the array overload itself; one that reports where it is, or its length, overrides those.
/// </remarks>
internal abstract class ReadOnlyStream : Stream
{
    public override bool CanRead => true;

    public override bool CanSeek => false;

    public sealed override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override void Flush() { }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
