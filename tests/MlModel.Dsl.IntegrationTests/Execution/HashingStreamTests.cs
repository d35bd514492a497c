using System.Security.Cryptography;
using MlModel.Dsl.Execution.Archives;

namespace MlModel.Dsl.IntegrationTests.Execution;

/// <summary>
/// The stream that hashes import and export data: inline for small content, on another thread
/// from <see cref="HashingStream.BackgroundThreshold"/> bytes up; both give the same hashes and errors.
/// </summary>
public class HashingStreamTests
{
    private static readonly int[] Sizes = [0, 1, 100_000, (4 << 20) - 1, 4 << 20, (4 << 20) + 1, (9 << 20) + 7];

    public enum Reading
    {
        AsyncOddChunks,
        SyncOddChunks,
        CopyToAsync,
    }

    [Test]
    public async Task The_hash_is_sha256_however_the_content_is_read([ValueSource(nameof(Sizes))] int size, [Values] Reading reading)
    {
        var data = Bytes(size, size);
        using var hashing = new HashingStream(new MemoryStream(data), size, null, why => new InvalidDataException(why));

        var copy = new MemoryStream();
        switch (reading)
        {
            case Reading.AsyncOddChunks:
                var buffer = new byte[777_777];
                int n;
                while ((n = await hashing.ReadAsync(buffer)) > 0)
                {
                    copy.Write(buffer, 0, n);
                }
                break;
            case Reading.SyncOddChunks:
                var small = new byte[65_537];
                while ((n = hashing.Read(small, 0, small.Length)) > 0)
                {
                    copy.Write(small, 0, n);
                }
                break;
            default:
                await hashing.CopyToAsync(copy);
                break;
        }

        copy.ToArray().Should().Equal(data);
        hashing.Sha256.Should().Be(Convert.ToHexStringLower(SHA256.HashData(data)));
        hashing.Head.ToArray().Should().Equal(data.Take(16));
    }

    [Test]
    public async Task A_wrong_hash_is_the_mismatch_error([Values(1000, 6 << 20)] int size)
    {
        var data = Bytes(size, 5);
        var expected = Convert.ToHexStringLower(SHA256.HashData(data));
        data[size / 2] ^= 1;
        using var hashing = new HashingStream(new MemoryStream(data), size, expected, why => new InvalidDataException(why), headCapacity: 0);

        var act = () => hashing.CopyToAsync(Stream.Null);

        (await act.Should().ThrowAsync<InvalidDataException>()).Which.Message.Should().StartWith("its SHA-256 is ").And.EndWith($", the manifest says {expected}");
    }

    [Test]
    public async Task Content_longer_than_its_manifest_says_is_the_mismatch_error([Values(1000, 6 << 20)] int size)
    {
        var data = Bytes(size + 1, 6);
        var expected = Convert.ToHexStringLower(SHA256.HashData(data.AsSpan(0, size)));
        using var hashing = new HashingStream(new MemoryStream(data), size, expected, why => new InvalidDataException(why), headCapacity: 0);

        var act = () => hashing.CopyToAsync(Stream.Null);

        (await act.Should().ThrowAsync<InvalidDataException>()).Which.Message.Should().Be($"it is longer than the {size} bytes the manifest says");
    }

    [Test]
    public async Task Content_that_ends_early_is_the_mismatch_error([Values(1000, 6 << 20)] int size)
    {
        using var hashing = new HashingStream(new MemoryStream(Bytes(size - 10, 7)), size, null, why => new InvalidDataException(why));

        var act = () => hashing.CopyToAsync(Stream.Null);

        (await act.Should().ThrowAsync<InvalidDataException>()).Which.Message.Should().Be($"it ends after {size - 10} of {size} bytes");
    }

    [Test]
    public async Task A_stream_abandoned_midway_is_disposed_at_once()
    {
        var hashing = new HashingStream(new MemoryStream(Bytes(20 << 20, 8)), 20 << 20, null, why => new InvalidDataException(why));
        var buffer = new byte[1 << 20];
        for (var i = 0; i < 7; i++)
        {
            await hashing.ReadExactlyAsync(buffer);
        }

        var dispose = Task.Run(hashing.Dispose);

        (await Task.WhenAny(dispose, Task.Delay(TimeSpan.FromSeconds(30)))).Should().BeSameAs(dispose);
        hashing.Sha256.Should().BeNull();
    }

    private static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
