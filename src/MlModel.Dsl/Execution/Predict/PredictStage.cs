using System.Buffers;
using System.Globalization;
using System.Text;
using MlModel.Dsl.Backends;

namespace MlModel.Dsl.Execution.Predict;

/// <summary>
/// The <c>serving predict</c> stage: rows in, the same rows out with <c>predictions</c>,
/// <c>probability</c> and (with tags) <c>interpreted</c> added, in input order.
/// </summary>
/// <remarks>
/// Rows are read as the consumer pulls, gathered into batches and sent to the predictor with up to
/// <c>inFlight</c> batches outstanding; answers are returned in the order the rows came, so a
/// batch that is answered early waits for the ones before it. At most <c>inFlight</c> + 1 batches
/// are held at any time, however many rows stream through. A row that cannot be sent (no value,
/// not numbers, the wrong count) ends the stream with an error that names its number (1-based)
/// and the column; so does a batch the server refuses, with the server's own text. Cancelling
/// (the command's token or the enumerator's), or disposing the enumerator early, cancels the
/// batches in flight and reads no further row.
/// </remarks>
internal sealed class PredictStage
{
    /// <summary>The most values one batch holds per input (8 MiB of doubles): batches of wide rows are shorter.</summary>
    public const int MaxValuesPerBatch = 1 << 20;

    private readonly PredictPlan _plan;
    private readonly IServingPredictor _predictor;
    private readonly int _batchRows;
    private readonly int _inFlight;
    private readonly int _inputColumns;

