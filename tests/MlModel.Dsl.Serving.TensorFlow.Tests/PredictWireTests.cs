using System.Buffers;
using System.Text;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Serving.TensorFlow.Rest;

namespace MlModel.Dsl.Serving.TensorFlow.Tests;

/// <summary>
/// The predict API's wire format on its own: the request body the client writes for each dtype
/// and shape, what it refuses before sending, and how it reads every form of answer
/// (tensorflow_serving/g3doc/api_rest.md; json_tensor.cc).
/// </summary>
public sealed class PredictWireTests
{
    private static string Body(PredictBatch batch)
    {
        PredictRequestWriter.Validate(batch);
        var buffer = new ArrayBufferWriter<byte>();
        PredictRequestWriter.Write(buffer, batch);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static PredictBatch One(string dtype, int[] rowShape, int rows, params double[] values) =>
        new("root_m", 1, rows, [new PredictInput(null, dtype, rowShape, values)]);

    private static IReadOnlyList<PredictOutput> Read(string json, int rows) => PredictResponseReader.Read(Encoding.UTF8.GetBytes(json), rows);

    [Test]
    public void Every_number_of_an_answer_reads_as_the_JSON_reader_reads_it()
    {
        // float32 answers as servers print them (9 digits at most), doubles in full, exponents,
        // integers, negative zero: the short path and the reader's must agree bit for bit.
        var random = new Random(1414);
        var texts = new List<string> { "0", "-0", "-0.0", "1", "2.5", "1e-45", "3.4028235e+38", "1E22", "1e23", "123456789012345", "1234567890123456", "0.30000000000000004", "-99.75" };
        for (var i = 0; i < 5_000; i++)
        {
            var f = (float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-12, 12)));
            texts.Add(f.ToString("R", System.Globalization.CultureInfo.InvariantCulture));
            texts.Add(((double)f * 3.3).ToString("R", System.Globalization.CultureInfo.InvariantCulture));
        }
        var json = "{\"predictions\": [" + string.Join(",", texts) + "]}";

        var values = Read(json, texts.Count).Single().Values.ToArray();

