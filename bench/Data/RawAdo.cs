using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Data.Internal;
using Npgsql;

namespace MlModel.Dsl.Data.Benchmarks;

/// <summary>
/// The baseline: the repository's own SELECT statements run through plain ADO.NET, read by
/// ordinal with typed getters into the same <see cref="ModelVersion"/>. Connections come from
/// the provider's pool, one per call, as the repository does it.
/// </summary>
public sealed class RawAdo : IAsyncDisposable
{
    private readonly string? _sqlite;
    private readonly NpgsqlDataSource? _postgres;

    public RawAdo(string database)
    {
        if (database == BenchDatabases.Sqlite)
        {
            _sqlite = new SqliteConnectionStringBuilder { DataSource = BenchDatabases.SqlitePath, Pooling = true }.ConnectionString;
        }
        else
        {
            _postgres = NpgsqlDataSource.Create(BenchDatabases.PostgresConnectionString);
        }
    }

    private DbConnection Open()
    {
        if (_postgres is not null)
        {
            return _postgres.OpenConnection();
        }
        var connection = new SqliteConnection(_sqlite);
        connection.Open();
        return connection;
    }

    private async ValueTask<DbConnection> OpenAsync()
    {
        if (_postgres is not null)
        {
            return await _postgres.OpenConnectionAsync();
        }
        var connection = new SqliteConnection(_sqlite);
        await connection.OpenAsync();
        return connection;
    }

    public IEnumerable<ModelVersion> List()
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = Sql.List(new ModelFilter());
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            yield return Read(reader);
        }
    }

    /// <summary>The list statement's 17 columns, as <c>mlmodel list</c> reads them.</summary>
    public IEnumerable<ModelListEntry> ListEntries()
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = Sql.ListEntries(new ModelFilter());
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            yield return ReadEntry(reader);
        }
    }

    public async Task<ModelVersion?> GetLatestAsync(string user, string name)
    {
        await using var connection = await OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = Sql.GetLatest;
        Add(command, "@User", user);
        Add(command, "@Name", name);
        await using var reader = await command.ExecuteReaderAsync();
        return await reader.ReadAsync() ? Read(reader) : null;
    }

    private static void Add(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }

    private static ModelVersion Read(DbDataReader r) => new()
    {
        Id = r.GetInt64(0),
        User = r.GetString(1),
        Name = r.GetString(2),
        Version = r.GetInt32(3),
        Description = Text(r, 4),
        AnalysisTool = r.GetString(5),
        Kind = Text(r, 6),
        Algorithm = Text(r, 7),
        Feature = Text(r, 8),
        Label = Text(r, 9),
        Filename = Text(r, 10),
        Format = Text(r, 11),
        Parameter = Text(r, 12),
        Evaluation = Text(r, 13),
        CrossValidation = Text(r, 14),
        GridInfo = Text(r, 15),
        TrainCnt = r.IsDBNull(16) ? null : r.GetInt64(16),
        Elapsed = r.IsDBNull(17) ? null : r.GetDouble(17),
        Dictionary = Text(r, 18),
        Serving = r.GetBoolean(19),
        ServingName = Text(r, 20),
        ServingLabel = Text(r, 21),
        State = Text(r, 22),
        DataModelName = Text(r, 23),
        Query = Text(r, 24),
        StorageKey = Text(r, 25),
        SizeBytes = r.IsDBNull(26) ? null : r.GetInt64(26),
        Created = Time(r, 27),
        Modified = Time(r, 28),
    };

    private static ModelListEntry ReadEntry(DbDataReader r) => new()
    {
        Id = r.GetInt64(0),
        User = r.GetString(1),
        Name = r.GetString(2),
        Version = r.GetInt32(3),
        Description = Text(r, 4),
        AnalysisTool = r.GetString(5),
        Kind = Text(r, 6),
        Algorithm = Text(r, 7),
        Feature = Text(r, 8),
        Label = Text(r, 9),
        Serving = r.GetBoolean(10),
        ServingName = Text(r, 11),
        State = Text(r, 12),
        DataModelName = Text(r, 13),
        Query = Text(r, 14),
        Created = Time(r, 15),
        Modified = Time(r, 16),
    };

    private static string? Text(DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    private static DateTime Time(DbDataReader r, int i) => r.GetFieldType(i) == typeof(string)
        ? DateTime.ParseExact(r.GetString(i), DbTime.SqliteFormat, CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal)
        : DateTime.SpecifyKind(r.GetDateTime(i), DateTimeKind.Utc);

    public ValueTask DisposeAsync() => _postgres?.DisposeAsync() ?? ValueTask.CompletedTask;
}

/// <summary>A version as a row of the <c>list</c> table (spec Part A's seventeen columns).</summary>
public static class ListRow
{
    public static object?[] From(ModelListEntry m) =>
    [
        m.Id, m.User, m.Name, m.Version, m.Description, m.AnalysisTool, m.Kind, m.Algorithm, m.Feature,
        m.Label, m.Serving ? "on" : "off", m.ServingName, m.State, m.DataModelName, m.Query, m.Created, m.Modified,
    ];

    /// <summary>As the list table shows it: times in the local zone, as text.</summary>
    public static object?[] Formatted(ModelListEntry m) =>
    [
        (int)m.Id, m.User, m.Name, m.Version, m.Description, m.AnalysisTool, m.Kind, m.Algorithm, m.Feature,
        m.Label, m.Serving ? "on" : "off", m.ServingName, m.State, m.DataModelName, m.Query, Display(m.Created), Display(m.Modified),
    ];

    private static string Display(DateTime utc) =>
        TimeZoneInfo.ConvertTimeFromUtc(utc, TimeZoneInfo.Local).ToString("yyyy/MM/dd HH:mm:ss", CultureInfo.InvariantCulture);
}
