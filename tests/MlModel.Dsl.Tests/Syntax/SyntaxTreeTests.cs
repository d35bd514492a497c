using MlModel.Dsl.Syntax;
using Pidgin;
using static Pidgin.Parser;
using static Pidgin.Parser<char>;

namespace MlModel.Dsl.Tests.Syntax;

/// <summary>The context-free syntax tree and the Pidgin parser a host composes.</summary>
public class SyntaxTreeTests
{
    [Test]
    public void The_tree_keeps_operation_keys_value_forms_and_offsets_as_written()
    {
        const string text = "  MLMODEL  Summary NAME = 'a b'\tversion=base64(MQ==) user=Demo\n";
        var tree = MlModelParser.ParseSyntax(text);

        tree.Operation.Should().Be("Summary");
        tree.OperationOffset.Should().Be(11);
        tree.Start.Should().Be(2);
        tree.End.Should().Be(text.Length);
        tree.Parameters.Should().Equal(
            new ParameterSyntax("NAME", 19, new ValueSyntax(ValueForm.Quoted, "a b", 26)),
            new ParameterSyntax("version", 32, new ValueSyntax(ValueForm.Base64, "MQ==", 40)),
            new ParameterSyntax("user", 53, new ValueSyntax(ValueForm.Bare, "Demo", 58)));
    }

    [Test]
    public void A_positional_word_has_no_key_and_a_key_without_value_has_no_value()
    {
        var tree = MlModelParser.ParseSyntax("mlmodel frob mnist_v1 x= ");
        tree.Parameters.Should().Equal(
            new ParameterSyntax(null, 13, new ValueSyntax(ValueForm.Bare, "mnist_v1", 13)),
            new ParameterSyntax("x", 22, null));
    }

    [Test]
    public void The_syntax_knows_no_operation_or_key()
    {
        // Context-free: unknown words are the binder's business.
        var tree = MlModelParser.ParseSyntax("mlmodel frobnicate colour=blue");
        tree.Operation.Should().Be("frobnicate");
        tree.Parameters.Single().Key.Should().Be("colour");
    }

    [Test]
    public void The_command_parser_stops_before_a_pipe_without_consuming_it()
    {
        var stage = MlModelGrammar.Command.Before(Char('|')).Then(Any.ManyString(), (c, rest) => (c, rest));
        var (command, rest) = stage.ParseOrThrow("mlmodel list serving=on | where x");
        command.Operation.Should().Be("list");
        command.End.Should().Be(24, "the command ends after its trailing white space, before the pipe");
        rest.Should().Be(" where x");
    }

    [Test]
    public void A_host_grammar_composes_the_command_parser_without_Try()
    {
        // The command consumes nothing when the input is not an mlmodel command, so a host can
        // list it among its own commands with a plain OneOf.
        var fit = String("fit").Then(Any.ManyString()).Map(rest => "fit:" + rest.Trim());
        var hostCommand = OneOf(MlModelGrammar.Command.Map(c => "mlmodel:" + c.Operation), fit);

        hostCommand.ParseOrThrow("mlmodel summary mnist_v1").Should().Be("mlmodel:summary");
        hostCommand.ParseOrThrow("fit model=lr").Should().Be("fit:model=lr");
        hostCommand.ParseOrThrow("  mlmodel stop x").Should().Be("mlmodel:stop");
    }

    [Test]
    public void The_value_parser_reads_each_form_alone()
    {
        MlModelGrammar.Value.ParseOrThrow("USERS/root/모델.tar").Should().Be(new ValueSyntax(ValueForm.Bare, "USERS/root/모델.tar", 0));
        MlModelGrammar.Value.ParseOrThrow("'it | is'").Should().Be(new ValueSyntax(ValueForm.Quoted, "it | is", 0));
        MlModelGrammar.Value.ParseOrThrow("BASE64(dGVzdA==)").Should().Be(new ValueSyntax(ValueForm.Base64, "dGVzdA==", 0));
        MlModelGrammar.Value.Parse("=x").Success.Should().BeFalse();
    }

    [Test]
    public void ParseQuery_reports_the_stage_offsets_in_the_whole_query()
    {
        const string query = "search x | mlmodel list analysis_tool='a|b' | head 1";
        var stage = MlModelParser.ParseQuery(query);
        stage.Start.Should().Be(11);
        query[stage.Start..].Should().StartWith("mlmodel list");
        query[stage.End].Should().Be('|');
        stage.Command.Should().Be(new ListCommand(AnalysisTool: "a|b"));
        stage.Before.Should().Be("search x");
        stage.After.Should().Be("head 1");
    }
}