        var expected = new List<double>();
        var reader = new System.Text.Json.Utf8JsonReader(Encoding.UTF8.GetBytes("[" + string.Join(",", texts) + "]"));
        while (reader.Read())
        {
            if (reader.TokenType == System.Text.Json.JsonTokenType.Number)
            {
                expected.Add(reader.GetDouble());
            }
        }
        values.Select(BitConverter.DoubleToInt64Bits).Should().Equal(expected.Select(BitConverter.DoubleToInt64Bits));
    }

    [Test]
    public void Floats_go_in_their_shortest_round_trip_form_and_doubles_in_theirs()
    {
        Body(One("DT_FLOAT", [3], 1, 0.1, 1.0 / 3, 16777217)).Should().Be("""{"instances":[[0.1,0.33333334,16777216]]}""");
        Body(One("DT_DOUBLE", [3], 1, 0.1, 1.0 / 3, 16777217)).Should().Be("""{"instances":[[0.1,0.3333333333333333,16777217]]}""");
        Body(One("DT_HALF", [], 2, 1.5, -2)).Should().Be("""{"instances":[1.5,-2]}""");
        float.Parse("0.33333334", System.Globalization.CultureInfo.InvariantCulture).Should().Be((float)(1.0 / 3));
    }

    [Test]
    public void Integer_dtypes_go_as_whole_numbers_and_bools_as_true_and_false()
    {
        Body(One("DT_INT32", [2], 2, 1, -2, 2147483647, 0)).Should().Be("""{"instances":[[1,-2],[2147483647,0]]}""");
        Body(One("DT_INT64", [], 1, 9007199254740992)).Should().Be("""{"instances":[9007199254740992]}""");
        Body(One("DT_UINT8", [], 2, 0, 255)).Should().Be("""{"instances":[0,255]}""");
        Body(One("DT_BOOL", [2], 1, 1, 0)).Should().Be("""{"instances":[[true,false]]}""");
    }

    [Test]
    public void Several_named_inputs_go_as_one_object_per_row()
    {
        var batch = new PredictBatch("root_m", null, 2,
        [
            new PredictInput("pixels", "DT_FLOAT", [2, 1], new double[] { 1, 2, 3, 4 }),
            new PredictInput("mask", "DT_INT32", [], new double[] { 7, 8 }),
        ]);

        Body(batch).Should().Be("""{"instances":[{"pixels":[[1],[2]],"mask":7},{"pixels":[[3],[4]],"mask":8}]}""");
    }

    [Test]
    public void An_empty_dimension_goes_as_an_empty_list()
    {
        Body(One("DT_FLOAT", [0], 2)).Should().Be("""{"instances":[[],[]]}""");
    }

    [Test]
    public void A_value_an_integer_or_bool_dtype_cannot_hold_is_refused_before_anything_is_sent()
    {
        var fraction = () => Body(One("DT_INT32", [2], 2, 1, 2, 3, 4.5));
        var range = () => Body(One("DT_UINT8", [], 1, 256));
        var flag = () => Body(One("DT_BOOL", [], 1, 2));

        fraction.Should().Throw<MlModelException>().Which.Should().BeEquivalentTo(new
        {
            Code = ErrorCodes.InvalidValue,
            Message = "row 2 of the batch gives input 'instances' the value 4.5, but its dtype DT_INT32 takes a whole number from -2147483648 to 2147483647",
        });
        range.Should().Throw<MlModelException>().WithMessage("row 1 of the batch gives input 'instances' the value 256, but its dtype DT_UINT8 takes a whole number from 0 to 255");
        flag.Should().Throw<MlModelException>().WithMessage("row 1 of the batch gives input 'instances' the value 2, but its dtype DT_BOOL takes 0 (false) or 1 (true)");
    }

    [Test]
    public void A_batch_that_does_not_add_up_is_refused_in_words()
    {
        var cases = new (PredictBatch Batch, string Code, string Message)[]
        {
            (One("DT_FLOAT", [2], 0), ErrorCodes.InvalidValue, "a batch for root_m has 0 rows; TensorFlow Serving refuses an empty 'instances' list"),
            (One("DT_FLOAT", [2], 2, 1, 2, 3), ErrorCodes.InvalidValue, "input 'instances' holds 3 values for 2 rows of shape (2,), which take 4"),
            (One("DT_STRING", [], 1, 1), ErrorCodes.Unsupported,
                "input 'instances' of root_m has the dtype DT_STRING; predict sends numbers: DT_FLOAT, DT_DOUBLE, DT_HALF, DT_BFLOAT16, DT_INT8 to DT_INT64, DT_UINT8 to DT_UINT64 or DT_BOOL"),
            (One("DT_FLOAT", [-1], 1, 1), ErrorCodes.InvalidValue, "input 'instances' has the row shape (-1,); a dimension of a row is 0 or more"),
            (new PredictBatch("root_m", 0, 1, [new PredictInput(null, "DT_FLOAT", [], new double[] { 1 })]), ErrorCodes.InvalidValue,
                "version 0 of root_m is not a version; versions start at 1"),
            (new PredictBatch("root_m", null, 1, [new PredictInput("a", "DT_FLOAT", [], new double[] { 1 }), new PredictInput(null, "DT_FLOAT", [], new double[] { 1 })]), ErrorCodes.InvalidValue,
                "a batch for root_m has 2 inputs and one without a name; several inputs are sent by name (layer_name)"),
            (new PredictBatch("root_m", null, 1, [new PredictInput("a", "DT_FLOAT", [], new double[] { 1 }), new PredictInput("a", "DT_FLOAT", [], new double[] { 1 })]), ErrorCodes.InvalidValue,
                "a batch for root_m names input 'a' twice"),
        };

        foreach (var (batch, code, message) in cases)
        {
            var act = () => PredictRequestWriter.Validate(batch);
            act.Should().Throw<MlModelException>().Which.Should().BeEquivalentTo(new { Code = code, Message = message });
        }
    }

    [TestCase(null)]
    [TestCase(100_000L)]
    public async Task An_answer_is_read_whole_into_the_pooled_buffer_with_or_without_its_length(long? announced)
    {
        var bytes = Enumerable.Range(0, 100_000).Select(i => (byte)(i * 31)).ToArray();
        using var buffer = new PooledBufferWriter(256);

        await buffer.ReadFromAsync(new MemoryStream(bytes), announced, CancellationToken.None);

        buffer.WrittenSpan.ToArray().Should().Equal(bytes);
    }

    [Test]
    public void Reads_rows_of_one_unnamed_output_as_rapidjson_lays_them_out()
    {
        // The layout of TensorFlow Serving's own answer (api_rest.md's curl example).
        var y = Read("{\n    \"predictions\": [[2.5, 3.0], [3.5, 4.0]\n    ]\n}", 2).Single();

        y.Name.Should().BeNull();
        y.RowShape.Should().Equal(2);
        y.Values.ToArray().Should().Equal(2.5, 3, 3.5, 4);
    }

    [Test]
    public void Reads_rows_of_named_outputs_into_one_output_each()
    {
        var outputs = Read("""{"predictions": [{"probabilities": [0.5, 0.5], "classes": 1, "ok": true}, {"classes": 0, "probabilities": [0.9, 0.1], "ok": false}]}""", 2);

        outputs.Select(o => o.Name).Should().Equal("classes", "ok", "probabilities");
        outputs[0].RowShape.Should().BeEmpty();
        outputs[0].Values.ToArray().Should().Equal(1, 0);
        outputs[1].Values.ToArray().Should().Equal(1, 0);
        outputs[2].RowShape.Should().Equal(2);
        outputs[2].Values.ToArray().Should().Equal(0.5, 0.5, 0.9, 0.1);
    }

    [Test]
    public void Reads_the_columnar_form_too()
    {
        var single = Read("""{"outputs": [[[1], [2]], [[3], [4]], [[5], [6]]]}""", 3).Single();
        single.RowShape.Should().Equal(2, 1);
        single.Values.ToArray().Should().Equal(1, 2, 3, 4, 5, 6);

        var named = Read("""{"outputs": {"b": [1, 2], "a": [[1, 2], [3, 4]]}}""", 2);
        named.Select(o => (o.Name, o.RowShape.Count)).Should().Equal(("a", 1), ("b", 0));
    }

    [Test]
    public void Reads_NaN_and_the_infinities_as_the_server_writes_them_and_leaves_strings_alone()
    {
        var y = Read("""{"model":"NaN and Infinity","predictions": [NaN, Infinity, -Infinity, 1.5e3]}""", 4).Single();

        y.Values.ToArray().Should().Equal(double.NaN, double.PositiveInfinity, double.NegativeInfinity, 1500);
    }

    [Test]
    public void An_answer_that_is_not_a_batch_of_the_rows_sent_is_refused_in_words()
    {
        var cases = new (string Json, int Rows, string Message)[]
        {
            ("""{"predictions": [1, 2]}""", 3, "the output has 2 rows for a batch of 3"),
            ("""{"predictions": [1, 2, 3]}""", 2, "'predictions' has more rows than the batch's 2"),
            ("""{"predictions": [[1, 2], [3]]}""", 2, "row 2 of the output does not have the shape (2,) of the first row"),
            ("""{"predictions": [[1, [2]]]}""", 1, "the first row of the output is not a tensor: its lists differ in length or depth"),
            ("""{"predictions": [{"a": 1}, {"b": 2}]}""", 2, "row 2 of 'predictions' has output 'b', which the first row has not"),
            ("""{"predictions": [{"a": 1, "b": 1}, {"a": 2}]}""", 2, "row 2 of 'predictions' lacks output 'b'"),
            ("""{"predictions": [1, {"a": 2}]}""", 2, "row 2 of 'predictions' is an object, unlike the first"),
            ("""{"predictions": ["cat"]}""", 1, "the output holds text (a DT_STRING tensor); predict reads numbers"),
            ("""{"predictions": [null]}""", 1, "the output holds null where a number or a list belongs"),
            ("""{"outputs": 3}""", 1, "'outputs' is neither a list (the batch of one output) nor an object of named outputs"),
            ("""{"result": []}""", 1, "the answer has neither 'predictions' nor 'outputs'"),
            ("""[1]""", 1, "the answer is not a JSON object"),
        };

        foreach (var (json, rows, message) in cases)
        {
            var act = () => Read(json, rows);
            act.Should().Throw<InvalidDataException>().WithMessage(message, json);
        }

        FluentActions.Invoking(() => Read("""{"predictions": [1,""", 1)).Should().Throw<InvalidDataException>().WithMessage("the answer is not JSON: *");
    }
}
