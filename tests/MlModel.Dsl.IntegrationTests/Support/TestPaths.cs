namespace MlModel.Dsl.IntegrationTests.Support;

/// <summary>Finds the repository's folders from the test assembly, wherever it runs.</summary>
internal static class TestPaths
{
    public static string RepoRoot { get; } = FindRoot();

    public static string Fixtures => Path.Combine(RepoRoot, "tests", "fixtures", "tensorflow-serving-testdata");

    /// <summary>A version folder of a TensorFlow Serving test model, e.g. saved_model_half_plus_two_cpu.</summary>
    public static string Model(string name) => Path.Combine(Fixtures, name, "00000123");

    /// <summary>A Spark ML model folder as PySpark saved it, e.g. py_log_reg (see tests/fixtures/spark-ml-models/README.md).</summary>
    public static string SparkModel(string name) => Path.Combine(RepoRoot, "tests", "fixtures", "spark-ml-models", name);

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "MlModel.Dsl.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("cannot find the repository root (MlModel.Dsl.sln) above " + AppContext.BaseDirectory);
    }
}

/// <summary>A temporary folder removed when disposed.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mlmodel-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
