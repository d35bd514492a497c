namespace MlModel.Dsl.Execution.Archives;

/// <summary>
/// The base of the archive code's forward-only, read-only streams (counting, hashing, checking,
/// decompressing): what none of them can do, said once.
/// </summary>
internal abstract class ReadOnlyStream : Stream
{
    public override void Flush() { }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
