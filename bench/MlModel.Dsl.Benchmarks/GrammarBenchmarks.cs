using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using MlModel.Dsl.Benchmarks.Baseline;
using MlModel.Dsl.Binding;
using MlModel.Dsl.Syntax;
using Pidgin;

namespace MlModel.Dsl.Benchmarks;

/// <summary>
/// The grammar in plain Pidgin combinators (<c>src/MlModel.Dsl/Syntax/MlModelGrammar.cs</c>)
/// against the grammar it replaced, whose lexemes were hand-written <c>Parser&lt;char, T&gt;</c>
/// subclasses (<c>Baseline/HandWrittenGrammar.cs</c>), in the same run: the syntax tree alone,
/// and the whole parse (the same binder after each).
/// </summary>
[MemoryDiagnoser]
[Config(typeof(Columns))]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class GrammarBenchmarks
{
    private sealed class Columns : ManualConfig
    {
        public Columns() => AddColumn(StatisticColumn.OperationsPerSecond);
    }

    /// <summary>The commands: the two imports of the goal, the shortest command and a 4 KB description.</summary>
    public static IEnumerable<Sample> Samples() =>
        ParseBenchmarks.Samples().Where(s => s.Name is "list" or "import-spec" or "import-base64" or "import-4KB-quoted");

    /// <summary>The command being parsed.</summary>
    [ParamsSource(nameof(Samples))]
    public Sample Command { get; set; } = null!;

    /// <summary>Both grammars must build the same tree, or the comparison means nothing.</summary>
    [GlobalSetup]
    public void BothGrammarsAgree()
    {
        var old = HandWrittenSyntax(Command.Text);
        var now = MlModelParser.ParseSyntax(Command.Text);
        if (old.Operation != now.Operation || old.OperationOffset != now.OperationOffset || old.Start != now.Start
            || old.End != now.End || !old.Parameters.SequenceEqual(now.Parameters))
        {
            throw new InvalidOperationException($"the grammars disagree on {Command.Name}");
        }
    }

    private static CommandSyntax HandWrittenSyntax(string text) =>
        HandWrittenGrammar.WholeCommand.Parse(text) is { Success: true } result
            ? result.Value
            : throw new FormatException("the baseline grammar refused " + text);

    /// <summary>The replaced grammar: text to syntax tree.</summary>
    [Benchmark(Baseline = true)]
    [BenchmarkCategory("syntax")]
    public CommandSyntax HandWrittenLexemes() => HandWrittenSyntax(Command.Text);

    /// <summary>Plain combinators: text to syntax tree.</summary>
    [Benchmark]
    [BenchmarkCategory("syntax")]
    public CommandSyntax Combinators() => MlModelParser.ParseSyntax(Command.Text);

    /// <summary>The replaced grammar, then the binder: text to typed record.</summary>
    [Benchmark(Baseline = true)]
    [BenchmarkCategory("parse")]
    public MlModelCommand HandWrittenLexemes_Parse() => Binder.Bind(HandWrittenSyntax(Command.Text), Command.Text);

    /// <summary>Plain combinators, then the binder: <see cref="MlModelParser.Parse"/>.</summary>
    [Benchmark]
    [BenchmarkCategory("parse")]
    public MlModelCommand Combinators_Parse() => MlModelParser.Parse(Command.Text);
}
