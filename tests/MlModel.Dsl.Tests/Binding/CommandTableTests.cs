using BindingFlags = System.Reflection.BindingFlags;
using FluentAssertions;
using MlModel.Dsl.Binding;
using NUnit.Framework;

namespace MlModel.Dsl.Tests.Binding;

/// <summary>
/// The command table is the one place a command's shape is written: binding, rendering, help and
/// the engine's validation of a host's records all read it. These tests hold every operation and
/// every parameter to that, whichever command word it belongs to.
/// </summary>
public class CommandTableTests
{
    // A valid record of every operation, with every parameter set that can be.
    private static readonly MlModelCommand[] Samples =
    [
        new ListCommand("bob", "m", "tf", Serving: true),
        new SummaryCommand("m", "bob", 2),
        new DeleteCommand("m", 3, "bob"),
        new ImportCommand("m", "tf", "classification", "deep", ModelFormat.SavedModel, "minio", "USERS/bob/m.tar", "설명 'quoted'\nline", "{\"epochs\":3}"),
        new ExportCommand("m", "bob", 4),
        new DeployCommand("m", "bob", 5, "CNN wineQ model"),
        new StopCommand("m", "bob", 6),
        new HistoryCommand("m", "bob", 7),
        new StatusCommand("m", "bob"),
        new CheckCommand("bob", "m", true, 8),
        new ServingStatusCommand("model_cnn_wine_quality_0422", "demo"),
        new ServingPredictCommand("model_cnn_wine_quality_0422", "demo", "features", [[12]], "float32", "dense_input", 2, ["0", "1", "2"]),
    ];

    [Test]
    public void Every_operation_has_one_entry_under_its_command_word()
    {
        foreach (var operation in Enum.GetValues<MlModelOperation>())
        {
            var spec = CommandTables.Get(operation);
            spec.Operation.Should().Be(operation);
            CommandTables.Find(spec.Command)!.Find(spec.Name).Should().BeSameAs(spec);
        }
        CommandTables.All.SelectMany(t => t.Operations).Should().HaveCount(Enum.GetValues<MlModelOperation>().Length);
        CommandTables.Get(MlModelOperation.ServingPredict).Title.Should().Be("serving predict");
        Samples.Select(s => s.Operation).Should().BeEquivalentTo(Enum.GetValues<MlModelOperation>(), "every operation has a sample");
    }

    [TestCaseSource(nameof(Samples))]
    public void A_record_renders_and_binds_back_to_itself(MlModelCommand command)
    {
        // Through the binder as a dsl-object would carry it, and through the dsl-object's JSON.
        var act = () => CommandRules.Validate(command);
        act.Should().NotThrow();
        var op = CommandTables.Get(command.Operation);
        command.ToString().Should().StartWith(op.Title + " ");
        command.ToJson().Should().StartWith($"{{\"command\":\"{op.Command}\",\"params\":{{\"operation\":\"{op.Name}\"");
        // Every parameter the table declares is written, once, in the table's order.
        var keys = CommandRenderer.Parameters(command).Select(p => p.Spec.Key).ToList();
        keys.Should().Equal(op.Parameters.Select(p => p.Key).Where(k => keys.Contains(k)));
        if (command is not ImportCommand and not CheckCommand and not ListCommand)
        {
            keys.Should().Equal(op.Parameters.Select(p => p.Key), "the sample sets every parameter");
        }
    }

    [Test]
    public void Tuples_render_as_the_grammar_writes_them()
    {
        var predict = (ServingPredictCommand)Samples[^1];
        predict.ToString().Should().Be(
            "serving predict user=demo name=model_cnn_wine_quality_0422 col=features shape=[(12,)] dtype=float32 layer_name=dense_input version=2 tag=(0,1,2)");
        (predict with { Shape = [[28, 28, 1], [4]], Tag = ["setosa", "two words"] }).ToString().Should().EndWith(
            "shape=[(28,28,1),(4,)] dtype=float32 layer_name=dense_input version=2 tag=(setosa,'two words')");
        predict.ToJson().Should().Contain("\"shape\":[[12]]").And.Contain("\"tag\":[\"0\",\"1\",\"2\"]");
        (predict with { Shape = [[12]], Tag = ["0", "1", "2"] }).Should().Be(predict, "tuples compare by their items");
    }

    // Values each kind of parameter refuses, as a host could put them in a record.
    private static readonly Dictionary<ParamKind, object?[]> Invalid = new()
    {
        [ParamKind.Name] = ["x/1", "..", "", "a b", "x\u0000", new string('n', 129), "\ud800"],
        [ParamKind.Version] = [0, -3],
        [ParamKind.Label] = ["", "two\nlines", new string('l', 129)],
        [ParamKind.Text] = [new string('t', 70_000), "\udc00"],
        [ParamKind.Json] = ["[1]", "{", "3"],
        [ParamKind.Words] = [new List<string>(), new List<string> { "a'b" }, new List<string> { "" }, new List<string> { "x\n" }],
        [ParamKind.Shapes] = [new List<IReadOnlyList<int>>(), new List<IReadOnlyList<int>> { new[] { 0 } },
            new List<IReadOnlyList<int>> { Array.Empty<int>() }, new List<IReadOnlyList<int>> { new[] { -1, 3 } }],
    };

