using System.Collections;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Data.Sqlite;
using MlModel.Dsl.Backends;
using SQLitePCL;

namespace MlModel.Dsl.Data.Internal;

/// <summary>
/// Reads the list statement's 17 columns straight from SQLite's C API, for <c>mlmodel list</c>
/// over many versions.
/// </summary>
/// <remarks>
/// <para>Why: 100,000 rows through Microsoft.Data.Sqlite take about 460 ms here even with the
/// 17 columns, against about 85 ms for SQLite to step through them. Nearly all of the rest is
/// the cost of each column call: SQLitePCLRaw passes the statement as a SafeHandle, so every
/// <c>sqlite3_column_*</c> call takes and releases a reference (two interlocked operations and a
/// GC transition, about 40 ns, three calls per text column). Here the column functions are
/// called with the raw pointer and without a GC transition (they only read the current row),
/// and a value equal to the same column's value in the previous row (user, name, tool, state,
/// query ... in a list ordered by user and name) reuses that row's string.</para>
/// <para>Safety: the statement is prepared, bound, stepped and finalized through SQLitePCLRaw as
/// usual; only the per-column reads are direct. They must reach the very library instance
/// SQLitePCLRaw loaded, so this path is used only when SQLitePCLRaw's provider is
/// <c>e_sqlite3</c> and our binding of <c>e_sqlite3</c> returns the same address for
/// <c>sqlite3_libversion()</c> as SQLitePCLRaw's does. Otherwise (sqlcipher, the system
/// library, a platform without the binding), the repository reads through Dapper.</para>
/// </remarks>
internal sealed unsafe partial class SqliteListReader : IEnumerator<ModelListEntry>
{
    private const string Library = "e_sqlite3";
    private const int Columns = 17;
    // Longest value compared with the previous row's; longer ones are always decoded.
    private const int RememberedBytes = 256;

    private static readonly Lazy<bool> Usable = new(Probe);

    private readonly sqlite3_stmt _statement;
    private readonly IntPtr _handle;
    private readonly string?[] _previous = new string?[Columns];
    private readonly byte[][] _previousBytes = new byte[Columns][];
    private readonly int[] _previousLength = new int[Columns];
    private ModelListEntry? _current;

    private SqliteListReader(sqlite3_stmt statement)
    {
        _statement = statement;
        _handle = statement.DangerousGetHandle();
        for (var i = 0; i < Columns; i++)
        {
            _previousBytes[i] = new byte[RememberedBytes];
            _previousLength[i] = -1;
        }
    }

    /// <summary>Whether the direct reads can be used in this process.</summary>
    public static bool IsAvailable => Usable.Value && !ForceDapper;

    /// <summary>Tests only: takes the Dapper path, to compare both readers on the same rows.</summary>
    internal static bool ForceDapper { get; set; }

    /// <summary>The rows of <paramref name="sql"/> on <paramref name="connection"/>; null when the direct path is not available.</summary>
    public static SqliteListReader? TryOpen(SqliteConnection connection, string sql, ModelFilter filter)
    {
        if (!IsAvailable || connection.Handle is not { } db)
        {
            return null;
        }
        Check(raw.sqlite3_prepare_v2(db, sql, out var statement), db);
        try
        {
            Bind(statement, "@User", filter.User);
            Bind(statement, "@Name", filter.Name);
            Bind(statement, "@AnalysisTool", filter.AnalysisTool);
            Bind(statement, "@Deleting", ModelStates.Deleting);
            var serving = raw.sqlite3_bind_parameter_index(statement, "@Serving");
            if (serving > 0)
            {
                Check(raw.sqlite3_bind_int(statement, serving, filter.Serving == true ? 1 : 0), db);
            }
            if (raw.sqlite3_column_count(statement) != Columns)
            {
                throw new InvalidOperationException($"The list statement has {raw.sqlite3_column_count(statement)} columns, not {Columns}.");
            }
            return new SqliteListReader(statement);
        }
        catch
        {
            statement.Dispose();
            throw;
        }
    }

    private static void Bind(sqlite3_stmt statement, string parameter, string? value)
    {
        var index = raw.sqlite3_bind_parameter_index(statement, parameter);
        if (index > 0)
        {
            var db = raw.sqlite3_db_handle(statement);
            Check(value is null ? raw.sqlite3_bind_null(statement, index) : raw.sqlite3_bind_text(statement, index, value), db);
        }
    }

    public ModelListEntry Current => _current ?? throw new InvalidOperationException("No current row.");

    object IEnumerator.Current => Current;

    public bool MoveNext()
    {
        // Stepping goes through SQLitePCLRaw: it may wait on locks (the connection's busy
        // timeout applies) and is called once per row, so its overhead does not matter.
        var result = raw.sqlite3_step(_statement);
        if (result == raw.SQLITE_DONE)
        {
            _current = null;
            return false;
        }
        if (result != raw.SQLITE_ROW)
        {
            var db = raw.sqlite3_db_handle(_statement);
            throw new SqliteException(raw.sqlite3_errmsg(db).utf8_to_string(), result);
        }
        _current = new ModelListEntry
        {
            Id = sqlite3_column_int64(_handle, 0),
            User = Text(1) ?? "",
            Name = Text(2) ?? "",
            Version = (int)sqlite3_column_int64(_handle, 3),
            Description = Text(4),
            AnalysisTool = Text(5) ?? "",
            Kind = Text(6),
            Algorithm = Text(7),
            Feature = Text(8),
            Label = Text(9),
            Serving = sqlite3_column_int64(_handle, 10) != 0,
            ServingName = Text(11),
            State = Text(12),
            DataModelName = Text(13),
            Query = Text(14),
            Created = Time(15),
            Modified = Time(16),
        };
        return true;
    }

