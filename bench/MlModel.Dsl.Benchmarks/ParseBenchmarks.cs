using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using MlModel.Dsl.Syntax;

namespace MlModel.Dsl.Benchmarks;

/// <summary>A command to parse, shown by its short name in the results table.</summary>
public sealed record Sample(string Name, string Text)
{
    /// <inheritdoc/>
    public override string ToString() => Name;
}

/// <summary>
/// Parse throughput and allocation: the hand-written baseline, the Pidgin syntax-only parse and
/// the full parse (syntax and binding), on the spec's examples and two long imports.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(Columns))]
public class ParseBenchmarks
{
    private sealed class Columns : ManualConfig
    {
        public Columns() => AddColumn(StatisticColumn.OperationsPerSecond);
    }

    /// <summary>The spec's import example (Part A).</summary>
    public const string SpecImport =
        "mlmodel import name=tf_clothes analysis_tool=tf kind=classification algorithm=deep format=saved_model connector_id=aqef32-asdf23-sadf path=USERS/root/clothes/model.tar";

    /// <summary>The long import of the brief, with a base64 description (Korean text).</summary>
    public const string LongImport =
        "mlmodel import name=tf_clothes analysis_tool=tf kind=classification algorithm=deep format=saved_model connector_id=minio path=USERS/root/clothes/model.tar description=base64(7J2066+47KeAIOu2hOulmA==)";

    /// <summary>Every sample command.</summary>
    public static IEnumerable<Sample> Samples()
    {
        yield return new("list", "mlmodel list");
        yield return new("summary", "mlmodel summary name=mnist_v1");
        yield return new("summary-positional", "mlmodel summary mnist_v1");
        yield return new("export", "mlmodel export user=demo name=mnist_v1 version=1");
        yield return new("deploy", "mlmodel deploy name=mnist_v1 label='unstable'");
        yield return new("stop-positional", "mlmodel stop mnist_v1");
        yield return new("import-spec", SpecImport);
        yield return new("import-base64", LongImport);
        yield return new("import-4KB-quoted", LongImport.Replace("description=base64(7J2066+47KeAIOu2hOulmA==)", "description='" + Description(4096) + "'", StringComparison.Ordinal));
        yield return new("import-4KB-base64", LongImport.Replace("7J2066+47KeAIOu2hOulmA==", Convert.ToBase64String(Encoding.UTF8.GetBytes(Description(3072))), StringComparison.Ordinal));
    }

    // Mixed Korean and ASCII prose, without quotes or line breaks, of exactly `length` characters.
    private static string Description(int length)
    {
        var sb = new StringBuilder(length + 64);
        while (sb.Length < length)
        {
            sb.Append("의류 이미지 분류 모델입니다 (Fashion-MNIST, 10 classes, epochs=3, batch_size=64). ");
        }
        return sb.ToString(0, length);
    }

    /// <summary>The command being parsed.</summary>
    [ParamsSource(nameof(Samples))]
    public Sample Command { get; set; } = null!;

    /// <summary>The hand-written span-based parser: the practical limit.</summary>
    [Benchmark(Baseline = true)]
    public CommandSyntax HandWritten() => HandWrittenParser.Parse(Command.Text);

    /// <summary>The Pidgin grammar alone: text to syntax tree.</summary>
    [Benchmark]
    public CommandSyntax ParseSyntax() => MlModelParser.ParseSyntax(Command.Text);

    /// <summary>The whole front end: syntax tree and binding to a typed record.</summary>
    [Benchmark]
    public MlModelCommand Parse() => MlModelParser.Parse(Command.Text);
}
