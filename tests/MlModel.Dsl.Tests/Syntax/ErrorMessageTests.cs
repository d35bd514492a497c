namespace MlModel.Dsl.Tests.Syntax;

public class ErrorMessageTests
{
    [TestCase("mlmodel delete name=a", "missing_parameter", "mlmodel delete: missing required parameter 'version' (line 1, column 9)")]
    [TestCase("mlmodel summary nmae=x", "unknown_parameter", "mlmodel summary: unknown parameter 'nmae' (line 1, column 17); did you mean 'name'? allowed: user, name, version")]
    public void Errors_are_pinned_word_for_word(string text, string code, string message)
    {
        var act = () => MlModelParser.Parse(text);
        var error = act.Should().Throw<MlModelException>().Which.Error;
        error.Code.Should().Be(code);
        error.Message.Should().Be(message);
    }
}
