using MlModel.Dsl.Backends;
using MlModel.Dsl.Data.Internal;

namespace MlModel.Dsl.Data.Tests;

/// <summary>
/// The defensive half of "every query is parameterised": the repository can only send
/// statements from a fixed catalogue (checked on every command in Debug builds, so every
/// repository test also checks it), and no statement in it carries a literal value.
/// </summary>
public sealed class SqlCatalogueTests
{
    [Test]
    public void No_statement_contains_a_string_literal()
    {
        SqlCatalogue.All.Should().NotBeEmpty();
        SqlCatalogue.All.Should().OnlyContain(sql => !sql.Contains('\'', StringComparison.Ordinal),
            "values reach the database as parameters, never as text inside a statement");
    }

    [Test]
    public void Every_list_filter_combination_is_a_catalogued_statement_with_parameters()
    {
        foreach (var user in new[] { null, "u" })
        foreach (var name in new[] { null, "n" })
        foreach (var tool in new[] { null, "tf" })
        foreach (var serving in new bool?[] { null, true })
        {
            var sql = Sql.List(new ModelFilter(user, name, tool, serving));
            SqlCatalogue.All.Should().Contain(sql);
            sql.Contains("@User", StringComparison.Ordinal).Should().Be(user is not null);
            sql.Contains("@Name", StringComparison.Ordinal).Should().Be(name is not null);
            sql.Contains("@AnalysisTool", StringComparison.Ordinal).Should().Be(tool is not null);
            sql.Contains("@Serving", StringComparison.Ordinal).Should().Be(serving is not null);
            sql.Should().EndWith("ORDER BY user_name, name, version");
        }
    }

    [Test]
    public void A_statement_built_from_a_value_is_refused()
    {
        var built = Sql.GetLatest.Replace("@User", "'root'", StringComparison.Ordinal);

#if DEBUG
        FluentActions.Invoking(() => SqlCatalogue.AssertKnown(built)).Should().Throw<InvalidOperationException>()
            .WithMessage("SQL text that is not in the statement catalogue*");
#endif
        FluentActions.Invoking(() => SqlCatalogue.AssertKnown(Sql.GetLatest)).Should().NotThrow();
        SqlCatalogue.All.Should().NotContain(built);
    }
}
