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

    [Test]
    public void A_tuple_and_a_list_keep_each_item_with_its_form_text_and_offset()
    {
        //                    0         1         2         3         4         5
        //                    0123456789012345678901234567890123456789012345678901234567
        const string text = "serving predict tag=( 'a b' , 12,) shape=[(28, 1), (3,)]";
        var tree = MlModelParser.ParseSyntax(text);

        tree.Command.Should().Be("serving");
        tree.Operation.Should().Be("predict");
        tree.Parameters[0].Value.Should().Be(new ValueSyntax(ValueForm.Tuple, "( 'a b' , 12,)", 20)
        {
            Items = [new ValueSyntax(ValueForm.Quoted, "a b", 22), new ValueSyntax(ValueForm.Bare, "12", 30)],
        });
        tree.Parameters[1].Value.Should().Be(new ValueSyntax(ValueForm.List, "[(28, 1), (3,)]", 41)
        {
            Items =
            [
                new ValueSyntax(ValueForm.Tuple, "(28, 1)", 42) { Items = [new(ValueForm.Bare, "28", 43), new(ValueForm.Bare, "1", 47)] },
                new ValueSyntax(ValueForm.Tuple, "(3,)", 51) { Items = [new(ValueForm.Bare, "3", 52)] },
            ],
        });
        text[tree.Parameters[1].Value!.Items[1].Items[0].Offset].Should().Be('3');
    }

    [Test]
    public void Values_are_equal_only_when_their_items_are()
    {
        var a = new ValueSyntax(ValueForm.Tuple, "(1)", 0) { Items = [new(ValueForm.Bare, "1", 1)] };
        var b = new ValueSyntax(ValueForm.Tuple, "(1)", 0) { Items = [new(ValueForm.Bare, "1", 1)] };
        var c = new ValueSyntax(ValueForm.Tuple, "(1)", 0) { Items = [new(ValueForm.Quoted, "1", 1)] };

        a.Should().Be(b);
        a.GetHashCode().Should().Be(b.GetHashCode());
        a.Should().NotBe(c);
        new ValueSyntax(ValueForm.Bare, "x", 0).Items.Should().BeEmpty();
    }

    [TestCase("mlmodel list", "mlmodel")]
    [TestCase("  MLMODEL list", "mlmodel")]
    [TestCase("serving status name=a", "serving")]
    [TestCase("Serving predict name=a", "serving")]
    public void The_tree_names_its_command_word_in_lower_case(string text, string command)
    {
        var tree = MlModelParser.ParseSyntax(text);
        tree.Command.Should().Be(command);
        text[tree.Start..].Should().StartWith(text.TrimStart()[..7]);
    }

    [Test]
    public void A_command_without_its_word_at_a_prompt_is_mlmodel_and_one_with_it_keeps_it()
    {
        MlModelGrammar.WholeCommandKeywordOptional.ParseOrThrow("status name=a").Command.Should().Be("mlmodel");
        MlModelGrammar.WholeCommandKeywordOptional.ParseOrThrow("serving status name=a").Command.Should().Be("serving");
        MlModelGrammar.WholeCommandKeywordOptional.ParseOrThrow("servings name=a").Operation.Should().Be("servings");
    }

    [Test]
    public void The_value_parser_reads_a_tuple_and_a_list_alone_and_a_bracketed_word_as_a_word()
    {
        MlModelGrammar.Value.ParseOrThrow("(0,1,2)").Items.Select(i => i.Text).Should().Equal("0", "1", "2");
        MlModelGrammar.Value.ParseOrThrow("[ (12,) ]").Form.Should().Be(ValueForm.List);
        MlModelGrammar.Value.ParseOrThrow("[12]").Should().Be(new ValueSyntax(ValueForm.Bare, "[12]", 0));
        MlModelGrammar.Value.ParseOrThrow("[").Should().Be(new ValueSyntax(ValueForm.Bare, "[", 0));
        MlModelGrammar.Value.Parse("()").Success.Should().BeFalse();
    }

    [Test]
    public void A_host_grammar_composes_the_serving_command_too()
    {
        var stage = MlModelGrammar.Command.Before(Char('|')).Then(Any.ManyString(), (c, rest) => (c, rest));
        var (command, rest) = stage.ParseOrThrow("serving predict name=m tag=('a|b', c) | where probability > 0.5");
        command.Command.Should().Be("serving");
        command.Parameters[1].Value!.Items.Select(i => i.Text).Should().Equal("a|b", "c");
        rest.Should().Be(" where probability > 0.5");
    }

    [Test]
    public void A_serving_stage_of_a_query_keeps_item_offsets_in_the_whole_query()
    {
        const string query = ".. | serving predict user=demo name= model_cnn_wine_quality_0422 col=features shape=[(12,)] tag=(0,1,2)";
        var (before, syntax, after, end) = MlModelParser.ParseQuerySyntax(query);

        before.Should().Be("..");
        after.Should().BeEmpty();
        end.Should().Be(query.Length);
        syntax.Command.Should().Be("serving");
        query[syntax.Start..].Should().StartWith("serving predict");
        var shape = syntax.Parameters.Single(p => p.Key == "shape").Value!;
        query[shape.Offset..].Should().StartWith("[(12,)]");
        query[shape.Items[0].Items[0].Offset..].Should().StartWith("12,)]");
        var tag = syntax.Parameters.Single(p => p.Key == "tag").Value!;
        tag.Items.Select(i => query[i.Offset]).Should().Equal('0', '1', '2');
    }

    [Test]
    public void The_serving_command_reaches_the_binder_with_its_word()
    {
        // The text, the dsl-object and a query's stage all bind as serving's status, not as mlmodel's own 'status'.
        foreach (var parse in new Func<MlModelCommand>[]
        {
            () => MlModelParser.Parse("serving status name=a"),
            () => MlModelParser.Parse("serving status name=a", keywordOptional: true),
            () => MlModelParser.ParseAny("""{"command":"serving","params":{"operation":"status","name":"a"}}"""),
            () => MlModelParser.ParseQuery("* | serving status name=a").Command,
        })
        {
            parse().Should().Be(new ServingStatusCommand("a"));
        }
        FluentActions.Invoking(() => MlModelParser.Parse("serving fit name=a")).Should().Throw<MlModelException>()
            .Which.Message.Should().Be("serving: unknown operation 'fit' (line 1, column 9); allowed: status, predict");
    }
}
