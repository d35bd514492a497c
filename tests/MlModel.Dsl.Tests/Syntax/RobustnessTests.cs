using MlModel.Dsl.Tests.Grammar;

namespace MlModel.Dsl.Tests.Syntax;

/// <summary>
/// Hostile input: whatever comes in, a parse ends quickly with a command or with
/// <see cref="MlModelException"/>; no other exception escapes.
/// </summary>
public class RobustnessTests
{
    private const string Import = "mlmodel import name=m analysis_tool=tf kind=c algorithm=deep format=h5 connector_id=1 path=p.tar ";

    public static IEnumerable<TestCaseData> HostileText()
    {
        const int Big = 1 << 20;
        yield return Case("empty", "");
        yield return Case("a megabyte bare word", "mlmodel summary name=" + new string('a', Big));
        yield return Case("a megabyte key", "mlmodel summary " + new string('k', Big) + "=x");
        yield return Case("a megabyte operation", "mlmodel " + new string('o', Big));
        yield return Case("a megabyte of equals", "mlmodel summary name" + new string('=', Big));
        yield return Case("a megabyte of quotes", "mlmodel summary name=" + new string('\'', Big));
        yield return Case("a megabyte unclosed quote", Import + "description='" + new string('x', Big));
        yield return Case("a megabyte unclosed base64", Import + "description=base64(" + new string('A', Big));
        yield return Case("a megabyte of invalid base64", Import + "description=base64(" + new string('*', Big) + ")");
        yield return Case("a megabyte base64 description", Import + "description=base64(" + Convert.ToBase64String(new byte[Big].Select(_ => (byte)'a').ToArray()) + ")");
        yield return Case("a megabyte of white space", "mlmodel list" + new string(' ', Big));
        yield return Case("a megabyte of line breaks before the error", new string('\n', Big) + "mlmodel summary name=a version=0");
        yield return Case("a hundred thousand parameters", "mlmodel summary " + string.Concat(Enumerable.Repeat("name=a ", 100_000)));
        yield return Case("a hundred thousand positional words", "mlmodel summary " + string.Concat(Enumerable.Repeat("a ", 100_000)));
        yield return Case("a hundred thousand parentheses", "mlmodel summary name=" + new string('(', 100_000));
        yield return Case("NUL characters", "mlmodel\0summary\0name=\0");
        yield return Case("NUL in a quoted description", Import + "description='a\0b'");
        yield return Case("a lone high surrogate as a value", "mlmodel summary name=\uD800");
        yield return Case("a lone low surrogate as a key", "mlmodel summary \uDC00=a");
        yield return Case("a lone surrogate as the operation", "mlmodel \uD800");
        yield return Case("a lone surrogate in a description", Import + "description='\uDBFF'");
        yield return Case("a lone surrogate in the first word", "\uD800mlmodel list");
        yield return Case("a byte order mark first", "\uFEFFmlmodel list");
        yield return Case("every control character", "mlmodel summary name=" + new string([.. Enumerable.Range(0, 32).Select(i => (char)i)]));
        yield return Case("a huge version", "mlmodel summary name=a version=" + new string('9', Big));
        yield return Case("a query of a hundred thousand pipes", "*" + string.Concat(Enumerable.Repeat(" |", 100_000)) + " mlmodel list");
        yield return Case("a query of a hundred thousand quotes", "* | mlmodel list | " + new string('\'', 100_001));
    }

