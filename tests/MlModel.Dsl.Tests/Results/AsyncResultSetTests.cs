using System.Data;
using System.Runtime.CompilerServices;
using System.Text;

namespace MlModel.Dsl.Tests.Results;

/// <summary>Result sets whose rows come asynchronously (a stage's output), and the <c>json</c> field type.</summary>
public sealed class AsyncResultSetTests
{
    private static readonly ResultField[] Fields = [new("id", FieldType.Int), new("predictions", FieldType.Json), new("probability", FieldType.Double)];

    private static async IAsyncEnumerable<object?[]> Rows(int count, Action? disposed = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        try
        {
            for (var i = 1; i <= count; i++)
            {
                await Task.Delay(1, cancellationToken);
                yield return [i, $"[{i},0.5]", (double)i];
            }
        }
        finally
        {
            disposed?.Invoke();
        }
    }

    [Test]
    public async Task ReadAllAsync_reads_the_rows_once_in_order()
    {
        using var result = new ResultSet(Fields, Rows(5));
        result.IsAsync.Should().BeTrue();
        result.IsBuffered.Should().BeFalse();
        var ids = new List<int>();
        await foreach (var row in result.ReadAllAsync())
        {
            ids.Add((int)row[0]!);
        }
        ids.Should().Equal(1, 2, 3, 4, 5);
        var again = async () => await result.ReadAllAsync().ToListAsync();
        await again.Should().ThrowAsync<InvalidOperationException>().WithMessage("this streamed result set has already been read");
    }

    [Test]
    public async Task The_token_of_ReadAllAsync_cancels_the_rows_at_their_source()
    {
        var disposed = false;
        using var result = new ResultSet(Fields, Rows(1_000, () => disposed = true));
        using var cancel = new CancellationTokenSource();
        var read = 0;
        var act = async () =>
        {
            await foreach (var _ in result.ReadAllAsync(cancel.Token))
            {
                if (++read == 3)
                {
                    await cancel.CancelAsync();
                }
            }
        };
        await act.Should().ThrowAsync<OperationCanceledException>();
        read.Should().Be(3);
        disposed.Should().BeTrue();
    }

    [Test]
    public void Foreach_and_ToBuffered_block_until_the_rows_are_there()
    {
        using var result = new ResultSet(Fields, Rows(4));
        var buffered = result.ToBuffered();
        buffered.IsBuffered.Should().BeTrue();
        buffered.Select(r => r[0]).Should().Equal(1, 2, 3, 4);
    }

    [Test]
    public async Task The_reader_reads_asynchronously_and_a_cancelled_read_stops_the_rows()
    {
        var result = new ResultSet(Fields, Rows(3));
        await using (var reader = result.CreateReader())
        {
            var ids = new List<int>();
            while (await reader.ReadAsync())
            {
                ids.Add(reader.GetInt32(0));
                reader.GetFieldType(1).Should().Be<object>();
                reader.GetDataTypeName(1).Should().Be("json");
                reader.GetString(1).Should().Be($"[{ids[^1]},0.5]");
            }
            ids.Should().Equal(1, 2, 3);
        }

        var disposed = false;
        result = new ResultSet(Fields, Rows(1_000, () => disposed = true));
        await using (var reader = result.CreateReader())
        {
            (await reader.ReadAsync()).Should().BeTrue();
            using var cancel = new CancellationTokenSource();
            var read = reader.ReadAsync(cancel.Token);
            await cancel.CancelAsync();
            await read.Invoking(r => r).Should().ThrowAsync<OperationCanceledException>();
        }
        disposed.Should().BeTrue();
    }

    [Test]
    public void A_DataTable_loads_an_asynchronous_result_through_the_blocking_Read()
    {
        using var result = new ResultSet(Fields, Rows(3));
        using var table = new DataTable();
        table.Load(result.CreateReader());
        table.Rows.Count.Should().Be(3);
        table.Columns["predictions"]!.DataType.Should().Be<object>("a json column holds arrays, numbers or JSON text");
        table.Rows[2]["predictions"].Should().Be("[3,0.5]");
    }

    [Test]
    public void A_reader_gives_a_json_column_s_array_as_it_is_and_as_JSON_text_to_GetString()
    {
        var vector = new[] { 0.25, 0.75 };
        using var result = new ResultSet([new("predictions", FieldType.Json), new("note", FieldType.String)],
            [[vector, "a"], [4.5, "b"], [new Dictionary<string, object> { ["y"] = new[] { 1.0 }, ["c"] = 2 }, "c"], [null, "d"]]);
        using var reader = result.CreateReader();
        reader.GetFieldType(0).Should().Be<object>();
        reader.Read().Should().BeTrue();
        reader.GetValue(0).Should().BeSameAs(vector);
        reader.GetString(0).Should().Be("[0.25,0.75]");
        reader.Read().Should().BeTrue();
        reader.GetString(0).Should().Be("4.5");
        reader.Read().Should().BeTrue();
        reader.GetString(0).Should().Be("{\"y\":[1],\"c\":2}", "a map is a JSON object");
        reader.Read().Should().BeTrue();
        reader.IsDBNull(0).Should().BeTrue();
        reader.Invoking(r => r.GetString(0)).Should().Throw<InvalidCastException>().WithMessage("column 'predictions' is null in this row");
        reader.Invoking(r => r.GetString(1)).Should().NotThrow();
    }

