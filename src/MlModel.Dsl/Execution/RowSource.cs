using System.Data.Common;
using System.Runtime.CompilerServices;

namespace MlModel.Dsl;

/// <summary>
/// The rows a host hands to a stage that consumes rows (<c>... | serving predict ...</c>): its
/// columns and an asynchronous stream of rows, read once. Give it to
/// <see cref="MlModelEngine.ExecuteAsync(MlModelCommand, MlModelCaller, RowSource, CancellationToken)"/>
/// or <see cref="MlModelEngine.ExecuteQueryAsync(string, MlModelCaller, RowSource, CancellationToken)"/>.
/// </summary>
public sealed class RowSource
{
    private IAsyncEnumerable<object?[]>? _rows;

    private RowSource(IReadOnlyList<ResultField> fields, IAsyncEnumerable<object?[]> rows)
    {
        Fields = fields;
        _rows = rows;
    }

    /// <summary>The columns, in order.</summary>
    public IReadOnlyList<ResultField> Fields { get; }

    /// <summary>
    /// Rows read from <paramref name="reader"/> as the stage needs them (<see cref="DbDataReader.ReadAsync(CancellationToken)"/>),
    /// a <c>DataTable.CreateDataReader()</c> or a database query's. The reader is read, not closed:
    /// it stays the host's. Column types follow the reader's: whole numbers <see cref="FieldType.Int"/>
    /// or <see cref="FieldType.Long"/>, other numbers <see cref="FieldType.Double"/>, arrays
    /// (double[], float[], ...) <see cref="FieldType.Json"/>, the rest <see cref="FieldType.String"/>;
    /// values pass through as the reader gives them, the same objects (a <see cref="DBNull"/> as null):
    /// a host that reuses one array for several rows must copy it for each.
    /// </summary>
    public static RowSource FromReader(DbDataReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var fields = new ResultField[reader.FieldCount];
        for (var i = 0; i < fields.Length; i++)
        {
            fields[i] = new ResultField(reader.GetName(i), TypeOf(reader.GetFieldType(i)));
        }
        return new RowSource(fields, Read(reader, fields.Length));
    }

    /// <summary>Rows the host makes: <paramref name="fields"/> names their columns, each row holds a value per column, in order.</summary>
    public static RowSource FromRows(IReadOnlyList<ResultField> fields, IAsyncEnumerable<object?[]> rows)
    {
        ArgumentNullException.ThrowIfNull(fields);
        ArgumentNullException.ThrowIfNull(rows);
        return new RowSource(fields, rows);
    }

    /// <summary>The rows, taken once: a second stage cannot read what the first has read.</summary>
    internal IAsyncEnumerable<object?[]> TakeRows() =>
        Interlocked.Exchange(ref _rows, null) ?? throw new InvalidOperationException("this row source has already been read; make a new one for each command");

    private static async IAsyncEnumerable<object?[]> Read(DbDataReader reader, int count, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (await reader.ReadAsync(cancellationToken))
        {
            var row = new object?[count];
            for (var i = 0; i < count; i++)
            {
                var value = reader.GetValue(i);
                row[i] = value is DBNull ? null : value;
            }
            yield return row;
        }
    }

    private static FieldType TypeOf(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(int) || type == typeof(short) || type == typeof(byte) || type == typeof(sbyte) || type == typeof(ushort))
        {
            return FieldType.Int;
        }
        if (type == typeof(long) || type == typeof(uint) || type == typeof(ulong))
        {
            return FieldType.Long;
        }
        if (type == typeof(double) || type == typeof(float) || type == typeof(decimal))
        {
            return FieldType.Double;
        }
        if (type != typeof(string) && (type.IsArray || typeof(System.Collections.IEnumerable).IsAssignableFrom(type) || type == typeof(System.Text.Json.JsonElement)))
        {
            return FieldType.Json;
        }
        return FieldType.String;
    }
}
