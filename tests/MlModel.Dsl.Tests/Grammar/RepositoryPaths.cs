namespace MlModel.Dsl.Tests.Grammar;

/// <summary>Finds the repository's <c>grammar/</c> and <c>tests/fixtures/</c> folders from the test binaries.</summary>
internal static class RepositoryPaths
{
    private static readonly Lazy<string> Root = new(() =>
    {
        // Walk up from bin/<configuration>/<tfm>/ until the folder that holds grammar/mlmodel.ebnf.
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "grammar", "mlmodel.ebnf")))
            {
                return dir.FullName;
            }
        }
        throw new DirectoryNotFoundException("no grammar/mlmodel.ebnf above " + AppContext.BaseDirectory);
    });

    public static string Grammar => Path.Combine(Root.Value, "grammar");

    public static string Cases => Path.Combine(Grammar, "cases");

    /// <summary>The real models of <c>tests/fixtures/</c>.</summary>
    public static string Fixtures => Path.Combine(Root.Value, "tests", "fixtures");
}