    [Test]
    public void Json_columns_are_embedded_as_JSON_in_the_job_JSON_and_printed_as_text_in_CSV_and_tables()
    {
        ResultSet Make() => new(
            [new("predictions", FieldType.Json), new("features", FieldType.Json), new("note", FieldType.String), new("p", FieldType.Double)],
            [
                ["[0.1,0.7,0.2]", new[] { 1.5, 2.0 }, "[not json]", 0.7],
                ["{\"y\":[2.5]}", new[,] { { 1, 2 }, { 3, 4 } }, null, double.NaN],
                ["not json", null, "a", 1.0],
            ]);
        ResultWriter.ToJson(Make()).Should().Be(
            "{\"fields\":[{\"name\":\"predictions\",\"type\":\"json\"},{\"name\":\"features\",\"type\":\"json\"},{\"name\":\"note\",\"type\":\"string\"},{\"name\":\"p\",\"type\":\"double\"}],"
            + "\"results\":[[[0.1,0.7,0.2],[1.5,2],\"[not json]\",0.7],[{\"y\":[2.5]},[1,2,3,4],null,\"NaN\"],[\"not json\",null,\"a\",1]]}");

        var csv = new StringWriter();
        ResultWriter.WriteCsv(Make(), csv);
        csv.ToString().Should().Be("predictions,features,note,p\r\n\"[0.1,0.7,0.2]\",\"[1.5,2]\",[not json],0.7\r\n\"{\"\"y\"\":[2.5]}\",\"[1,2,3,4]\",,NaN\r\nnot json,,a,1\r\n");

        var table = ResultWriter.ToTable(Make());
        table.Should().Contain("[0.1,0.7,0.2] | [1.5,2]   | [not json] | 0.7").And.Contain("{\"y\":[2.5]}");
        table.Split('\n')[2].Should().StartWith("[0.1,0.7,0.2] ", "json columns are text: left-aligned");
    }

    [Test]
    public void A_streamed_sync_result_set_is_read_by_ReadAllAsync_too()
    {
        using var result = new ResultSet(Fields, Enumerable.Range(1, 3).Select(i => new object?[] { i, "[]", 0.0 }), owner: null);
        result.IsAsync.Should().BeFalse();
        result.ReadAllAsync().ToBlockingEnumerable().Select(r => r[0]).Should().Equal(1, 2, 3);
        Encoding.UTF8.GetByteCount(ResultWriter.ToJson(new ResultSet(Fields, []))).Should().BeGreaterThan(0);
    }

    private static IEnumerable<TestCaseData> HostArrays()
    {
        yield return new TestCaseData(new[] { 1.5, -2, 0.1, 1e15, 1e14, 1e-5, 1e-4, -0.0, double.Epsilon, double.MaxValue, 1.0 / 3 },
            "[1.5,-2,0.1,1000000000000000,100000000000000,1E-05,0.0001,-0,5E-324,1.7976931348623157E+308,0.3333333333333333]").SetName("doubles, shortest round trip");
        yield return new TestCaseData(new[] { 0.1f, 2.5f, -3f }, "[0.10000000149011612,2.5,-3]").SetName("floats, as the doubles they are");
        yield return new TestCaseData(Array.Empty<double>(), "[]").SetName("empty");
        yield return new TestCaseData(new[] { 1, double.NaN, double.NegativeInfinity }, "[1,\"NaN\",\"-Infinity\"]").SetName("not finite: as strings");
        var wide = Enumerable.Range(0, 600).Select(i => i + 0.5).ToArray();
        yield return new TestCaseData(wide, "[" + string.Join(",", wide.Select(d => d.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]").SetName("600 items");
        var long_ = Enumerable.Range(1, 100).Select(i => 1.0 / (i + 2)).ToArray();
        yield return new TestCaseData(long_, "[" + string.Join(",", long_.Select(d => d.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]").SetName("100 long numbers (over 1,024 characters)");
    }

    [TestCaseSource(nameof(HostArrays))]
    public void A_host_s_numeric_array_is_the_JSON_text_of_its_numbers_as_Utf8JsonWriter_writes_them(Array value, string expected)
    {
        // What the predict stage puts in a json column the host gave as an array, and what a table prints.
        ResultWriter.JsonText(value).Should().Be(expected);
        var written = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new System.Text.Json.Utf8JsonWriter(written))
        {
            writer.WriteStartArray();
            foreach (var item in value)
            {
                var d = Convert.ToDouble(item, System.Globalization.CultureInfo.InvariantCulture);
                if (double.IsFinite(d))
                {
                    writer.WriteNumberValue(d);
                }
                else
                {
                    writer.WriteStringValue(d.ToString(System.Globalization.CultureInfo.InvariantCulture));
                }
            }
            writer.WriteEndArray();
        }
        Encoding.UTF8.GetString(written.WrittenSpan).Should().Be(expected, "the same text as System.Text.Json's writer");
        ResultWriter.JsonText(value).Should().Be(expected, "the second time too (the thread's buffers are reused)");
    }
}
