using System.Text.Json;
using MlModel.Dsl.Binding;

namespace MlModel.Dsl.Tests.Syntax;

/// <summary>What a dsl-object hands the binder: the command word, and JSON arrays as tuples and lists.</summary>
public class DslObjectTests
{
    private static (string Command, string Operation, RawParameter[] Parameters) Read(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return MlModelParser.ReadDslObject(doc.RootElement);
    }

    private static RawValue Value(string json, string key) =>
        Read(json).Parameters.Single(p => p.Key == key).Value!.Value;

    [Test]
    public void The_serving_command_word_is_read_in_any_case_and_handed_on_in_lower_case()
    {
        var (command, operation, parameters) = Read("""{"command":"Serving","params":{"operation":"predict","name":"m"}}""");
        command.Should().Be("serving");
        operation.Should().Be("predict");
        parameters.Select(p => p.Key).Should().Equal("name");
        Read("""{"command":"MLMODEL","params":{"operation":"list"}}""").Command.Should().Be("mlmodel");
    }

    [Test]
    public void An_array_of_strings_and_numbers_is_a_tuple_of_its_items()
    {
        var tag = Value("""{"command":"serving","params":{"operation":"predict","tag":["0", 1, "setosa", 2.5]}}""", "tag");
        tag.Form.Should().Be(RawForm.Tuple);
        tag.Text.Should().Be("""["0", 1, "setosa", 2.5]""");
        tag.Offset.Should().BeNull();
        tag.Items!.Select(i => (i.Form, i.Text)).Should().Equal(
            (RawForm.JsonString, "0"), (RawForm.JsonNumber, "1"), (RawForm.JsonString, "setosa"), (RawForm.JsonNumber, "2.5"));
    }

    [Test]
    public void An_array_of_such_arrays_is_a_list_of_tuples()
    {
        var shape = Value("""{"command":"serving","params":{"operation":"predict","shape":[[12], [28, 28, 1]]}}""", "shape");
        shape.Form.Should().Be(RawForm.List);
        shape.Items!.Select(t => t.Form).Should().Equal(RawForm.Tuple, RawForm.Tuple);
        shape.Items!.Select(t => string.Join(",", t.Items!.Select(i => i.Text))).Should().Equal("12", "28,28,1");
    }

    [TestCase("[]")]
    [TestCase("[[]]")]
    [TestCase("[true]")]
    [TestCase("[null]")]
    [TestCase("[{\"a\":1}]")]
    [TestCase("[\"a\", [1]]")]
    [TestCase("[[1], \"a\"]")]
    [TestCase("[[[1]]]")]
    public void Any_other_array_is_a_json_value_no_key_takes(string array)
    {
        var value = Value("""{"command":"serving","params":{"operation":"predict","shape":""" + array + "}}", "shape");
        value.Form.Should().Be(RawForm.JsonOther);
        value.Text.Should().Be(array);
        value.Items.Should().BeNull();
    }

    [Test]
    public void A_syntax_tree_tuple_reaches_the_binder_with_its_items_and_offsets()
    {
        var tree = MlModelParser.ParseSyntax("serving predict tag=(a, 'b c') shape=[(1,)]");
        var tag = RawValue.From(tree.Parameters[0].Value!);
        tag.Should().BeEquivalentTo(new { Form = RawForm.Tuple, Text = "(a, 'b c')", Offset = (int?)20 });
        tag.Items!.Select(i => (i.Form, i.Text, i.Offset)).Should().Equal((RawForm.Bare, "a", (int?)21), (RawForm.Quoted, "b c", (int?)24));
        var shape = RawValue.From(tree.Parameters[1].Value!);
        shape.Form.Should().Be(RawForm.List);
        shape.Items!.Single().Items!.Single().Should().BeEquivalentTo(new { Form = RawForm.Bare, Text = "1", Offset = (int?)39 });
        RawValue.From(tree.Parameters[0].Value!.Items[0]).Items.Should().BeNull();
    }
}
