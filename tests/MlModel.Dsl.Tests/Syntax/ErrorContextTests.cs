namespace MlModel.Dsl.Tests.Syntax;

/// <summary>An error's command and operation are fields; its message's prefix is made from them, once.</summary>
public class ErrorContextTests
{
    [Test]
    public void Create_renders_the_prefix_from_the_command_and_the_operation()
    {
        var error = MlModelError.Create(ErrorCodes.NotFound, "mlmodel", "summary", "no model 'm' of user 'root'");
        error.Message.Should().Be("mlmodel summary: no model 'm' of user 'root'");
        error.Command.Should().Be("mlmodel");
        error.Operation.Should().Be("summary");
        error.Detail.Should().Be("no model 'm' of user 'root'");

        MlModelError.Create(ErrorCodes.Syntax, "mlmodel", null, "the query has no mlmodel stage").Message.Should().Be("mlmodel: the query has no mlmodel stage");
        MlModelError.Create(ErrorCodes.Backend, null, null, "the disk is full").Message.Should().Be("the disk is full");
        var act = () => MlModelError.Create(ErrorCodes.Backend, null, "deploy", "x");
        act.Should().Throw<ArgumentException>("an operation belongs to a command");
    }

    [Test]
    public void A_backend_error_is_placed_in_a_command_once()
    {
        var backend = new MlModelError(ErrorCodes.Backend, "the bucket of connector 'c' does not exist on the server");
        backend.Command.Should().BeNull();
        backend.Operation.Should().BeNull();
        backend.Detail.Should().Be(backend.Message);

        var placed = backend.In("mlmodel", "import");
        placed.Message.Should().Be("mlmodel import: the bucket of connector 'c' does not exist on the server");
        placed.Command.Should().Be("mlmodel");
        placed.Operation.Should().Be("import");
        placed.Detail.Should().Be(backend.Message);
        placed.Code.Should().Be(ErrorCodes.Backend);

        // An error that already names its command keeps it: the prefix is never added twice.
        placed.In("mlmodel", "export").Should().BeSameAs(placed);
        placed.In("serving", "status").Message.Should().Be("mlmodel import: the bucket of connector 'c' does not exist on the server");
    }

    [Test]
    public void Placing_an_error_keeps_its_position_and_expectations()
    {
        var error = new MlModelError(ErrorCodes.Syntax, "unexpected ')'", 2, 7, ["value"]).In("mlmodel", "list");
        error.Should().Be(MlModelError.Create(ErrorCodes.Syntax, "mlmodel", "list", "unexpected ')'", 2, 7, error.Expected));
        (error.Line, error.Column).Should().Be((2, 7));
        error.Expected.Should().Equal("value");
    }

    [TestCase("mlmodel delete name=a", "delete", "missing required parameter 'version' (line 1, column 9)")]
    [TestCase("mlmodel deploy name=a version=x", "deploy", null)]
    [TestCase("mlmodel lst", null, null)]
    public void Parse_errors_carry_their_command_and_operation(string text, string? operation, string? detail)
    {
        var act = () => MlModelParser.Parse(text);
        var error = act.Should().Throw<MlModelException>().Which.Error;
        error.Command.Should().Be("mlmodel");
        error.Operation.Should().Be(operation);
        error.Message.Should().Be(MlModelError.Render("mlmodel", operation, error.Detail));
        error.Detail.Should().NotStartWith("mlmodel");
        if (detail is not null)
        {
            error.Detail.Should().Be(detail);
        }
    }

    [Test]
    public void Dsl_object_errors_carry_the_command()
    {
        var act = () => MlModelParser.ParseJson("""{"command":"mlmodel","params":{}}""");
        var error = act.Should().Throw<MlModelException>().Which.Error;
        error.Code.Should().Be(ErrorCodes.MissingParameter);
        error.Command.Should().Be("mlmodel");
        error.Operation.Should().BeNull();
        error.Message.Should().StartWith("mlmodel: missing required parameter 'operation'; allowed: list, ");
    }
}
