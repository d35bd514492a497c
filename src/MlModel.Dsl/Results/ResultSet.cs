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
    /// <summary>
    /// A JSON value (an array such as <c>[0.1,0.7,0.2]</c>, an object, a number); JSON name <c>json</c>.
    /// Values are what a host holds such a value as: a numeric array (<c>double[]</c>, as
    /// <c>serving predict</c> gives <c>predictions</c>, or whatever array the host gave, passed
    /// through unchanged), nested arrays, a number, a <see cref="System.Text.Json.JsonElement"/>, or
    /// a string holding JSON text (several outputs as an object, JSON read from a file). The job
    /// JSON embeds every form as the JSON value it is; CSV and the text table print its JSON text;
    /// <see cref="DbDataReader.GetString"/> of the result's reader gives the JSON text too.
    /// </summary>
    Json,
}

/// <summary>One column of a result set.</summary>
/// <param name="Name">The column name, exactly as in the spec's tables.</param>
/// <param name="Type">The column type.</param>
public sealed record ResultField(string Name, FieldType Type)
{
    /// <summary>The type's name in the host engine's JSON (<c>string</c>, <c>int</c>, <c>long</c>, <c>double</c>, <c>json</c>).</summary>
    public string TypeName => Type switch
    {
        FieldType.Int => "int",
        FieldType.Long => "long",
        FieldType.Double => "double",
        FieldType.Json => "json",
        _ => "string",
    };

    /// <summary>The CLR type of the column's values (<see cref="object"/> for <see cref="FieldType.Json"/>: an array, a number or JSON text).</summary>
    public Type ClrType => Type switch
    {
        FieldType.Int => typeof(int),
        FieldType.Long => typeof(long),
        FieldType.Double => typeof(double),
        FieldType.Json => typeof(object),
        _ => typeof(string),
    };
}

/// <summary>
/// A command's result: typed fields and rows. Rows may be streamed as they are made: read from
/// the repository (list over many versions), or produced asynchronously by a stage that consumes
/// rows (<c>serving predict</c>). A streamed result set is read once and must be disposed; use
/// <see cref="ToBuffered"/> to keep one.
/// </summary>
/// <remarks>
/// Read a result set whose rows come asynchronously with <see cref="ReadAllAsync"/> (or
/// <see cref="DbDataReader.ReadAsync(CancellationToken)"/> on <see cref="CreateReader"/>): the
/// thread is free while a row is on its way. Enumerating such a result set with
/// <c>foreach</c> (and <see cref="ToBuffered"/>, and <see cref="DbDataReader.Read"/>) works too, and
/// blocks the calling thread until each row is there: fine for a console program, a waste of a
/// thread in a server. <see cref="IsAsync"/> tells which kind a result set is.
/// </remarks>
public sealed class ResultSet : IEnumerable<object?[]>, IDisposable, IAsyncDisposable
{
    private IEnumerable<object?[]>? _rows;
    private IAsyncEnumerable<object?[]>? _asyncRows;
    private readonly object? _owner;
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

    /// <summary>
    /// A result set whose rows come asynchronously (a stage's output): <paramref name="rows"/> is
    /// enumerated once, and <paramref name="owner"/> is disposed with the result set. Cancelling
    /// the token given to <see cref="ReadAllAsync"/> (or to <see cref="DbDataReader.ReadAsync(CancellationToken)"/>)
    /// cancels the enumeration of <paramref name="rows"/>.
    /// </summary>
    public ResultSet(IReadOnlyList<ResultField> fields, IAsyncEnumerable<object?[]> rows, IAsyncDisposable? owner = null)
    {
        ArgumentNullException.ThrowIfNull(rows);
        Fields = fields;
        _asyncRows = rows;
        _owner = owner;
        IsAsync = true;
    }

    /// <summary>The columns, in order.</summary>
    public IReadOnlyList<ResultField> Fields { get; }

    /// <summary>Whether the rows are in memory (and may be enumerated more than once).</summary>
    public bool IsBuffered => _buffered;

    /// <summary>Whether the rows come asynchronously: read them with <see cref="ReadAllAsync"/> (see the remarks of <see cref="ResultSet"/>).</summary>
    public bool IsAsync { get; }

    /// <summary>A one-row, one-column <c>result</c> table (delete, import, stop).</summary>
    public static ResultSet Scalar(string column, object? value, FieldType type = FieldType.String) =>
        new([new ResultField(column, type)], [[value]]);

