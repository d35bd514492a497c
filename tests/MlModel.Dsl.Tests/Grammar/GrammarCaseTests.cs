using System.Text.Json.Nodes;
using MlModel.Dsl.Binding;
using MlModel.Dsl.Syntax;

namespace MlModel.Dsl.Tests.Grammar;

/// <summary>
/// Runs every case of <c>grammar/cases/*.txt</c>: a valid case parses to exactly its dsl-object
/// and round-trips through text and JSON; an invalid case fails with exactly its code,
/// position and message. A <c>[syntax]</c> case stops at the syntax tree.
/// </summary>
public class GrammarCaseTests
{
    public static IEnumerable<TestCaseData> Cases() =>
        Directory.EnumerateFiles(RepositoryPaths.Cases, "*.txt")
            .Order(StringComparer.Ordinal)
            .SelectMany(GrammarCase.Load)
            .Select(c => new TestCaseData(c).SetName($"{c.File}: {c.Name}"));

    [TestCaseSource(nameof(Cases))]
    public void Case_holds(GrammarCase c)
    {
        if (c.SyntaxOnly)
        {
            SyntaxCase(c);
        }
        else if (c.IsValid)
        {
            ValidCase(c);
        }
        else
        {
            InvalidCase(c);
        }
    }

    private static MlModelCommand Run(GrammarCase c, out MlModelQueryStage? stage)
    {
        stage = null;
        switch (c.Input)
        {
            case CaseInput.Json:
                return MlModelParser.ParseJson(c.Text);
            case CaseInput.Query:
                stage = MlModelParser.ParseQuery(c.Text);
                return stage.Command;
            case CaseInput.KeywordOptional:
                return MlModelParser.Parse(c.Text, keywordOptional: true);
            default:
                return MlModelParser.Parse(c.Text);
        }
    }

    private static void ValidCase(GrammarCase c)
    {
        var command = Run(c, out var stage);

        JsonNode.DeepEquals(JsonNode.Parse(command.ToJson()), JsonNode.Parse(c.ExpectedJson!))
            .Should().BeTrue($"{c} should give {c.ExpectedJson} but gave {command.ToJson()}");
        if (stage is not null)
        {
            stage.Before.Should().Be(c.Before ?? "");
            stage.After.Should().Be(c.After ?? "");
        }

        // Round trips: canonical text and dsl-object both give the same record back.
        MlModelParser.Parse(command.ToString()).Should().Be(command, "the canonical text {0} parses back", command.ToString());
        MlModelParser.ParseJson(command.ToJson()).Should().Be(command, "the dsl-object parses back");
        MlModelParser.ParseJson(command.ToJson(indented: true)).Should().Be(command);
        MlModelParser.ParseAny(command.ToJson()).Should().Be(command);
        if (c.Input == CaseInput.Text)
        {
            MlModelParser.ParseAny(c.Text).Should().Be(command);
            MlModelParser.TryParse(c.Text, out var again, out var error).Should().BeTrue();
            again.Should().Be(command);
            error.Should().BeNull();
        }
    }

    private static void InvalidCase(GrammarCase c)
    {
        var act = () => Run(c, out _);
        var error = act.Should().Throw<MlModelException>().Which.Error;

        error.Code.Should().Be(c.ErrorCode, "the message was: {0}", error.Message);
        error.Message.Should().Be(c.ErrorMessage);
        var position = error.Line is int line && error.Column is int column ? (line, column) : ((int, int)?)null;
        position.Should().Be(c.ErrorPosition, "the message was: {0}", error.Message);

        if (c.Input == CaseInput.Text)
        {
            MlModelParser.TryParse(c.Text, out var command, out var tryError).Should().BeFalse();
            command.Should().BeNull();
            tryError.Should().BeEquivalentTo(error);
        }
    }

