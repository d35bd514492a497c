using System.Reflection;
using MlModel.Dsl.Syntax;
using Pidgin;

namespace MlModel.Dsl.Tests.Syntax;

/// <summary>The grammar uses Pidgin through its public combinators only.</summary>
public class PidginUsageTests
{
    private static List<Type> ParserSubclasses(Assembly assembly) =>
        [.. assembly.GetTypes().Where(t => BaseTypes(t).Any(b => b.IsGenericType && b.GetGenericTypeDefinition() == typeof(Parser<,>)))];

    private static IEnumerable<Type> BaseTypes(Type type)
    {
        for (var b = type.BaseType; b is not null; b = b.BaseType)
        {
            yield return b;
        }
    }

    [Test]
    public void No_type_of_the_library_subclasses_a_Pidgin_parser()
    {
        // Pidgin: Parser<TToken, T> "is not intended to be subclassed by users of the library",
        // and the TryParse a subclass overrides is "unstable".
        ParserSubclasses(typeof(MlModelParser).Assembly).Should().BeEmpty();
    }

    [Test]
    public void The_subclass_check_finds_subclasses_where_there_are_some()
    {
        // Pidgin's own combinators are such subclasses: the check above can fail.
        ParserSubclasses(typeof(Parser<,>).Assembly).Should().Contain(t => t.Name.StartsWith("OneOfParser", StringComparison.Ordinal));
    }

    [Test]
    public void A_host_sees_what_the_grammar_expected_in_words()
    {
        var error = MlModelGrammar.Command.Parse("mlmodel summary description='open").Error!;

        error.ErrorOffset.Should().Be(33);
        error.EOF.Should().BeTrue();
        error.Expected.Select(e => e.Label).Should().Equal("a closing quote (') on the same line");
        error.Message.Should().BeNull("nothing but Pidgin's own fields carries the error");
    }
}
