using System.Collections;
using System.Data;
using System.Data.Common;
using System.Diagnostics.CodeAnalysis;

namespace MlModel.Dsl;

/// <summary>
/// A forward-only reader over a <see cref="ResultSet"/>; rows are pulled as it advances. Over rows
/// that come asynchronously, <see cref="ReadAsync"/> awaits the next one and <see cref="Read"/>
/// blocks until it is there; the token of a <see cref="ReadAsync"/> that is cancelled stops the rows.
/// </summary>
internal sealed class ResultSetReader : DbDataReader
{
    private readonly ResultSet _set;
    private IEnumerator<object?[]>? _rows;
    private IAsyncEnumerator<object?[]>? _asyncRows;
    private CancellationTokenSource? _stop;
    private object?[]? _current;
    private bool _closed;

    public ResultSetReader(ResultSet set) => _set = set;

    public override int FieldCount => _set.Fields.Count;
    public override object this[int ordinal] => GetValue(ordinal);
    public override object this[string name] => GetValue(GetOrdinal(name));
    public override int RecordsAffected => -1;
    public override bool HasRows => true;
    public override bool IsClosed => _closed;
    public override int Depth => 0;

    public override bool Read()
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        if (_set.IsAsync)
        {
            var next = AsyncRows().MoveNextAsync();
            return Advance(next.IsCompletedSuccessfully ? next.Result : next.AsTask().GetAwaiter().GetResult());
        }
        _rows ??= _set.GetEnumerator();
        if (_rows.MoveNext())
        {
            _current = _rows.Current;
            return true;
        }
        _current = null;
        return false;
    }

    public override Task<bool> ReadAsync(CancellationToken cancellationToken)
    {
        if (!_set.IsAsync)
        {
            return base.ReadAsync(cancellationToken);
        }
        ObjectDisposedException.ThrowIf(_closed, this);
        cancellationToken.ThrowIfCancellationRequested();
        var next = AsyncRows().MoveNextAsync();
        return next.IsCompletedSuccessfully ? Task.FromResult(Advance(next.Result)) : AwaitAsync(next, cancellationToken);
    }

    private async Task<bool> AwaitAsync(ValueTask<bool> next, CancellationToken cancellationToken)
    {
        // A token per call, one enumerator for the reader: a cancelled read stops the rows for good.
        using (cancellationToken.Register(static s => ((CancellationTokenSource)s!).Cancel(), _stop))
        {
            return Advance(await next);
        }
    }

    private IAsyncEnumerator<object?[]> AsyncRows()
    {
        if (_asyncRows is null)
        {
            _stop = new CancellationTokenSource();
            _asyncRows = _set.TakeAsyncRows().GetAsyncEnumerator(_stop.Token);
        }
        return _asyncRows;
    }

    private bool Advance(bool more)
    {
        _current = more ? _asyncRows!.Current : null;
        return more;
    }

    public override bool NextResult() => false;

    public override void Close()
    {
        if (!_closed)
        {
            _closed = true;
            _rows?.Dispose();
            if (_asyncRows is not null)
            {
                var done = _asyncRows.DisposeAsync();
                if (!done.IsCompletedSuccessfully)
                {
                    done.AsTask().GetAwaiter().GetResult();
                }
            }
            _stop?.Dispose();
            _set.Dispose();
        }
    }

    public override async Task CloseAsync()
    {
        if (!_closed)
        {
            _closed = true;
            if (_asyncRows is not null)
            {
                await _asyncRows.DisposeAsync();
            }
            _rows?.Dispose();
            _stop?.Dispose();
            await _set.DisposeAsync();
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await CloseAsync();
        await base.DisposeAsync();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Close();
        }
        base.Dispose(disposing);
    }

    private object?[] Row => _current ?? throw new InvalidOperationException("call Read() first");

    public override object GetValue(int ordinal) => Row[ordinal] ?? DBNull.Value;
    public override bool IsDBNull(int ordinal) => Row[ordinal] is null;
    public override string GetName(int ordinal) => _set.Fields[ordinal].Name;
    public override string GetDataTypeName(int ordinal) => _set.Fields[ordinal].TypeName;

    [return: DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicFields | DynamicallyAccessedMemberTypes.PublicProperties)]
    public override Type GetFieldType(int ordinal) => _set.Fields[ordinal].ClrType;

    public override int GetOrdinal(string name)
    {
        var i = _set.IndexOf(name);
        return i >= 0 ? i : throw new ArgumentOutOfRangeException(nameof(name), $"no column '{name}'");
    }

    public override int GetValues(object[] values)
    {
        var n = Math.Min(values.Length, FieldCount);
        for (var i = 0; i < n; i++)
        {
            values[i] = GetValue(i);
        }
        return n;
    }

    public override bool GetBoolean(int ordinal) => (bool)GetValue(ordinal);
    public override byte GetByte(int ordinal) => Convert.ToByte(GetValue(ordinal), System.Globalization.CultureInfo.InvariantCulture);
    public override char GetChar(int ordinal) => (char)GetValue(ordinal);
    public override DateTime GetDateTime(int ordinal) => (DateTime)GetValue(ordinal);
    public override decimal GetDecimal(int ordinal) => Convert.ToDecimal(GetValue(ordinal), System.Globalization.CultureInfo.InvariantCulture);
    public override double GetDouble(int ordinal) => Convert.ToDouble(GetValue(ordinal), System.Globalization.CultureInfo.InvariantCulture);
    public override float GetFloat(int ordinal) => Convert.ToSingle(GetValue(ordinal), System.Globalization.CultureInfo.InvariantCulture);
    public override Guid GetGuid(int ordinal) => (Guid)GetValue(ordinal);
    public override short GetInt16(int ordinal) => Convert.ToInt16(GetValue(ordinal), System.Globalization.CultureInfo.InvariantCulture);
    public override int GetInt32(int ordinal) => Convert.ToInt32(GetValue(ordinal), System.Globalization.CultureInfo.InvariantCulture);
    public override long GetInt64(int ordinal) => Convert.ToInt64(GetValue(ordinal), System.Globalization.CultureInfo.InvariantCulture);
    /// <summary>The text of a column; a json column's array or number as its JSON text.</summary>
    public override string GetString(int ordinal) => GetValue(ordinal) switch
    {
        string s => s,
        DBNull => throw new InvalidCastException($"column '{GetName(ordinal)}' is null in this row"),
        var v when _set.Fields[ordinal].Type == FieldType.Json => ResultWriter.JsonText(v),
        var v => (string)v,
    };

    public override long GetBytes(int ordinal, long dataOffset, byte[]? buffer, int bufferOffset, int length) =>
        throw new NotSupportedException("result sets hold no binary columns");

    public override long GetChars(int ordinal, long dataOffset, char[]? buffer, int bufferOffset, int length)
    {
        var s = GetString(ordinal);
        if (buffer is null)
        {
            return s.Length;
        }
        var n = (int)Math.Max(0, Math.Min(length, s.Length - dataOffset));
        s.CopyTo((int)dataOffset, buffer, bufferOffset, n);
        return n;
    }

    public override IEnumerator GetEnumerator() => new DbEnumerator(this, closeReader: false);

    /// <summary>The schema that DataTable.Load and DataAdapter read: one row per column.</summary>
    public override DataTable GetSchemaTable()
    {
        var schema = new DataTable("SchemaTable") { Locale = System.Globalization.CultureInfo.InvariantCulture };
        schema.Columns.Add(SchemaTableColumn.ColumnName, typeof(string));
        schema.Columns.Add(SchemaTableColumn.ColumnOrdinal, typeof(int));
        schema.Columns.Add(SchemaTableColumn.ColumnSize, typeof(int));
        schema.Columns.Add(SchemaTableColumn.DataType, typeof(Type));
        schema.Columns.Add(SchemaTableColumn.AllowDBNull, typeof(bool));
        schema.Columns.Add(SchemaTableColumn.IsKey, typeof(bool));
        schema.Columns.Add(SchemaTableColumn.IsUnique, typeof(bool));
        schema.Columns.Add(SchemaTableColumn.NumericPrecision, typeof(short));
        schema.Columns.Add(SchemaTableColumn.NumericScale, typeof(short));
        schema.Columns.Add(SchemaTableColumn.ProviderType, typeof(int));
        schema.Columns.Add("DataTypeName", typeof(string));
        for (var i = 0; i < FieldCount; i++)
        {
            var f = _set.Fields[i];
            schema.Rows.Add(f.Name, i, -1, f.ClrType, true, false, false, DBNull.Value, DBNull.Value, (int)f.Type, f.TypeName);
        }
        return schema;
    }
}