    private ReadOnlySpan<byte> Utf8(int column, out bool isNull)
    {
        if (sqlite3_column_type(_handle, column) == raw.SQLITE_NULL)
        {
            isNull = true;
            return default;
        }
        isNull = false;
        // column_text first, then column_bytes: the order SQLite documents for a stable length.
        var text = sqlite3_column_text(_handle, column);
        var length = sqlite3_column_bytes(_handle, column);
        if (text == null)
        {
            // A value that is not NULL comes back as a NULL pointer only when SQLite ran out of memory.
            throw new SqliteException($"SQLite could not return column {column} of the list (out of memory).", raw.SQLITE_NOMEM);
        }
        return new ReadOnlySpan<byte>(text, length);
    }

    private string? Text(int column)
    {
        var bytes = Utf8(column, out var isNull);
        if (isNull)
        {
            _previousLength[column] = -1;
            return null;
        }
        if (bytes.Length == _previousLength[column] && bytes.SequenceEqual(_previousBytes[column].AsSpan(0, bytes.Length)))
        {
            return _previous[column];
        }
        var value = Encoding.UTF8.GetString(bytes);
        _previous[column] = value;
        if (bytes.Length <= RememberedBytes)
        {
            bytes.CopyTo(_previousBytes[column]);
            _previousLength[column] = bytes.Length;
        }
        else
        {
            _previousLength[column] = -1;
        }
        return value;
    }

    private DateTime Time(int column)
    {
        var bytes = Utf8(column, out var isNull);
        if (isNull)
        {
            throw new FormatException($"A stored time (column {column} of the list) is NULL.");
        }
        // The repository's own form, yyyy-MM-dd HH:mm:ss.ffffff (DbTime.SqliteFormat), without
        // a string; anything else (written by another tool) goes through DbTime.
        return TryParseStored(bytes, out var time) ? time : DbTime.FromDb(Encoding.UTF8.GetString(bytes));
    }

    internal static bool TryParseStored(ReadOnlySpan<byte> s, out DateTime time)
    {
        time = default;
        if (s.Length != 26 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':' || s[19] != '.')
        {
            return false;
        }
        if (!Number(s[..4], out var year) || !Number(s.Slice(5, 2), out var month) || !Number(s.Slice(8, 2), out var day)
            || !Number(s.Slice(11, 2), out var hour) || !Number(s.Slice(14, 2), out var minute) || !Number(s.Slice(17, 2), out var second)
            || !Number(s.Slice(20, 6), out var micro))
        {
            return false;
        }
        if (year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }
        time = new DateTime(year, month, day, hour, minute, second, DateTimeKind.Utc).AddTicks(micro * 10L);
        return true;
    }

    private static bool Number(ReadOnlySpan<byte> digits, out int value)
    {
        value = 0;
        foreach (var d in digits)
        {
            var digit = d - (byte)'0';
            if ((uint)digit > 9)
            {
                return false;
            }
            value = (value * 10) + digit;
        }
        return true;
    }

    public void Reset() => throw new NotSupportedException();

    public void Dispose() => _statement.Dispose();

    private static void Check(int result, sqlite3 db)
    {
        if (result != raw.SQLITE_OK)
        {
            throw new SqliteException(raw.sqlite3_errmsg(db).utf8_to_string(), result);
        }
    }

    private static bool Probe()
    {
        try
        {
            if (!string.Equals(raw.GetNativeLibraryName(), Library, StringComparison.Ordinal))
            {
                return false;
            }
            // The same static string of the same loaded library: the same instance.
            fixed (byte* theirs = raw.sqlite3_libversion())
            {
                return theirs != null && theirs == sqlite3_libversion();
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // No provider set yet, no e_sqlite3 binding on this platform, ...: read through Dapper.
            return false;
        }
    }

    // Column accessors of the current row: short, no callbacks into .NET, no blocking system
    // calls, so a GC transition is not needed (the conditions SuppressGCTransition documents).

    [LibraryImport(Library)]
    private static partial byte* sqlite3_libversion();

    [LibraryImport(Library)]
    [SuppressGCTransition]
    private static partial int sqlite3_column_type(IntPtr statement, int column);

    [LibraryImport(Library)]
    [SuppressGCTransition]
    private static partial long sqlite3_column_int64(IntPtr statement, int column);

    [LibraryImport(Library)]
    [SuppressGCTransition]
    private static partial byte* sqlite3_column_text(IntPtr statement, int column);

    [LibraryImport(Library)]
    [SuppressGCTransition]
    private static partial int sqlite3_column_bytes(IntPtr statement, int column);
}