    /// <summary>
    /// The rows; a streamed result set can be enumerated once. Over rows that come
    /// asynchronously, each <see cref="IEnumerator.MoveNext"/> blocks until the row is there
    /// (prefer <see cref="ReadAllAsync"/>).
    /// </summary>
    public IEnumerator<object?[]> GetEnumerator()
    {
        if (IsAsync)
        {
            return new BlockingEnumerator(TakeAsyncRows().GetAsyncEnumerator());
        }
        var rows = _rows ?? throw new InvalidOperationException("this streamed result set has already been read");
        if (!_buffered)
        {
            _rows = null;
        }
        return rows.GetEnumerator();
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>
    /// The rows, read asynchronously: <c>await foreach (var row in result.ReadAllAsync(token))</c>.
    /// A streamed result set can be read once; <paramref name="cancellationToken"/> stops the rows
    /// that come asynchronously (a <c>serving predict</c> stage stops its requests).
    /// </summary>
    public IAsyncEnumerable<object?[]> ReadAllAsync(CancellationToken cancellationToken = default)
    {
        if (IsAsync)
        {
            return new Cancellable(TakeAsyncRows(), cancellationToken);
        }
        return ReadSync(GetEnumerator(), cancellationToken);
    }

    private static async IAsyncEnumerable<object?[]> ReadSync(IEnumerator<object?[]> rows, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using (rows)
        {
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (!rows.MoveNext())
                {
                    yield break;
                }
                yield return rows.Current;
            }
        }
    }

    /// <summary>The asynchronous rows, taken once.</summary>
    internal IAsyncEnumerable<object?[]> TakeAsyncRows()
    {
        var rows = Interlocked.Exchange(ref _asyncRows, null) ?? throw new InvalidOperationException("this streamed result set has already been read");
        return rows;
    }

    /// <summary>Reads every row into memory (over rows that come asynchronously, blocking until the last is there).</summary>
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

    /// <summary>
    /// A forward-only <see cref="DbDataReader"/> over the rows, for hosts that stream. Over rows that
    /// come asynchronously, <see cref="DbDataReader.ReadAsync(CancellationToken)"/> waits without
    /// blocking and <see cref="DbDataReader.Read"/> blocks.
    /// </summary>
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
    public void Dispose()
    {
        switch (_owner)
        {
            case IDisposable d:
                d.Dispose();
                break;
            case IAsyncDisposable a:
                a.DisposeAsync().AsTask().GetAwaiter().GetResult();
                break;
        }
    }

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

    /// <summary>An asynchronous enumerator read synchronously: each step blocks until it completes.</summary>
    private sealed class BlockingEnumerator(IAsyncEnumerator<object?[]> inner) : IEnumerator<object?[]>
    {
        public object?[] Current => inner.Current;

        object IEnumerator.Current => Current;

        public bool MoveNext()
        {
            var next = inner.MoveNextAsync();
            return next.IsCompletedSuccessfully ? next.Result : next.AsTask().GetAwaiter().GetResult();
        }

        public void Reset() => throw new NotSupportedException("a result set is read once");

        public void Dispose()
        {
            var done = inner.DisposeAsync();
            if (!done.IsCompletedSuccessfully)
            {
                done.AsTask().GetAwaiter().GetResult();
            }
        }
    }

    /// <summary>Rows with a cancellation token of their own (the one <see cref="ReadAllAsync"/> was given), combined with the enumerator's.</summary>
    private sealed class Cancellable(IAsyncEnumerable<object?[]> rows, CancellationToken token) : IAsyncEnumerable<object?[]>
    {
        public IAsyncEnumerator<object?[]> GetAsyncEnumerator(CancellationToken cancellationToken = default)
        {
            if (!cancellationToken.CanBeCanceled || cancellationToken == token)
            {
                return rows.GetAsyncEnumerator(token);
            }
            if (!token.CanBeCanceled)
            {
                return rows.GetAsyncEnumerator(cancellationToken);
            }
            var linked = CancellationTokenSource.CreateLinkedTokenSource(token, cancellationToken);
            return new Linked(rows.GetAsyncEnumerator(linked.Token), linked);
        }

        private sealed class Linked(IAsyncEnumerator<object?[]> inner, CancellationTokenSource linked) : IAsyncEnumerator<object?[]>
        {
            public object?[] Current => inner.Current;

            public ValueTask<bool> MoveNextAsync() => inner.MoveNextAsync();

            public async ValueTask DisposeAsync()
            {
                try
                {
                    await inner.DisposeAsync();
                }
                finally
                {
                    linked.Dispose();
                }
            }
        }
    }
}
