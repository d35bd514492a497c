using Microsoft.Win32.SafeHandles;

namespace MlModel.Dsl.Backends.Local;

/// <summary>
/// Writes to files in slices of <see cref="Slice"/> bytes, whatever the size of the caller's buffer.
/// </summary>
/// <remarks>
/// The page cache takes a write() in folios sized after the call's length and offset: a 1 MiB
/// write at a 1 MiB boundary gets 1 MiB folios, a 60 KiB one a mix of 4 to 32 KiB folios. Large
/// folios come from large free blocks, and on a VM with free page reporting (virtio-balloon, as on
/// this project's machines) those are the blocks the host has taken back, each first touch a host
/// page fault: writing 1 GiB from the page cache took 1.3 to 2.5 s in 64 KiB calls, 0.9 to 1.3 s in
/// 1 MiB calls and 0.5 to 1.2 s in 60 KiB calls (dd, 2026-11-30). With reporting held off, all three
/// took 0.34 to 0.45 s: the slices cost nothing where the memory is the guest's own (17 calls per
/// MiB instead of one, about 1 ms per GiB).
/// </remarks>
internal static class FileWrites
{
    /// <summary>15 pages: never a multiple of a large power of two, so no call asks for a large folio.</summary>
    internal const int Slice = 15 * 4096;

    /// <summary>Writes <paramref name="data"/> at <paramref name="offset"/> of <paramref name="file"/>.</summary>
    public static void Write(SafeFileHandle file, ReadOnlySpan<byte> data, long offset)
    {
        while (data.Length > Slice)
        {
            RandomAccess.Write(file, data[..Slice], offset);
            data = data[Slice..];
            offset += Slice;
        }

        RandomAccess.Write(file, data, offset);
    }

    /// <summary>Writes <paramref name="data"/> at the position of <paramref name="file"/> (an unbuffered stream).</summary>
    public static void Write(FileStream file, ReadOnlySpan<byte> data)
    {
        while (data.Length > Slice)
        {
            file.Write(data[..Slice]);
            data = data[Slice..];
        }

        file.Write(data);
    }
}
