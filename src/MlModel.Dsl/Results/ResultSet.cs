using System.Collections;
using System.Data.Common;

namespace MlModel.Dsl;

/// <summary>The types a result column may have, as the host engine's job API names them.</summary>
public enum FieldType
{
    /// <summary>Text; JSON name <c>string</c>.</summary>
    String,
    /// <summary>32-bit integer; JSON name <c>int</c>.</summary>
    Int,
    /// <summary>64-bit integer; JSON name <c>long</c>.</summary>
    Long,
    /// <summary>Double-precision number; JSON name <c>double</c>.</summary>
    Double,
}

/// <summary>One column of a result set.</summary>
/// <param name="Name">The column name, exactly as in the spec's tables.</param>
/// <param name="Type">The column type.</param>
public sealed record ResultField(string Name, FieldType Type)
{
    /// <summary>The type's name in the host engine's JSON (<c>string</c>, <c>int</c>, <c>long</c>, <c>double</c>).</summary>
    public string TypeName => Type switch
    {
        FieldType.Int => "int",
        FieldType.Long => "long",
        FieldType.Double => "double",
        _ => "string",
    };

    /// <summary>The CLR type of the column's values.</summary>
    public Type ClrType => Type switch
    {
        FieldType.Int => typeof(int),
        FieldType.Long => typeof(long),
        FieldType.Double => typeof(double),
        _ => typeof(string),
    };
}

/// <summary>
/// A command's result: typed fields and rows. Rows may be streamed from the repository as they
/// are read (list over many versions), so a result set is read once and must be disposed; use
/// <see cref="ToBuffered"/> to keep one.
/// </summary>
public sealed class ResultSet : IEnumerable<object?[]>, IDisposable, IAsyncDisposable
{
    private IEnumerable<object?[]>? _rows;
    private readonly IDisposable? _owner;
    private readonly bool _buffered;

    /// <summary>A result set over rows that are already in memory.</summary>
    public ResultSet(IReadOnlyList<ResultField> fields, IReadOnlyList<object?[]> rows)
    {
        Fields = fields;
        _rows = rows;
        _buffered = true;
    }

    /// <summary>
    /// A streamed result set: <paramref name="rows"/> is enumerated once, and
    /// <paramref name="owner"/> (a connection, say) is disposed with the result set.
    /// </summary>
    public ResultSet(IReadOnlyList<ResultField> fields, IEnumerable<object?[]> rows, IDisposable? owner)
    {
        Fields = fields;
        _rows = rows;
        _owner = owner;
    }

    /// <summary>The columns, in order.</summary>
    public IReadOnlyList<ResultField> Fields { get; }

    /// <summary>Whether the rows are in memory (and may be enumerated more than once).</summary>
    public bool IsBuffered => _buffered;

    /// <summary>A one-row, one-column <c>result</c> table (delete, import, stop).</summary>
    public static ResultSet Scalar(string column, object? value, FieldType type = FieldType.String) =>
        new([new ResultField(column, type)], [[value]]);

    /// <summary>The rows; a streamed result set can be enumerated once.</summary>
    public IEnumerator<object?[]> GetEnumerator()
    {
        var rows = _rows ?? throw new InvalidOperationException("this streamed result set has already been read");
        if (!_buffered)
        {
            _rows = null;
        }
        return rows.GetEnumerator();
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Reads every row into memory.</summary>
    public ResultSet ToBuffered()
    {
        if (_buffered)
        {
            return this;
        }
        var rows = this.ToList();
        Dispose();
        return new ResultSet(Fields, rows);
    }

    /// <summary>A forward-only <see cref="DbDataReader"/> over the rows, for hosts that stream.</summary>
    public DbDataReader CreateReader() => new ResultSetReader(this);

    /// <summary>The column index of <paramref name="name"/>, or -1.</summary>
    public int IndexOf(string name)
    {
        for (var i = 0; i < Fields.Count; i++)
        {
            if (Fields[i].Name == name)
            {
                return i;
            }
        }
        return -1;
    }

    /// <inheritdoc/>
    public void Dispose() => _owner?.Dispose();

    /// <inheritdoc/>
    public ValueTask DisposeAsync()
    {
        if (_owner is IAsyncDisposable a)
        {
            return a.DisposeAsync();
        }
        Dispose();
        return ValueTask.CompletedTask;
    }
}