    public static IEnumerable<TestCaseData> HostileJson()
    {
        const int Big = 1 << 20;
        yield return Case("empty json", "");
        yield return Case("null", "null");
        yield return Case("a number", "1e400");
        yield return Case("a string", "\"mlmodel list\"");
        yield return Case("deeply nested arrays", new string('[', 100_000) + new string(']', 100_000));
        yield return Case("deeply nested objects", string.Concat(Enumerable.Repeat("{\"a\":", 10_000)) + "1" + new string('}', 10_000));
        yield return Case("nesting inside params", "{\"command\":\"mlmodel\",\"params\":{\"operation\":\"list\",\"name\":" + new string('[', 1000) + new string(']', 1000) + "}}");
        yield return Case("a thousand-digit version", "{\"command\":\"mlmodel\",\"params\":{\"operation\":\"summary\",\"name\":\"a\",\"version\":" + new string('9', 1000) + "}}");
        yield return Case("a version of 1e400", "{\"command\":\"mlmodel\",\"params\":{\"operation\":\"summary\",\"name\":\"a\",\"version\":1e400}}");
        yield return Case("a negative zero version", "{\"command\":\"mlmodel\",\"params\":{\"operation\":\"summary\",\"name\":\"a\",\"version\":-0}}");
        yield return Case("a number for every string", "{\"command\":\"mlmodel\",\"params\":{\"operation\":\"import\",\"name\":1,\"analysis_tool\":2,\"kind\":3,\"algorithm\":4,\"format\":5,\"connector_id\":6,\"path\":7}}");
        yield return Case("a lone surrogate escape in a key", "{\"command\":\"mlmodel\",\"params\":{\"operation\":\"list\",\"\\udc00\":\"a\"}}");
        yield return Case("a lone surrogate escape in the operation", "{\"command\":\"mlmodel\",\"params\":{\"operation\":\"\\ud800\"}}");
        yield return Case("a lone surrogate escape in the command", "{\"command\":\"\\ud800\",\"params\":{}}");
        yield return Case("a raw lone surrogate", "{\"command\":\"mlmodel\",\"params\":{\"operation\":\"list\",\"name\":\"\uD800\"}}");
        yield return Case("a raw NUL inside a string", "{\"command\":\"mlmodel\",\"params\":{\"operation\":\"list\",\"name\":\"a\0b\"}}");
        yield return Case("an escaped NUL", "{\"command\":\"mlmodel\",\"params\":{\"operation\":\"list\",\"name\":\"a\\u0000b\"}}");
        yield return Case("a byte order mark", "\uFEFF{\"command\":\"mlmodel\",\"params\":{\"operation\":\"list\"}}");
        yield return Case("a megabyte description", "{\"command\":\"mlmodel\",\"params\":{\"operation\":\"import\",\"name\":\"m\",\"analysis_tool\":\"tf\",\"kind\":\"c\",\"algorithm\":\"d\",\"format\":\"h5\",\"connector_id\":\"1\",\"path\":\"p\",\"description\":\"" + new string('x', Big) + "\"}}");
        yield return Case("a parameter object with a lone surrogate", "{\"command\":\"mlmodel\",\"params\":{\"operation\":\"import\",\"name\":\"m\",\"analysis_tool\":\"tf\",\"kind\":\"c\",\"algorithm\":\"d\",\"format\":\"h5\",\"connector_id\":\"1\",\"path\":\"p\",\"parameter\":{\"a\":\"\\ud800\"}}}");
        yield return Case("ten thousand parameters", "{\"command\":\"mlmodel\",\"params\":{\"operation\":\"list\"" + string.Concat(Enumerable.Range(0, 10_000).Select(i => $",\"k{i}\":\"v\"")) + "}}");
    }

    private static TestCaseData Case(string name, string text) => new TestCaseData(text).SetName(name);

    [TestCaseSource(nameof(HostileText))]
    public void Hostile_text_ends_with_a_command_or_the_library_error(string text)
    {
        PropertyTests.OnlyMlModelException(() => MlModelParser.Parse(text));
        PropertyTests.OnlyMlModelException(() => MlModelParser.ParseQuery(text));
        PropertyTests.OnlyMlModelException(() => MlModelParser.ParseAny(text));
    }

    [TestCaseSource(nameof(HostileJson))]
    public void Hostile_json_ends_with_a_command_or_the_library_error(string json)
    {
        PropertyTests.OnlyMlModelException(() => MlModelParser.ParseJson(json));
        PropertyTests.OnlyMlModelException(() => MlModelParser.ParseAny(json));
    }

    [Test]
    public void Messages_show_a_long_value_shortened_and_invisible_characters_escaped()
    {
        var act = () => MlModelParser.Parse("mlmodel summary name=a version=" + new string('9', 5000) + "\u0007");
        act.Should().Throw<MlModelException>().Which.Message.Should().Be(
            "mlmodel summary: invalid value for 'version': '9999999999999999999999999999999999999999...' (line 1, column 32); "
            + "expected a whole number from 1 to 2147483647, written without quotes, sign or leading zeros");

        act = () => MlModelParser.Parse("mlmodel summary name=a\u0007b");
        act.Should().Throw<MlModelException>().Which.Message.Should().Be(
            "mlmodel summary: invalid value for 'name': 'a\\u0007b' (line 1, column 22); "
            + "a name is 1 to 128 letters, digits, '_', '.' or '-', starting with a letter or digit");
    }

    [Test]
    public void A_lone_surrogate_in_text_is_an_invalid_value_not_a_crash_when_rendered()
    {
        var act = () => MlModelParser.Parse(Import + "description='\uD800'");
        act.Should().Throw<MlModelException>().Which.Message.Should().Be(
            "mlmodel import: invalid value for 'description': '\\uD800' (quoted) (line 1, column 110); "
            + "it holds a lone surrogate U+D800, which is not Unicode text");
    }

    [Test]
    public void A_dsl_object_with_a_raw_lone_surrogate_says_where()
    {
        var act = () => MlModelParser.ParseJson("{\"command\":\"mlmodel\",\n\"params\":{\"operation\":\"\uDC00\"}}");
        var error = act.Should().Throw<MlModelException>().Which.Error;
        error.Code.Should().Be(ErrorCodes.InvalidJson);
        error.Message.Should().Be("mlmodel: the dsl-object is not valid Unicode text (line 2, column 24): it holds a lone surrogate U+DC00");
        (error.Line, error.Column).Should().Be((2, 24));
    }
}
