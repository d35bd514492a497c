using System.Globalization;
using MlModel.Dsl.Execution;

namespace MlModel.Dsl.Tests.Execution;

/// <summary>
/// The list's time formatter is a faster spelling of ConvertTimeFromUtc + ToString: it must give
/// the same text in every zone, across daylight-saving changes included.
/// </summary>
public sealed class TimeFormatterTests
{
    // Fixed offsets, half and quarter hours, northern and southern DST, a 30-minute DST (Lord
    // Howe) and zones whose rules changed over the years (Seoul had DST in 1987-88).
    private static readonly string[] Zones =
    [
        "UTC", "Asia/Seoul", "America/New_York", "Europe/London", "Asia/Kolkata", "Asia/Kathmandu",
        "Australia/Lord_Howe", "Pacific/Chatham", "America/Sao_Paulo", "Africa/Casablanca", "America/St_Johns",
    ];

    private static string Expected(DateTime utc, TimeZoneInfo zone) =>
        TimeZoneInfo.ConvertTimeFromUtc(utc, zone).ToString("yyyy/MM/dd HH:mm:ss", CultureInfo.InvariantCulture);

    [TestCaseSource(nameof(Zones))]
    public void Agrees_with_the_framework_at_random_times_and_around_every_transition(string zoneId)
    {
        var zone = TimeZoneInfo.FindSystemTimeZoneById(zoneId);
        var formatter = new TimeFormatter(zone);
        var random = new Random(zoneId.GetHashCode(StringComparison.Ordinal));
        var times = new List<DateTime>();
        for (var i = 0; i < 20_000; i++)
        {
            times.Add(new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddTicks((long)(random.NextDouble() * TimeSpan.TicksPerDay * 365 * 70)));
        }
        // Every minute of the six hours around each change of offset, in order (the formatter
        // caches the last minute's offset, so order matters).
        for (var hour = new DateTime(1985, 1, 1, 0, 0, 0, DateTimeKind.Utc); hour.Year < 2030; hour = hour.AddHours(1))
        {
            if (zone.GetUtcOffset(hour) != zone.GetUtcOffset(hour.AddHours(1)))
            {
                for (var t = hour.AddHours(-3); t < hour.AddHours(3); t = t.AddSeconds(59.5))
                {
                    times.Add(t);
                }
            }
        }

        foreach (var time in times)
        {
            formatter.List(time).Should().Be(Expected(time, zone), $"{time:O} in {zoneId}");
        }
    }

    [Test]
    public void Formats_the_extremes_without_overflowing()
    {
        var seoul = new TimeFormatter(TimeZoneInfo.FindSystemTimeZoneById("Asia/Seoul"));
        var utc = new TimeFormatter(TimeZoneInfo.Utc);

        utc.List(new DateTime(1, 1, 1, 0, 0, 0, DateTimeKind.Utc)).Should().Be("0001/01/01 00:00:00");
        utc.List(new DateTime(9999, 12, 31, 23, 59, 59, DateTimeKind.Utc)).Should().Be("9999/12/31 23:59:59");
        seoul.List(new DateTime(2024, 12, 31, 15, 0, 0, DateTimeKind.Utc)).Should().Be("2025/01/01 00:00:00");
    }
}
