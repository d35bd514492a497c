using System.Globalization;

namespace MlModel.Dsl.Data.Internal;

/// <summary>How times go in and out: always UTC, at microsecond precision on both databases.</summary>
internal static class DbTime
{
    /// <summary>SQLite's text form: fixed width, so text order is time order.</summary>
    public const string SqliteFormat = "yyyy-MM-dd HH:mm:ss.ffffff";

    /// <summary>
    /// UTC, truncated to microseconds (PostgreSQL's precision, applied on SQLite too so the
    /// two agree). Local times are converted; unspecified ones are taken as UTC.
    /// </summary>
    public static DateTime Normalize(DateTime time)
    {
        var utc = time.Kind switch
        {
            DateTimeKind.Local => time.ToUniversalTime(),
            DateTimeKind.Unspecified => DateTime.SpecifyKind(time, DateTimeKind.Utc),
            _ => time,
        };
        return new DateTime(utc.Ticks - (utc.Ticks % 10), DateTimeKind.Utc);
    }

    /// <summary>The time as SQLite stores it.</summary>
    public static string ToSqliteText(DateTime utc) => utc.ToString(SqliteFormat, CultureInfo.InvariantCulture);

    /// <summary>
    /// A time read back: a <see cref="DateTime"/> from PostgreSQL (already UTC) or SQLite's text.
    /// The result's kind is always <see cref="DateTimeKind.Utc"/>.
    /// </summary>
    public static DateTime FromDb(object value) => value switch
    {
        DateTime time => DateTime.SpecifyKind(time, DateTimeKind.Utc),
        string text => ParseSqliteText(text),
        _ => throw new FormatException($"A stored time has an unexpected type: {value.GetType().Name}."),
    };

    private static DateTime ParseSqliteText(string text)
    {
        const DateTimeStyles Utc = DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal;
        if (DateTime.TryParseExact(text, SqliteFormat, CultureInfo.InvariantCulture, Utc, out var exact))
        {
            return exact;
        }
        // Rows written by hand or by another tool (ISO 8601 with or without an offset).
        return DateTime.Parse(text, CultureInfo.InvariantCulture, Utc);
    }
}
