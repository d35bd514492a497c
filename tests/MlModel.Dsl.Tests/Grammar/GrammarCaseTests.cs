using System.Text.Json.Nodes;

namespace MlModel.Dsl.Tests.Grammar;

/// <summary>
/// Runs every case of <c>grammar/cases/*.txt</c>: a valid case parses to exactly its dsl-object
/// and round-trips through text and JSON; an invalid case fails with exactly its code,
/// position and message.
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
        if (c.IsValid)
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
            cases.Should().Contain(c => c.IsValid && c.ExpectedJson!.Contains($"\"command\":\"{spec.Command}\"", StringComparison.Ordinal)
                && c.ExpectedJson!.Contains($"\"operation\":\"{spec.Name}\"", StringComparison.Ordinal),
                $"every operation has a valid case ({spec.Title})");
        }
    }
}
