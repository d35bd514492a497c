namespace MlModel.Dsl.Storage.S3;

/// <summary>
/// The part buffers of one store: at most <c>capacity</c> arrays of one length are kept for reuse,
/// anything else is allocated on demand and left to the GC. Unlike ArrayPool.Shared, whose
/// per-thread caches kept extra 16 MiB arrays alive when parts finish on other threads than the
/// ones that fill them (peak memory of a 1 GiB upload grew from about 145 to 250 MB), this bounds
/// what the store holds: <see cref="S3StoreOptions.PartSize"/> × <see cref="S3StoreOptions.MaxConcurrentParts"/>,
/// kept after the first large upload for the next ones.
/// </summary>
internal sealed class PartBufferPool(int length, int capacity)
{
    private readonly Stack<byte[]> _free = new();
    private int _allocated;

    /// <summary>The length of the pooled arrays.</summary>
    public int Length => length;

    /// <summary>Arrays of the pooled length allocated so far (for tests: bounded by the capacity when uploads run one at a time).</summary>
    public int Allocated => Volatile.Read(ref _allocated);

    /// <summary>An array of at least <paramref name="minimumLength"/> bytes (contents undefined).</summary>
    public byte[] Rent(int minimumLength)
    {
        if (minimumLength <= length)
        {
            lock (_free)
            {
                if (_free.Count > 0)
                {
                    return _free.Pop();
                }
            }

            Interlocked.Increment(ref _allocated);
            return GC.AllocateUninitializedArray<byte>(length);
        }

        return GC.AllocateUninitializedArray<byte>(minimumLength);
    }

    /// <summary>Gives an array back; kept if it is of the pooled length and there is room.</summary>
    public void Return(byte[] array)
    {
        if (array.Length != length)
        {
            return;
        }

        lock (_free)
        {
            if (_free.Count < capacity)
            {
                _free.Push(array);
            }
        }
    }
}
