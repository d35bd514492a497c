namespace MlModel.Dsl.Execution.Archives;

/// <summary>
/// The base of the archive code's forward-only, read-only streams (counting, hashing, checking,
/// decompressing, the export's manifest): what none of them can do, said once. The two that report
/// a fixed length for the tar writer (<see cref="HashingStream"/>, <see cref="ManifestStream"/>)
/// also accept a seek to where they are.
/// </summary>
internal abstract class ReadOnlyStream : Stream
{
    public override void Flush() { }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
