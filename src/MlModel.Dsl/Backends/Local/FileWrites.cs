using Microsoft.Win32.SafeHandles;

namespace MlModel.Dsl.Backends.Local;

/// <summary>
/// Writes to files in slices of <see cref="Slice"/> bytes, whatever the size of the caller's buffer.
/// </summary>
/// <remarks>
/// The page cache takes a write() in folios sized after the call's length and offset: a 1 MiB
/// write at a 1 MiB boundary gets 1 MiB folios, a 60 KiB one a mix of 4 to 32 KiB folios. On this
/// project's machines (Linux 6.18, ext4 with large folios, in a VM), copying into the large folios
/// measured 3 to 9 times slower: writing 1 GiB from the page cache took 2.2 to 2.9 s in 1 MiB or
/// 64 KiB calls and 0.26 to 0.33 s in 56, 60 or 68 KiB calls (GNU tar writes 10 KiB records and
/// took 0.6 s). 60 KiB calls cost 17 syscalls per MiB instead of one: about 1 ms per GiB elsewhere.
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
