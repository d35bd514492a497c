using System.Globalization;
using MlModel.Dsl.Backends;

namespace MlModel.Dsl.Execution;

/// <summary>The result tables of spec Part A and B.7: column names, order and types.</summary>
internal static class ResultTables
{
    private static ResultField S(string name) => new(name, FieldType.String);
    private static ResultField I(string name) => new(name, FieldType.Int);

    public static readonly IReadOnlyList<ResultField> List =
    [
        I("id"), S("user"), S("name"), I("version"), S("description"), S("analysis_tool"), S("kind"),
        S("algorithm"), S("feature"), S("label"), S("serving"), S("serving_name"), S("state"),
        S("data_model_name"), S("query"), S("create"), S("modified"),
    ];

    public static readonly IReadOnlyList<ResultField> Summary = [S("name"), S("value")];

    public static readonly IReadOnlyList<ResultField> Import = [S("result"), S("name"), I("version")];

    public static readonly IReadOnlyList<ResultField> Export = [S("result"), S("download_url"), I("expired time (sec)")];

    public static readonly IReadOnlyList<ResultField> Deploy = [S("result"), I("latest_version"), S("serving_name")];

    public static readonly IReadOnlyList<ResultField> History =
        [S("time"), S("actor"), S("operation"), S("user"), S("name"), I("version"), S("outcome"), S("message"), S("command")];

    public static readonly IReadOnlyList<ResultField> Status =
        [I("version"), S("registry"), S("label"), S("config"), S("config_labels"), S("server"), S("server_message"), S("consistent")];

    /// <summary><c>serving status</c>: per version of the serving name, the server's state and the deployment's label.</summary>
    public static readonly IReadOnlyList<ResultField> ServingStatus = [I("version"), S("state"), S("label")];

    public static readonly IReadOnlyList<ResultField> Check =
        [S("problem"), S("user"), S("name"), I("version"), S("detail"), S("action")];

    /// <summary>The summary's rows, in the spec's order.</summary>
    public static readonly IReadOnlyList<string> SummaryFields =
    [
        "id", "user", "name", "version", "filename", "format", "analysis_tool", "kind", "algorithm", "feature",
        "label", "parameter", "evaluation", "cross_validation", "grid_info", "train_cnt", "elapsed",
        "dictionary", "cdate", "mdate", "serving", "serving_name", "state",
    ];

    public static string ServingName(string user, string name) => user + "_" + name;

    public static string CompactTime(DateTime utc, TimeZoneInfo zone) =>
        TimeZoneInfo.ConvertTimeFromUtc(DateTime.SpecifyKind(utc, DateTimeKind.Utc), zone).ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);

    public static object?[] ListRow(ModelListEntry m, TimeFormatter times) =>
    [
        checked((int)m.Id), m.User, m.Name, m.Version, m.Description, m.AnalysisTool, m.Kind, m.Algorithm,
        m.Feature, m.Label, m.Serving ? "on" : "off", m.ServingName ?? ServingName(m.User, m.Name), m.State,
        m.DataModelName, m.Query, times.List(m.Created), times.List(m.Modified),
    ];

    public static IReadOnlyList<object?[]> SummaryRows(ModelVersion m, TimeZoneInfo zone)
    {
        string? Value(string field) => field switch
        {
            "id" => m.Id.ToString(CultureInfo.InvariantCulture),
            "user" => m.User,
            "name" => m.Name,
            "version" => m.Version.ToString(CultureInfo.InvariantCulture),
            "filename" => m.Filename,
            "format" => m.Format,
            "analysis_tool" => m.AnalysisTool,
            "kind" => m.Kind,
            "algorithm" => m.Algorithm,
            "feature" => m.Feature,
            "label" => m.Label,
            "parameter" => m.Parameter,
            "evaluation" => m.Evaluation,
            "cross_validation" => m.CrossValidation ?? "{}",
            "grid_info" => m.GridInfo ?? "{}",
            "train_cnt" => m.TrainCnt?.ToString(CultureInfo.InvariantCulture),
            "elapsed" => m.Elapsed?.ToString("R", CultureInfo.InvariantCulture),
            "dictionary" => m.Dictionary,
            "cdate" => CompactTime(m.Created, zone),
            "mdate" => CompactTime(m.Modified, zone),
            "serving" => m.Serving ? "on" : "off",
            "serving_name" => m.ServingName ?? ServingName(m.User, m.Name),
            "state" => m.State,
            _ => null,
        };
        return SummaryFields.Select(f => new object?[] { f, Value(f) }).ToList();
    }
}

/// <summary>
/// Formats UTC times as the list's <c>yyyy/MM/dd HH:mm:ss</c> in one time zone: the same text
/// as <c>ConvertTimeFromUtc(...).ToString(format)</c>, several times faster, because
/// <c>list</c> formats two times per row and may return 100,000 rows. One per result set (it
/// caches, and is not thread-safe).
/// </summary>
internal sealed class TimeFormatter
{
    private const long TicksPerMinute = TimeSpan.TicksPerMinute;
    private readonly TimeZoneInfo _zone;
    private readonly long? _fixedOffset;
    private long _cachedMinute = long.MinValue;
    private long _cachedOffset;

    public TimeFormatter(TimeZoneInfo zone)
    {
        _zone = zone;
        // A zone without adjustment rules (UTC, most server settings) has one offset forever.
        if (zone.GetAdjustmentRules().Length == 0)
        {
            _fixedOffset = zone.BaseUtcOffset.Ticks;
        }
    }

    public string List(DateTime utc)
    {
        var ticks = utc.Ticks;
        var local = new DateTime(Math.Clamp(ticks + Offset(utc), DateTime.MinValue.Ticks, DateTime.MaxValue.Ticks));
        return string.Create(19, local, static (span, t) =>
        {
            Digits(span[..4], t.Year);
            span[4] = '/';
            Digits(span.Slice(5, 2), t.Month);
            span[7] = '/';
            Digits(span.Slice(8, 2), t.Day);
            span[10] = ' ';
            Digits(span.Slice(11, 2), t.Hour);
            span[13] = ':';
            Digits(span.Slice(14, 2), t.Minute);
            span[16] = ':';
            Digits(span.Slice(17, 2), t.Second);
        });
    }

    private long Offset(DateTime utc)
    {
        if (_fixedOffset is { } offset)
        {
            return offset;
        }
        // Time-zone transitions fall on whole minutes (the tz database's transitions since
        // local mean time ended do), so one lookup serves every time in the same UTC minute.
        var minute = utc.Ticks / TicksPerMinute;
        if (minute != _cachedMinute)
        {
            _cachedOffset = _zone.GetUtcOffset(DateTime.SpecifyKind(utc, DateTimeKind.Utc)).Ticks;
            _cachedMinute = minute;
        }
        return _cachedOffset;
    }

    private static void Digits(Span<char> destination, int value)
    {
        for (var i = destination.Length - 1; i >= 0; i--)
        {
            destination[i] = (char)('0' + (value % 10));
            value /= 10;
        }
    }
}
