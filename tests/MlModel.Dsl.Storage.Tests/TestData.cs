using System.Security.Cryptography;

namespace MlModel.Dsl.Storage.Tests;

/// <summary>
/// A read-only, forward-only stream of deterministic pseudo-random bytes (a function of seed and
/// position, so any chunking gives the same bytes), of a given length, that can be made to fail
/// after some bytes. It never holds more than the caller's buffer.
/// </summary>
internal sealed class PatternStream(long length, ulong seed, long failAfter = -1) : ForwardOnlyStream
{
    private long _position;

    public override long Position { get => _position; set => throw new NotSupportedException(); }

    public override int Read(Span<byte> buffer)
    {
        if (failAfter >= 0 && _position >= failAfter)
        {
            throw new IOException("the source failed on purpose");
        }

        var n = (int)Math.Min(buffer.Length, length - _position);
        if (failAfter >= 0)
        {
            n = (int)Math.Min(n, Math.Max(failAfter - _position, 0));
        }

        Fill(seed, _position, buffer[..n]);
        _position += n;
        return n;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Task.FromResult(Read(buffer.AsSpan(offset, count)));

    /// <summary>The bytes at <paramref name="offset"/> of the pattern for <paramref name="seed"/>.</summary>
    public static void Fill(ulong seed, long offset, Span<byte> target)
    {
        var i = 0;
        // Up to the next 8-byte boundary, then whole words, then the tail.
        for (; i < target.Length && ((offset + i) & 7) != 0; i++)
        {
            target[i] = ByteAt(seed, offset + i);
        }

        for (; i + 8 <= target.Length; i += 8)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(target[i..], SplitMix(seed ^ (ulong)((offset + i) >> 3)));
        }

        for (; i < target.Length; i++)
        {
            target[i] = ByteAt(seed, offset + i);
        }
    }

    private static byte ByteAt(ulong seed, long at) => (byte)(SplitMix(seed ^ (ulong)(at >> 3)) >> (int)((at & 7) * 8));

    private static ulong SplitMix(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }

    /// <summary>Lower-case hex SHA-256 of the pattern's first <paramref name="length"/> bytes.</summary>
    public static string Sha256(long length, ulong seed)
    {
        using var stream = new PatternStream(length, seed);
        return Hash(stream);
    }

    public static byte[] Bytes(int length, ulong seed)
    {
        var bytes = new byte[length];
        Fill(seed, 0, bytes);
        return bytes;
    }

    /// <summary>Lower-case hex SHA-256 of a stream's remaining bytes, read in 1 MiB pieces.</summary>
    public static string Hash(Stream stream)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        int read;
        while ((read = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            hash.AppendData(buffer, 0, read);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    public static async Task<string> HashAsync(Stream stream)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        int read;
        while ((read = await stream.ReadAsync(buffer)) > 0)
        {
            hash.AppendData(buffer, 0, read);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}

/// <summary>What a read-only stream that cannot seek says of itself; reads go through <see cref="Read(Span{byte})"/>.</summary>
internal abstract class ForwardOnlyStream : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
    public abstract override int Read(Span<byte> buffer);
}

/// <summary>
/// A source that cancels <paramref name="cancel"/> once <paramref name="after"/> bytes have been
/// read from it; an asynchronous read past that point throws for the token it is given.
/// </summary>
internal sealed class CancellingStream(Stream inner, long after, CancellationTokenSource cancel) : ForwardOnlyStream
{
    private long _read;

    public override long Position { get => _read; set => throw new NotSupportedException(); }

    public override int Read(Span<byte> buffer)
    {
        if (_read >= after)
        {
            cancel.Cancel();
        }

        var n = inner.Read(buffer);
        _read += n;
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_read >= after)
        {
            await cancel.CancelAsync();
            cancellationToken.ThrowIfCancellationRequested();
        }

        var n = await inner.ReadAsync(buffer, cancellationToken);
        _read += n;
        return n;
    }
}
