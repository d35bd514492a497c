using System.Runtime.InteropServices;

namespace MlModel.Dsl.Benchmarks;

/// <summary>
/// A cross-check of <see cref="GrammarBenchmarks"/> that a shared machine disturbs less than
/// BenchmarkDotNet's wall clock: each method in a loop, timed by the thread's CPU time
/// (<c>clock_gettime(CLOCK_THREAD_CPUTIME_ID)</c>, Linux), in batches that alternate between
/// the methods so that all of them get the same weather; the best batch of each is the figure.
/// Run by <c>dotnet run -c Release --project bench/MlModel.Dsl.Benchmarks -- cputime</c>.
/// </summary>
internal static partial class CpuTime
{
    private const int ThreadCpuTimeClock = 3; // CLOCK_THREAD_CPUTIME_ID
    private const int Batches = 60;

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    private static long Now()
    {
        if (ClockGetTime(ThreadCpuTimeClock, out var t) != 0)
        {
            throw new InvalidOperationException("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        }
        return (t.Seconds * 1_000_000_000) + t.Nanoseconds;
    }

    public static void Run()
    {
        if (!OperatingSystem.IsLinux())
        {
            Console.Error.WriteLine("cputime reads the thread's CPU time through Linux's clock_gettime");
            return;
        }
        Console.WriteLine($"thread CPU time, best of {Batches} alternating batches; allocation per call from the thread's allocated bytes");
        Console.WriteLine($"{"command",-18} {"method",-26} {"ns",8} {"ratio",6} {"bytes",7}");
        foreach (var sample in GrammarBenchmarks.Samples())
        {
            var bench = new GrammarBenchmarks { Command = sample };
            bench.BothGrammarsAgree();
            (string Name, Func<object> Call)[] methods =
            [
                (nameof(GrammarBenchmarks.HandWrittenLexemes), bench.HandWrittenLexemes),
                (nameof(GrammarBenchmarks.Combinators), bench.Combinators),
                (nameof(GrammarBenchmarks.HandWrittenLexemes_Parse), bench.HandWrittenLexemes_Parse),
                (nameof(GrammarBenchmarks.Combinators_Parse), bench.Combinators_Parse),
            ];
            // About 20 ms a batch; warm up for half a second each, so that tiered compilation is done.
            var perBatch = Math.Max(100, (int)(20_000_000 / Measure(methods[1].Call, 200)));
            foreach (var (_, call) in methods)
            {
                var until = Now() + 500_000_000;
                while (Now() < until)
                {
                    Measure(call, perBatch);
                }
            }
            var best = new double[methods.Length];
            Array.Fill(best, double.MaxValue);
            for (var batch = 0; batch < Batches; batch++)
            {
                for (var m = 0; m < methods.Length; m++)
                {
                    best[m] = Math.Min(best[m], Measure(methods[m].Call, perBatch));
                }
            }
            for (var m = 0; m < methods.Length; m++)
            {
                var baseline = best[m < 2 ? 0 : 2];
                Console.WriteLine($"{sample.Name,-18} {methods[m].Name,-26} {best[m],8:F0} {best[m] / baseline,6:F2} {Allocated(methods[m].Call),7}");
            }
        }
    }

    // Nanoseconds of thread CPU time per call, over `calls` calls.
    private static double Measure(Func<object> call, int calls)
    {
        var start = Now();
        for (var i = 0; i < calls; i++)
        {
            call();
        }
        return (Now() - start) / (double)calls;
    }

    private static long Allocated(Func<object> call)
    {
        const int Calls = 1000;
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Calls; i++)
        {
            call();
        }
        return (GC.GetAllocatedBytesForCurrentThread() - before) / Calls;
    }
}