    private static IEnumerable<TestCaseData> InvalidRecords()
    {
        foreach (var sample in Samples)
        {
            var op = CommandTables.Get(sample.Operation);
            foreach (var spec in op.Parameters)
            {
                var values = spec.Kind == ParamKind.Choice ? ["caffe"] : Invalid.GetValueOrDefault(spec.Kind, []);
                foreach (var value in values)
                {
                    if (value is string { Length: 0 } && spec.Kind == ParamKind.Text && !spec.Required)
                    {
                        continue;
                    }
                    if (spec.Key == "format")
                    {
                        continue; // an enum in the record: it cannot hold a wrong word
                    }
                    var shown = value is string s ? (s.Length > 12 ? s[..12] + "…" : s) : value is System.Collections.ICollection c ? $"{c.Count} items" : value;
                    yield return new TestCaseData(sample, spec.Key, value).SetName($"{op.Title} {spec.Key}={shown}");
                }
            }
        }
    }

    [TestCaseSource(nameof(InvalidRecords))]
    public void A_host_s_record_is_held_to_every_rule_of_its_parameters(MlModelCommand sample, string key, object? value)
    {
        var record = With(sample, key, value);
        var act = () => CommandRules.Validate(record);
        var error = act.Should().Throw<MlModelException>().Which.Error;
        error.Code.Should().BeOneOf(ErrorCodes.InvalidValue, ErrorCodes.MissingParameter);
        error.Message.Should().StartWith(CommandTables.Get(sample.Operation).Title + ": ").And.Contain($"'{key}'");
        error.Line.Should().BeNull("a record has no text to point into");
    }

    [Test]
    public void The_language_s_description_comes_from_the_table()
    {
        MlModelLanguage.Commands.Select(c => c.Name).Should().Equal("mlmodel", "serving");
        var predict = MlModelLanguage.FindCommand("SERVING")!.Find("predict")!;
        predict.Command.Should().Be("serving");
        predict.Parameters.Select(p => p.Key).Should().Equal("user", "name", "col", "shape", "dtype", "layer_name", "version", "tag");
        predict.Parameters.Single(p => p.Key == "col").Default.Should().Be("feature");
        predict.Parameters.Single(p => p.Key == "shape").Kind.Should().Be("tuples");
        predict.Parameters.Single(p => p.Key == "tag").Kind.Should().Be("tuple");
        predict.Parameters.Single(p => p.Key == "dtype").Values.Should().Contain("float32");
        MlModelLanguage.Find("check")!.Parameters.Single(p => p.Key == "repair").Default.Should().Be("false");
        MlModelLanguage.Find("predict").Should().BeNull("predict is an operation of serving, not of mlmodel");
    }

    [Test]
    public void Tuples_bind_from_a_dsl_object_s_arrays_and_are_checked_item_by_item()
    {
        static RawValue Tuple(params RawValue[] items) => new(RawForm.Tuple, "", null, items);
        static RawValue N(string text) => new(RawForm.JsonNumber, text, null);
        static RawValue S(string text) => new(RawForm.JsonString, text, null);
        MlModelCommand Bind(params RawParameter[] p) => Binder.Bind(CommandTables.Serving, "predict", null, [new("name", null, S("m")), .. p], null);

        Bind(new RawParameter("shape", null, new RawValue(RawForm.List, "", null, [Tuple(N("28"), N("28"), N("1"))])),
                new RawParameter("tag", null, Tuple(S("a"), N("2"))))
            .Should().Be(new ServingPredictCommand("m", Shape: [[28, 28, 1]], Tag: ["a", "2"]));
        Bind(new RawParameter("shape", null, Tuple(N("12")))).Should().Be(new ServingPredictCommand("m", Shape: [[12]]), "a lone tuple is one input's shape");

        var error = FluentActions.Invoking(() => Bind(new RawParameter("shape", null, new RawValue(RawForm.List, "", null, [Tuple(N("28"), S("x"))]))))
            .Should().Throw<MlModelException>().Which.Error;
        error.Message.Should().Be("serving predict: invalid dimension in 'shape': 'x'; a dimension is a whole number from 1 up, without quotes (the batch dimension is left out)");
        FluentActions.Invoking(() => Bind(new RawParameter("tag", null, S("setosa"))))
            .Should().Throw<MlModelException>().Which.Message.Should().Be(
                "serving predict: invalid value for 'tag': 'setosa'; expected a tuple, such as tag=(setosa,versicolor,virginica)");
        FluentActions.Invoking(() => Binder.Bind(CommandTables.MlModel, "deploy", null,
                [new("name", null, S("m")), new("label", null, Tuple(S("a"), S("b")) with { Text = "[\"a\",\"b\"]" })], null))
            .Should().Throw<MlModelException>().Which.Message.Should().Be(
                "mlmodel deploy: invalid value for 'label': [\"a\",\"b\"]; expected a single value, not a tuple");
        FluentActions.Invoking(() => Binder.Bind(CommandTables.Serving, "fit", null, [], null))
            .Should().Throw<MlModelException>().Which.Message.Should().Be("serving: unknown operation 'fit'; allowed: status, predict");
    }

    // The record with one parameter changed, through its init accessor (what `with` does).
    private static MlModelCommand With(MlModelCommand sample, string key, object? value)
    {
        var name = key switch
        {
            "col" => "Column",
            _ => string.Concat(key.Split('_').Select(w => char.ToUpperInvariant(w[0]) + w[1..])),
        };
        var property = sample.GetType().GetProperty(name, BindingFlags.Public | BindingFlags.Instance)
            ?? throw new InvalidOperationException($"{sample.GetType().Name} has no property {name} for '{key}'");
        var clone = (MlModelCommand)sample.GetType().GetMethod("<Clone>$")!.Invoke(sample, null)!;
        property.SetValue(clone, value);
        return clone;
    }
}
