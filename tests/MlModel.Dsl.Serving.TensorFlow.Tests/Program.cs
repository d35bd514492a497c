using System.Globalization;

namespace MlModel.Dsl.Serving.TensorFlow.Tests;

/// <summary>
/// Entry point of the test assembly when run as a process (the test runner does not call it):
/// <c>dotnet MlModel.Dsl.Serving.TensorFlow.Tests.dll lock-worker &lt;root&gt; &lt;config&gt; &lt;index&gt; &lt;source&gt;</c>
/// deploys and stops versions like <see cref="ConcurrencyTests"/>' tasks, in its own process.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length == 5 && args[0] == "lock-worker")
        {
            await ConcurrencyTests.WorkerAsync(args[1], args[2], int.Parse(args[3], CultureInfo.InvariantCulture), args[4]);
            return 0;
        }

        await Console.Error.WriteLineAsync("usage: lock-worker <root> <config> <index> <source-dir>");
        return 2;
    }
}
