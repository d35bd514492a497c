using System.Diagnostics;
using MlModel.Dsl;

namespace MlModel.Cli;

/// <summary>A one-line progress bar on stderr (bytes, rate, time left), shown only on a terminal.</summary>
internal sealed class ProgressBar : IProgress<TransferProgress>, IDisposable
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Lock _gate = new();
    private long _lastDraw = -1000;
    private bool _drawn;

    public void Report(TransferProgress value)
    {
        lock (_gate)
        {
            // At most ten redraws a second: drawing must not slow the transfer down.
            if (_clock.ElapsedMilliseconds - _lastDraw < 100)
            {
                return;
            }
            _lastDraw = _clock.ElapsedMilliseconds;
            var seconds = Math.Max(0.001, _clock.Elapsed.TotalSeconds);
            var rate = value.Bytes / seconds;
            string line;
            if (value.TotalBytes is long total && total > 0)
            {
                var fraction = Math.Clamp((double)value.Bytes / total, 0, 1);
                var filled = (int)(fraction * 24);
                var left = rate > 0 ? TimeSpan.FromSeconds((total - value.Bytes) / rate) : TimeSpan.Zero;
                line = $"{value.Operation} [{new string('#', filled)}{new string(' ', 24 - filled)}] {fraction,4:P0} {Size(value.Bytes)} / {Size(total)}  {Size((long)rate)}/s  {left:mm\\:ss} left";
            }
            else
            {
                line = $"{value.Operation} {Size(value.Bytes)}  {value.Files} files  {Size((long)rate)}/s";
            }
            Console.Error.Write("\r" + line.PadRight(Math.Max(0, SafeWidth() - 1)));
            _drawn = true;
        }
    }

    private static int SafeWidth()
    {
        try
        {
            return Console.WindowWidth;
        }
        catch (IOException)
        {
            return 80;
        }
    }

    internal static string Size(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):F1} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):F1} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:F1} KiB",
        _ => $"{bytes} B",
    };

    public void Dispose()
    {
        lock (_gate)
        {
            if (_drawn)
            {
                Console.Error.Write("\r" + new string(' ', Math.Max(0, SafeWidth() - 1)) + "\r");
            }
        }
    }
}
