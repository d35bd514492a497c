using System.Text;
using MlModel.Dsl.Binding;
using MlModel.Dsl.Syntax;

namespace MlModel.Dsl.Tests.Grammar;

/// <summary>Keeps <c>grammar/mlmodel.ebnf</c> and the lexer's word cache in step with <see cref="CommandTables"/>.</summary>
public class EbnfTests
{
    private const string Begin = "(* BEGIN GENERATED *)";
    private const string End = "(* END GENERATED *)";

    private static string EbnfPath => Path.Combine(RepositoryPaths.Grammar, "mlmodel.ebnf");

    [Test]
    public void The_parameter_tables_of_the_grammar_match_the_operation_table()
    {
        var text = File.ReadAllText(EbnfPath).ReplaceLineEndings("\n");
        var start = text.IndexOf(Begin, StringComparison.Ordinal);
        var end = text.IndexOf(End, StringComparison.Ordinal);
        start.Should().BeGreaterThan(0, "the file marks its generated section");
        end.Should().BeGreaterThan(start);

        var expected = Begin + "\n" + Generate() + End;
        var actual = text[start..(end + End.Length)];
        if (actual != expected && Environment.GetEnvironmentVariable("MLMODEL_UPDATE_GRAMMAR") == "1")
        {
            // Only when a developer asks for regeneration (MLMODEL_UPDATE_GRAMMAR=1, never in CI):
            // the section is rewritten, and the assertion below then judges the file as written.
            File.WriteAllText(EbnfPath, text[..start] + expected + text[(end + End.Length)..]);
            var written = File.ReadAllText(EbnfPath).ReplaceLineEndings("\n");
            actual = written[written.IndexOf(Begin, StringComparison.Ordinal)..(written.IndexOf(End, StringComparison.Ordinal) + End.Length)];
        }
        actual.Should().Be(expected, "grammar/mlmodel.ebnf section 5 is generated from CommandTables (run the tests with MLMODEL_UPDATE_GRAMMAR=1 to refresh it)");
    }

    /// <summary>Section 5 of the grammar: per command word, its operations; one rule per operation, one alternative per key.</summary>
    internal static string Generate()
    {
        var sb = new StringBuilder();
        foreach (var table in CommandTables.All)
        {
            sb.Append((table.Command + " operation").PadRight(20)).Append("= ")
                .AppendJoin("\n                    | ", table.Operations.Select(o => $"ci(\"{o.Name}\")"))
                .Append(" ;\n");
        }
        sb.Append('\n');
        foreach (var op in CommandTables.All.SelectMany(t => t.Operations))
        {
            var title = op.Command == "mlmodel" ? op.Name : op.Title;
            var rule = title + " parameter";
            sb.Append("(* ").Append(op.Syntax).Append('\n')
                .Append("   ").Append(op.Help).Append('\n');
            foreach (var p in op.Specs)
            {
                sb.Append("   ").Append(p.Key.PadRight(14)).Append(p.Required ? "required  " : "optional  ").Append(p.Help).Append('\n');
            }
            sb.Append("   The model name may also stand alone, right after the operation. *)\n");
            sb.Append((title + " command ").PadRight(20)).Append("= ci(\"").Append(op.Name)
                .Append("\") , [ positional name ] , { ").Append(rule).Append(" } ;\n");
            sb.Append((rule + " ").PadRight(20)).Append("= ");
            var first = true;
            foreach (var p in op.Specs)
            {
                if (!first)
                {
                    sb.Append('\n').Append(' ', 20).Append("| ");
                }
                first = false;
                sb.Append("ci(\"").Append(p.Key).Append("\") , \"=\" , ").Append(ValueRule(p));
            }
            sb.Append(" ;\n\n");
        }
        return sb.ToString();
    }

    private static string ValueRule(ParamSpec p) => p.Kind switch
    {
        ParamKind.Name => "name value",
        ParamKind.Version => "version value",
        ParamKind.Label => "label value",
        ParamKind.Choice or ParamKind.Flag => "( " + string.Join(" | ", p.Values!.Select(v => $"ci(\"{v}\")")) + " )",
        ParamKind.Json => $"value (* a JSON object, at most {p.MaxLength} characters *)",
        ParamKind.Words => $"tuple (* 1 to {Binder.MaxTupleItems} items, each 1 to 256 characters *)",
        ParamKind.Shapes => "( list | tuple ) (* one tuple per model input (a lone tuple: one input), 1 to 32 dimensions each, every dimension a whole number from 1 up *)",
        _ => $"value (* text, at most {p.MaxLength} characters *)",
    };

    [Test]
    public void The_lexer_caches_every_key_and_operation_word()
    {
        var all = CommandTables.All.SelectMany(t => t.Operations).ToList();
        var words = all.Select(o => o.Name)
            .Concat(all.SelectMany(o => o.Specs).Select(p => p.Key))
            .Concat(all.SelectMany(o => o.Specs).SelectMany(p => p.Values ?? []))
            .Concat(CommandTables.All.Select(t => t.Command))
            .Distinct();
        Lexemes.KnownWords.Should().Contain(words);
        foreach (var word in words)
        {
            ReferenceEquals(Lexemes.Intern(word.AsSpan()), Lexemes.Intern(word.AsSpan())).Should().BeTrue(word);
        }
    }

    [Test]
    public void No_operation_takes_more_parameters_than_the_binder_has_room_for()
    {
        CommandTables.All.SelectMany(t => t.Operations).Should().OnlyContain(o => o.Specs.Length <= Binder.MaxParameters && o.Specs.Length <= 32);
    }
}