    public PredictStage(PredictPlan plan, IServingPredictor predictor, IReadOnlyList<ResultField> inputFields, int batchSize, int inFlight)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(inFlight, 1);
        _plan = plan;
        _predictor = predictor;
        var widest = plan.Inputs.Count == 0 ? 1 : Math.Max(1, plan.Inputs.Max(i => i.Width));
        _batchRows = Math.Clamp(MaxValuesPerBatch / widest, 1, batchSize);
        _inFlight = inFlight;
        _inputColumns = inputFields.Count;
        List<ResultField> fields = [.. inputFields, new("predictions", FieldType.Json), new("probability", FieldType.Double)];
        if (plan.Tags is not null)
        {
            fields.Add(new ResultField("interpreted", FieldType.String));
        }
        Fields = fields;
    }

    /// <summary>The input's columns and the added ones.</summary>
    public IReadOnlyList<ResultField> Fields { get; }

    /// <summary>Rows per batch (fewer for wide rows, see <see cref="MaxValuesPerBatch"/>).</summary>
    public int BatchRows => _batchRows;

    /// <summary>The rows of <paramref name="source"/> with the predictions added, in order.</summary>
    /// <remarks>
    /// Written by hand rather than as an <c>async</c> iterator: a row of an answered batch is handed
    /// out by a plain method call, and the asynchronous work (reading rows, sending, awaiting an
    /// answer) happens once a batch, not once a row. Dispose the stream (a result set's owner) to
    /// end it even when no one enumerated it.
    /// </remarks>
    /// <param name="source">The rows of the stage before.</param>
    /// <param name="commandToken">The command's token: cancels the stream as the enumerator's does.</param>
    /// <param name="span">The command's span, current while the stage reads rows and sends batches (the requests' spans are its children).</param>
    /// <param name="ended">Called once the stream ends, after its requests are done: with null when it was read to the end, stopped early or disposed unread, with the failure otherwise, and the rows handed out.</param>
    public RowStream RunAsync(IAsyncEnumerable<object?[]> source, CancellationToken commandToken,
        System.Diagnostics.Activity? span = null, Action<Exception?, long>? ended = null) =>
        new(this, source, span, ended, commandToken);

    /// <summary>The stage's output: enumerated once; disposing it ends an enumeration under way, or the stream that was never read.</summary>
    internal sealed class RowStream(PredictStage stage, IAsyncEnumerable<object?[]> source,
        System.Diagnostics.Activity? span, Action<Exception?, long>? ended, CancellationToken commandToken) : IAsyncEnumerable<object?[]>, IAsyncDisposable
    {
        private Action<Exception?, long>? _ended = ended;
        private int _started;
        private Run? _run;

        public IAsyncEnumerator<object?[]> GetAsyncEnumerator(CancellationToken cancellationToken = default)
        {
            if (Interlocked.Exchange(ref _started, 1) == 1)
            {
                throw new InvalidOperationException("the rows of a serving predict stage are read once");
            }
            var run = new Run(stage, source, span, this, commandToken, cancellationToken);
            Volatile.Write(ref _run, run);
            return run;
        }

        /// <summary>Tells the command the stream ended, once.</summary>
        internal void End(Exception? failure, long rows) => Interlocked.Exchange(ref _ended, null)?.Invoke(failure, rows);

        public async ValueTask DisposeAsync()
        {
            if (Volatile.Read(ref _run) is { } run)
            {
                await run.DisposeAsync();
            }
            End(null, 0);
        }
    }

    /// <summary>One enumeration of the stage: the batches in flight, in order, and the answered batch being handed out.</summary>
    internal sealed class Run : IAsyncEnumerator<object?[]>
    {
        private readonly PredictStage _stage;
        private readonly RowStream _stream;
        private readonly CancellationTokenSource _stop;
        private readonly IAsyncEnumerator<object?[]> _source;
        private readonly Queue<Task<Batch>> _pending;
        private readonly RowValues _values = new();
        private readonly System.Diagnostics.Activity? _span;
        private Batch? _filling;
        private object?[]?[]? _answered;
        private int _answeredCount;
        private int _next;
        private long _number;
        private long _answeredBefore;
        private bool _sourceDone;

        /// <summary>Set once the stream ended (read to the end, failed, disposed): no more rows, nothing held.</summary>
        private bool _closed;

        public Run(PredictStage stage, IAsyncEnumerable<object?[]> source, System.Diagnostics.Activity? span, RowStream stream,
            CancellationToken commandToken, CancellationToken cancellationToken)
        {
            _stage = stage;
            _span = span;
            _stream = stream;
            _stop = CancellationTokenSource.CreateLinkedTokenSource(commandToken, cancellationToken);
            _pending = new Queue<Task<Batch>>(stage._inFlight + 1);
            _source = source.GetAsyncEnumerator(_stop.Token);
        }

        public object?[] Current { get; private set; } = [];

        /// <summary>The rows handed out so far.</summary>
        private long HandedOut => _answeredBefore + _next;

        public ValueTask<bool> MoveNextAsync()
        {
            // The common case: the next row of the batch already answered, no state machine.
            if (_next < _answeredCount)
            {
                Current = _answered![_next++]!;
                return new ValueTask<bool>(true);
            }
            _answered = null;
            return _closed ? new ValueTask<bool>(false) : NextBatchAsync();
        }

        /// <summary>
        /// Reads rows and sends batches until the oldest batch may be handed out (the window is full,
        /// it is answered, or no rows are left), then hands out its first row; false at the end. At
        /// the end, or at a failure, the stream is closed before the caller hears of it, as an
        /// iterator's <c>finally</c> would: batches in flight cancelled and awaited, the rows' source
        /// disposed; after a failure it hands out nothing more.
        /// </summary>
        private async ValueTask<bool> NextBatchAsync()
        {
            if (_span is not null)
            {
                // Only for this call and what it starts (an async method restores its caller's context).
                System.Diagnostics.Activity.Current = _span;
            }
            bool more;
            try
            {
                more = await FillAsync();
            }
            catch (Exception e)
            {
                await CloseAsync();
                _stream.End(e, HandedOut);
                throw;
            }
            if (!more)
            {
                await CloseAsync();
                _stream.End(null, HandedOut);
            }
            return more;
        }

        private async ValueTask<bool> FillAsync()
        {
            var token = _stop.Token;
            while (true)
            {
                if (_pending.Count > 0 && (_sourceDone || _pending.Count >= _stage._inFlight || _pending.Peek().IsCompleted))
                {
                    // The output rows are made here, on the thread that reads them, not on the
                    // one that took the answer: they are still in this core's cache when read.
                    var done = await _pending.Dequeue();
                    try
                    {
                        _stage.Results(done, done.Outputs!);
                    }
                    finally
                    {
                        // Only now: a predictor's outputs may be views of its inputs.
                        done.Outputs = null;
                        done.ReleaseValues();
                    }
                    _answeredBefore += _answeredCount;
                    _answered = done.Rows;
                    _answeredCount = done.Count;
                    _next = 1;
                    Current = done.Rows[0]!;
                    return true;
                }
                if (_sourceDone)
                {
                    return false;
                }
                // Rows until a batch is full (sent), an answer is there to hand out, or the rows end.
                while (true)
                {
                    if (!await _source.MoveNextAsync())
                    {
                        _sourceDone = true;
                        if (_filling is { Count: > 0 } last)
                        {
                            _filling = null;
                            _pending.Enqueue(_stage.SendAsync(last, token));
                        }
                        break;
                    }
                    _number++;
                    var batch = _filling ??= new Batch(_stage._plan, _stage._batchRows, _number);
                    _stage.Add(batch, _source.Current, _number, _values);
                    if (batch.Count == _stage._batchRows)
                    {
                        _filling = null;
                        _pending.Enqueue(_stage.SendAsync(batch, token));
                        break;
                    }
                    if (_pending.Count > 0 && _pending.Peek().IsCompleted)
                    {
                        break;
                    }
                }
            }
        }

        /// <summary>
        /// Ends the enumeration once: nothing more is sent, the batches in flight are cancelled and
        /// awaited (their failures are not the error to report) and their buffers given back, the
        /// rows' source disposed.
        /// </summary>
        private async ValueTask CloseAsync()
        {
            if (_closed)
            {
                return;
            }
            _closed = true;
            _answered = null;
            _answeredCount = 0;
            await _stop.CancelAsync();
            while (_pending.Count > 0)
            {
                try
                {
                    (await _pending.Dequeue()).ReleaseValues();
                }
                catch (Exception)
                {
                }
            }
            _filling?.ReleaseValues();
            _filling = null;
            try
            {
                await _source.DisposeAsync();
            }
            finally
            {
                _stop.Dispose();
            }
        }

        /// <summary>A consumer that stopped early (or a result set disposed): the stream ends, the rows it took counted.</summary>
        public async ValueTask DisposeAsync()
        {
            var rows = HandedOut;
            await CloseAsync();
            _stream.End(null, rows);
        }
    }

    /// <summary>Reads one row's input into the batch, or fails naming the row and the column.</summary>
    private void Add(Batch batch, object?[] row, long number, RowValues values)
    {
        var value = _plan.Column < row.Length ? row[_plan.Column] : null;
        if (values.Read(value) is { } why)
        {
            throw PredictErrors.Row(number, _plan.ColumnName, why);
        }
        if (values.Count != _plan.Width)
        {
            throw PredictErrors.Row(number, _plan.ColumnName, $"holds {values.Count} value(s), but {_plan.ShapeSource} takes {_plan.Width}");
        }
        var all = values.Values;
        var offset = 0;
        for (var k = 0; k < _plan.Inputs.Count; k++)
        {
            var input = _plan.Inputs[k];
            var part = all.Slice(offset, input.Width);
            if (input.IntegerRange is var (min, max))
            {
                for (var i = 0; i < part.Length; i++)
                {
                    var v = part[i];
                    if (v != Math.Floor(v) || v < min || v > max)
                    {
                        throw PredictErrors.Row(number, _plan.ColumnName,
                            $"holds {v.ToString(CultureInfo.InvariantCulture)} at item {offset + i + 1}, which is not a whole number in the range of {input.Dtype}");
                    }
                }
            }
            part.CopyTo(batch.Values[k].AsSpan(batch.Count * input.Width));
            offset += input.Width;
        }
        batch.Rows[batch.Count++] = row;
    }

    private async Task<Batch> SendAsync(Batch batch, CancellationToken cancellationToken)
    {
        try
        {
            var inputs = new PredictInput[_plan.Inputs.Count];
            for (var k = 0; k < inputs.Length; k++)
            {
                var p = _plan.Inputs[k];
                inputs[k] = new PredictInput(p.Name, p.Dtype, p.RowShape, batch.Values[k].AsMemory(0, batch.Count * p.Width));
            }
            IReadOnlyList<PredictOutput> outputs;
            try
            {
                outputs = await _predictor.PredictAsync(new PredictBatch(_plan.ServingName, _plan.Version, batch.Count, inputs), cancellationToken);
            }
            catch (MlModelException e) when (e.Code != ErrorCodes.Cancelled || !cancellationToken.IsCancellationRequested)
            {
                throw PredictErrors.Fail(e.Code, $"{Rows(batch)}: {e.Error.Detail}", e);
            }
            catch (Exception e) when (e is HttpRequestException or IOException or TimeoutException or InvalidOperationException or System.Text.Json.JsonException)
            {
                throw PredictErrors.Fail(ErrorCodes.Backend, $"{Rows(batch)}: the serving backend failed: {e.Message}", e);
            }
            batch.Outputs = outputs;
            return batch;
        }
        catch
        {
            // A failed batch's buffers go back now; an answered one's once its rows are made.
            batch.ReleaseValues();
            throw;
        }
    }

    private static string Rows(Batch batch) =>
        batch.Count == 1 ? $"row {batch.First}" : $"rows {batch.First} to {batch.First + batch.Count - 1}";

    /// <summary>Replaces each of the batch's input rows by its output row: the input's values, then the predictions.</summary>
    private void Results(Batch batch, IReadOnlyList<PredictOutput> outputs)
    {
        if (outputs.Count == 0)
        {
            throw PredictErrors.Fail(ErrorCodes.Backend, $"{Rows(batch)}: the server answered no output");
        }
        var sizes = new int[outputs.Count];
        for (var k = 0; k < outputs.Count; k++)
        {
            var size = 1;
            foreach (var d in outputs[k].RowShape)
            {
                size *= d;
            }
            sizes[k] = size;
            if (outputs[k].Values.Length != (long)size * batch.Count)
            {
                throw PredictErrors.Fail(ErrorCodes.Backend,
                    $"{Rows(batch)}: the server answered {outputs[k].Values.Length} value(s) for output{(outputs[k].Name is { } n ? $" '{n}'" : "")}, not {batch.Count} row(s) of {PredictErrors.TupleText(outputs[k].RowShape)}");
            }
        }
        if (_plan.Tags is { } tags && tags.Count != sizes[0])
        {
            throw PredictPlan.TagMismatch(tags.Count, outputs[0].Name, sizes[0]);
        }
        var added = _plan.Tags is null ? 2 : 3;
        var single = outputs.Count == 1;
        var rank = outputs[0].RowShape.Count;
        var all = outputs[0].Values.Span;
        for (var r = 0; r < batch.Count; r++)
        {
            var input = batch.Rows[r]!;
            var row = new object?[_inputColumns + added];
            // The host's values pass through as they came (a double[] stays one); null for DBNull.
            var n = Math.Min(input.Length, _inputColumns);
            for (var c = 0; c < n; c++)
            {
                var v = input[c];
                row[c] = v is DBNull ? null : v;
            }
            var first = all.Slice(r * sizes[0], sizes[0]);
            var best = PredictionValues.IndexOfMax(first);
            object probability = first[best];
            row[_inputColumns] = !single ? PredictionValues.Text(outputs, sizes, r)
                : rank == 0 ? probability
                : rank == 1 ? first.ToArray()
                : PredictionValues.Nested(first, outputs[0].RowShape, 0);
            row[_inputColumns + 1] = probability;
            if (_plan.Tags is { } t)
            {
                row[_inputColumns + 2] = t[best];
            }
            batch.Rows[r] = row;
        }
    }

    /// <summary>The rows of one request and their values, one pooled buffer per model input.</summary>
    private sealed class Batch
    {
        public Batch(PredictPlan plan, int capacity, long first)
        {
            First = first;
            Rows = new object?[capacity][];
            Values = plan.Inputs.Select(i => ArrayPool<double>.Shared.Rent(capacity * i.Width)).ToArray();
        }

        public long First { get; }
        public object?[]?[] Rows { get; }
        public double[][] Values { get; private set; }
        public int Count { get; set; }
        /// <summary>The server's answer, once it came; the rows are made from it when they are handed out.</summary>
        public IReadOnlyList<PredictOutput>? Outputs { get; set; }

        /// <summary>Gives the value buffers back: once the batch's rows are made from its answer (a predictor's outputs may be views of its inputs), or its request failed.</summary>
        public void ReleaseValues()
        {
            foreach (var v in Values)
            {
                ArrayPool<double>.Shared.Return(v);
            }
            Values = [];
        }
    }
}

