using System.Diagnostics;
using System.Reflection;

namespace MlModel.Dsl.Data.Internal;

/// <summary>
/// Every SQL text the repository may send: the constants of <see cref="Sql"/>, the list
/// variants, the migration scripts and the dialects' own few statements. Debug builds (the
/// test runs) check each command against it, so a statement built from a value, rather than
/// bound as a parameter, fails the tests the day someone writes one.
/// </summary>
internal static class SqlCatalogue
{
    private static readonly HashSet<string> Statements = Build();

    public static IReadOnlyCollection<string> All => Statements;

    [Conditional("DEBUG")]
    public static void AssertKnown(string sql)
    {
        if (!Statements.Contains(sql))
        {
            throw new InvalidOperationException("SQL text that is not in the statement catalogue (values must be parameters): " + sql);
        }
    }

    private static HashSet<string> Build()
    {
        var statements = new HashSet<string>(StringComparer.Ordinal);
        foreach (var type in new[] { typeof(Sql), typeof(SqliteDialect), typeof(PostgresDialect) })
        {
            foreach (var field in type.GetFields(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic))
            {
                if (field.IsLiteral && field.GetRawConstantValue() is string text)
                {
                    statements.Add(text);
                }
            }
        }
        statements.UnionWith(Sql.ListVariants);
        statements.UnionWith(Sql.ListEntryVariants);
        foreach (var migration in Migrations.All)
        {
            statements.UnionWith(migration.Sqlite);
            statements.UnionWith(migration.Postgres);
        }
        return statements;
    }
}