    /// <summary>
    /// A <c>[syntax]</c> case: the syntax tree (or the syntax error) of command text or of a
    /// query's stage, before any binder sees it. The tree is shown as a dsl-object whose values
    /// are as written: a word's or quoted string's text, base64's encoded text, a tuple as an
    /// array of its items' texts and a list as an array of such arrays.
    /// </summary>
    private static void SyntaxCase(GrammarCase c)
    {
        c.Input.Should().BeOneOf([CaseInput.Text, CaseInput.Query], "a syntax case is command text or a query");
        Func<(CommandSyntax Syntax, string Before, string After)> parse = c.Input == CaseInput.Query
            ? () => MlModelParser.ParseQuerySyntax(c.Text) is var s ? (s.Syntax, s.Before, s.After) : default
            : () => (MlModelParser.ParseSyntax(c.Text), "", "");
        if (!c.IsValid)
        {
            var error = parse.Should().Throw<MlModelException>().Which.Error;
            error.Code.Should().Be(c.ErrorCode, "the message was: {0}", error.Message);
            error.Message.Should().Be(c.ErrorMessage);
            (error.Line is int line && error.Column is int column ? (line, column) : ((int, int)?)null).Should().Be(c.ErrorPosition);
            return;
        }
        var (syntax, before, after) = parse();
        JsonNode.DeepEquals(TreeAsJson(syntax), JsonNode.Parse(c.ExpectedJson!))
            .Should().BeTrue($"{c} should give {c.ExpectedJson} but gave {TreeAsJson(syntax).ToJsonString()}");
        before.Should().Be(c.Before ?? "");
        after.Should().Be(c.After ?? "");

        // Whatever the binder makes of it, the whole parse gets past the syntax.
        try
        {
            _ = c.Input == CaseInput.Query ? MlModelParser.ParseQuery(c.Text).Command : MlModelParser.Parse(c.Text);
        }
        catch (MlModelException e)
        {
            e.Error.Code.Should().NotBe(ErrorCodes.Syntax, e.Error.Message);
        }
    }

    internal static JsonObject TreeAsJson(CommandSyntax syntax)
    {
        var parameters = new JsonObject { ["operation"] = syntax.Operation };
        foreach (var p in syntax.Parameters)
        {
            parameters.Add(p.Key ?? "(positional)", p.Value is null ? null : ValueAsJson(p.Value));
        }
        return new JsonObject { ["command"] = syntax.Command, ["params"] = parameters };
    }

    private static JsonNode ValueAsJson(ValueSyntax value) => value.Form switch
    {
        ValueForm.Tuple or ValueForm.List => new JsonArray([.. value.Items.Select(ValueAsJson)]),
        _ => JsonValue.Create(value.Text),
    };

    [Test]
    public void There_are_enough_cases_and_every_error_code_is_covered()
    {
        var cases = Cases().Select(d => (GrammarCase)d.Arguments[0]!).ToList();
        cases.Should().HaveCountGreaterThanOrEqualTo(150);
        cases.Select(c => c.Name).Should().OnlyHaveUniqueItems();
        cases.Where(c => !c.IsValid).Select(c => c.ErrorCode).Distinct().Should().Contain(
        [
            ErrorCodes.Syntax, ErrorCodes.UnknownOperation, ErrorCodes.UnknownParameter, ErrorCodes.MissingParameter,
            ErrorCodes.DuplicateParameter, ErrorCodes.MissingValue, ErrorCodes.InvalidValue, ErrorCodes.InvalidBase64,
            ErrorCodes.InvalidJson,
        ]);
        foreach (var operation in Enum.GetValues<MlModelOperation>())
        {
            var spec = MlModel.Dsl.Binding.CommandTables.Get(operation);
            cases.Should().Contain(c => c.IsValid
                && c.ExpectedJson!.Replace(" ", "", StringComparison.Ordinal).Contains($"\"command\":\"{spec.Command}\"", StringComparison.Ordinal)
                && c.ExpectedJson!.Replace(" ", "", StringComparison.Ordinal).Contains($"\"operation\":\"{spec.Name}\"", StringComparison.Ordinal),
                $"every operation has a valid case ({spec.Title})");
        }
    }
}