/// <summary>
/// A row's <c>predictions</c> value, the output as a host holds a JSON value: one output as a
/// number (a scalar per row), a <c>double[]</c> (a vector, the usual classifier's), or nested
/// <c>double[]</c> arrays (higher rank); several outputs as the JSON text of an object by name.
/// </summary>
internal static class PredictionValues
{
    /// <summary>The values as nested arrays, <paramref name="shape"/> from dimension <paramref name="dim"/> on (its last a <c>double[]</c>).</summary>
    public static object Nested(ReadOnlySpan<double> values, IReadOnlyList<int> shape, int dim)
    {
        if (dim == shape.Count - 1)
        {
            return values.ToArray();
        }
        var items = new object[shape[dim]];
        var step = values.Length / Math.Max(1, shape[dim]);
        for (var i = 0; i < items.Length; i++)
        {
            items[i] = Nested(values.Slice(i * step, step), shape, dim + 1);
        }
        return items;
    }

    /// <summary>Several outputs: <c>{"scores":[0.1,0.9],"classes":[1]}</c>, each as <see cref="ResultWriter"/> writes a value.</summary>
    public static string Text(IReadOnlyList<PredictOutput> outputs, int[] sizes, int row)
    {
        var byName = new Dictionary<string, object>(outputs.Count, StringComparer.Ordinal);
        for (var k = 0; k < outputs.Count; k++)
        {
            var values = outputs[k].Values.Span.Slice(row * sizes[k], sizes[k]);
            var shape = outputs[k].RowShape;
            byName[outputs[k].Name ?? "output_" + k.ToString(CultureInfo.InvariantCulture)] = shape.Count == 0 ? values[0] : Nested(values, shape, 0);
        }
        return ResultWriter.JsonText(byName);
    }

    /// <summary>The index of the largest value (the first of equals; NaN never wins over a number).</summary>
    public static int IndexOfMax(ReadOnlySpan<double> values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best] || double.IsNaN(values[best]))
            {
                best = i;
            }
        }
        return best;
    }
}
