using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Execution.Predict;

namespace MlModel.Dsl.Tests.Execution.Predict;

/// <summary>
/// Unit tests of the <c>serving predict</c> stage with <see cref="InProcessPredictor"/>, which
/// computes real outputs in the test process (y = x/2 + 2, and a softmax of fixed weights); the
/// stage against TensorFlow Serving's REST API is tested end to end with the fake server.
/// </summary>
public sealed class PredictStageTests
{
    private static readonly ResultField[] FeatureFields = [new("id", FieldType.Int), new("features", FieldType.String)];

    private static PredictStage Stage(InProcessPredictor predictor, ServingPredictCommand command, IReadOnlyList<ResultField> fields,
        int batchSize = 64, int inFlight = 4, string servingName = "root_half_plus_two")
    {
        var signature = predictor.GetSignatureAsync(servingName, command.Version).GetAwaiter().GetResult();
        var columnName = command.Column ?? "feature";
        var column = fields.Select((f, i) => (f, i)).Single(x => x.f.Name == columnName).i;
        var plan = PredictPlan.Resolve(command, servingName, column, columnName, signature);
        return new PredictStage(plan, predictor, fields, batchSize, inFlight);
    }

    private static async IAsyncEnumerable<object?[]> Source(IEnumerable<object?[]> rows, Action? atEnd = null, Action<int>? onRow = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var n = 0;
        foreach (var row in rows)
        {
            await Task.Yield();
            cancellationToken.ThrowIfCancellationRequested();
            onRow?.Invoke(++n);
            yield return row;
        }
        atEnd?.Invoke();
    }

    private static async Task<List<object?[]>> AllAsync(IAsyncEnumerable<object?[]> rows, CancellationToken cancellationToken = default)
    {
        var list = new List<object?[]>();
        await foreach (var row in rows.WithCancellation(cancellationToken))
        {
            list.Add(row);
        }
        return list;
    }

    private static string F(double d) => d.ToString(CultureInfo.InvariantCulture);

    [Test]
    public async Task Thousands_of_rows_come_back_in_input_order_while_four_batches_are_in_flight_and_answered_out_of_order()
    {
        // Batches are held until four are waiting, then answered newest first: the stage must
        // put them back in input order, and must have had four in flight to get any answer.
        var predictor = new InProcessPredictor();
        var held = new List<TaskCompletionSource>();
        var gate = new Lock();
        var ended = false;
        void ReleaseAll()
        {
            lock (gate)
            {
                // The input has ended: the last batches go at once (no fourth will come to release them).
                ended = true;
                for (var i = held.Count - 1; i >= 0; i--)
                {
                    held[i].TrySetResult();
                }
                held.Clear();
            }
        }
        predictor.OnBatch = (_, ct) =>
        {
            var mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (gate)
            {
                held.Add(mine);
                if (held.Count == 4 || ended)
                {
                    for (var i = held.Count - 1; i >= 0; i--)
                    {
                        held[i].TrySetResult();
                    }
                    held.Clear();
                }
            }
            return mine.Task.WaitAsync(ct);
        };
        const int count = 5_000;
        var stage = Stage(predictor, new ServingPredictCommand("half_plus_two", Column: "features"), FeatureFields, batchSize: 64, inFlight: 4);
        var input = Enumerable.Range(1, count).Select(i => new object?[] { i, F(i * 0.5) });

        var rows = await AllAsync(stage.RunAsync(Source(input, atEnd: ReleaseAll), CancellationToken.None));

        rows.Should().HaveCount(count);
        rows.Select(r => (int)r[0]!).Should().Equal(Enumerable.Range(1, count));
        rows.Should().OnlyContain(r => (double)r[3]! == (float)((int)r[0]! * 0.5 / 2 + 2));
        rows[9].Should().BeEquivalentTo(new object[] { 10, "5", new[] { 4.5 }, 4.5 }, o => o.WithStrictOrdering());
        rows[9][2].Should().BeOfType<double[]>("a row's output vector is the host's numeric array");
        predictor.MaxInFlight.Should().Be(4);
        predictor.Batches.Should().HaveCount((count + 63) / 64);
        predictor.Batches.Select(b => b.Rows).Should().OnlyContain(n => n == 64 || n == count % 64);
        stage.Fields.Select(f => (f.Name, f.Type)).Should().Equal(("id", FieldType.Int), ("features", FieldType.String), ("predictions", FieldType.Json), ("probability", FieldType.Double));
    }

    [Test]
    public async Task The_stage_reads_no_further_ahead_than_the_batches_in_flight_however_many_rows_there_are()
    {
        var predictor = new InProcessPredictor();
        var read = 0;
        var ahead = 0;
        var stage = Stage(predictor, new ServingPredictCommand("half_plus_two", Column: "features"), FeatureFields, batchSize: 10, inFlight: 3);
        var yielded = 0;
        var input = Enumerable.Range(1, 20_000).Select(i => new object?[] { i, "1" });
        await foreach (var _ in stage.RunAsync(Source(input, onRow: n => read = n), CancellationToken.None))
        {
            yielded++;
            ahead = Math.Max(ahead, read - yielded);
        }
        yielded.Should().Be(20_000);
        ahead.Should().BeLessThanOrEqualTo((3 + 1) * 10, "at most the batches in flight and the one being filled are held");
    }

    [Test]
    public async Task A_softmax_classifier_gives_its_probabilities_the_largest_and_its_tag()
    {
        var predictor = new InProcessPredictor();
        var fields = new ResultField[] { new("features", FieldType.String) };
        var stage = Stage(predictor, new ServingPredictCommand("m", Column: "features", Tag: ["setosa", "versicolor", "virginica"]), fields, servingName: "root_iris");
        var flowers = new[] { new[] { 5.1, 3.5, 1.4, 0.2 }, new[] { 6.0, 2.9, 4.5, 1.5 }, new[] { 6.9, 3.1, 5.4, 2.1 } };

        var rows = await AllAsync(stage.RunAsync(Source(flowers.Select(f => new object?[] { "[" + string.Join(",", f.Select(F)) + "]" })), CancellationToken.None));

        stage.Fields.Select(f => f.Name).Should().Equal("features", "predictions", "probability", "interpreted");
        for (var i = 0; i < flowers.Length; i++)
        {
            var expected = InProcessPredictor.IrisOf(flowers[i]);
            rows[i][1].Should().BeOfType<double[]>().Which.Should().Equal(expected);
            rows[i][2].Should().Be(expected.Max());
            rows[i][3].Should().Be(new[] { "setosa", "versicolor", "virginica" }[Array.IndexOf(expected, expected.Max())]);
        }
        // The weights separate the three textbook flowers.
        rows.Select(r => r[3]).Should().Equal("setosa", "versicolor", "virginica");
    }

    [Test]
    public void A_tag_count_that_does_not_match_the_signature_s_output_is_refused_before_any_row()
    {
        var predictor = new InProcessPredictor();
        var act = () => Stage(predictor, new ServingPredictCommand("m", Column: "features", Tag: ["0", "1"]), FeatureFields, servingName: "root_iris");
        act.Should().Throw<MlModelException>().Which.Error.Should().BeEquivalentTo(new
        {
            Code = ErrorCodes.InvalidValue,
            Message = "serving predict: tag gives 2 tag(s), but the model's output 'probabilities' has 3 value(s) per row; give one tag per value, in order",
        });
    }

    [Test]
    public async Task A_tag_count_that_does_not_match_the_answer_fails_when_the_signature_does_not_tell_the_output_size()
    {
        var predictor = new InProcessPredictor();
        predictor.Serve("root_open", new ModelSignature("serving_default", null,
            [new TensorSpec("x", null, "DT_FLOAT", [-1, 2])], [new TensorSpec("y", null, "DT_FLOAT", null)]));
        var stage = Stage(predictor, new ServingPredictCommand("open", Column: "features", Tag: ["a", "b", "c"]), FeatureFields, servingName: "root_open");
        var act = () => AllAsync(stage.RunAsync(Source([[1, "1,2"]]), CancellationToken.None));
        (await act.Should().ThrowAsync<MlModelException>()).Which.Error.Should().BeEquivalentTo(new
        {
            Code = ErrorCodes.InvalidValue,
            Message = "serving predict: tag gives 3 tag(s), but the model's output has 2 value(s) per row; give one tag per value, in order",
        });
    }

    [TestCase(null, "has no value (null)")]
    [TestCase("", "is empty")]
    [TestCase("1,abc", "holds 'abc' at item 2, which is not a number")]
    [TestCase("1,,2", "has an empty item 2 (two commas, or a comma at an end)")]
    [TestCase("[1, \"2\"]", "is not a JSON array of numbers: item 2 is a string")]
    [TestCase("[1, 2", "is not valid JSON (line 1, byte 6 of the line)")]
    [TestCase("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", "nests arrays more than 64 deep")]
    [TestCase("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", "holds 1 value(s), but shape [(4,)] takes 4")]
    [TestCase("1,2,3", "holds 3 value(s), but shape [(4,)] takes 4")]
    [TestCase("[[1,2],[3,4],[5]]", "holds 5 value(s), but shape [(4,)] takes 4")]
    [TestCase("1,2,NaN,4", "holds NaN at item 3, which is not a number JSON can carry")]
    public async Task A_row_whose_input_cannot_be_sent_fails_with_its_row_number_and_the_column(string? value, string what)
    {
        var predictor = new InProcessPredictor();
        predictor.Serve("root_m", new ModelSignature("serving_default", null, [new TensorSpec("x", null, "DT_FLOAT", [-1, 4])], [new TensorSpec("y", null, "DT_FLOAT", [-1, 4])]));
        var stage = Stage(predictor, new ServingPredictCommand("m", Column: "features", Shape: [[4]]), FeatureFields, servingName: "root_m");
        var act = () => AllAsync(stage.RunAsync(Source([[1, "1,2,3,4"], [2, "[1,2,3,4]"], [3, value], [4, "1,2,3,4"]]), CancellationToken.None));
        (await act.Should().ThrowAsync<MlModelException>()).Which.Error.Should().BeEquivalentTo(new
        {
            Code = ErrorCodes.InvalidValue,
            Message = $"serving predict: row 3: column 'features' {what}",
        });
        predictor.Batches.Should().BeEmpty("the bad row comes before the first batch is full");
    }

    [Test]
    public async Task A_row_without_the_column_and_a_value_of_another_type_fail_with_their_row_numbers()
    {
        var predictor = new InProcessPredictor();
        var stage = Stage(predictor, new ServingPredictCommand("half_plus_two", Column: "features"), FeatureFields, batchSize: 2);
        var act = () => AllAsync(stage.RunAsync(Source([[1, "1"], [2, "2"], [3]]), CancellationToken.None));
        (await act.Should().ThrowAsync<MlModelException>()).Which.Message.Should().Be("serving predict: row 3: column 'features' has no value (null)");

        stage = Stage(predictor, new ServingPredictCommand("half_plus_two", Column: "features"), FeatureFields);
        act = () => AllAsync(stage.RunAsync(Source([[1, true]]), CancellationToken.None));
        (await act.Should().ThrowAsync<MlModelException>()).Which.Message.Should().Be("serving predict: row 1: column 'features' holds a value of type Boolean, not numbers");

        stage = Stage(predictor, new ServingPredictCommand("half_plus_two", Column: "features"), FeatureFields);
        act = () => AllAsync(stage.RunAsync(Source([[1, new object?[] { 1.0, "x" }]]), CancellationToken.None));
        (await act.Should().ThrowAsync<MlModelException>()).Which.Message.Should().Be("serving predict: row 1: column 'features' holds the text 'x' at item 2 of an array, not a number");
    }

    [Test]
    public async Task Whole_number_dtypes_refuse_fractions_and_values_out_of_their_range()
    {
        var predictor = new InProcessPredictor();
        var stage = Stage(predictor, new ServingPredictCommand("half_plus_two", Column: "features", Dtype: "int8"), FeatureFields);
        var act = () => AllAsync(stage.RunAsync(Source([[1, "3"], [2, "1.5"]]), CancellationToken.None));
        (await act.Should().ThrowAsync<MlModelException>()).Which.Message.Should().Be(
            "serving predict: row 2: column 'features' holds 1.5 at item 1, which is not a whole number in the range of DT_INT8");
        act = () => AllAsync(Stage(predictor, new ServingPredictCommand("half_plus_two", Column: "features", Dtype: "int8"), FeatureFields)
            .RunAsync(Source([[1, "128"]]), CancellationToken.None));
        (await act.Should().ThrowAsync<MlModelException>()).Which.Message.Should().Be(
            "serving predict: row 1: column 'features' holds 128 at item 1, which is not a whole number in the range of DT_INT8");
    }

    public static IEnumerable<TestCaseData> HostValues()
    {
        yield return new TestCaseData("[1, 2.5, -3, 4e1]").SetName("JSON array text");
        yield return new TestCaseData(" [[1, 2.5], [-3, 40]] ").SetName("nested JSON array text");
        yield return new TestCaseData("1, 2.5,-3 ,4e1").SetName("comma-separated numbers");
        yield return new TestCaseData(new[] { 1, 2.5, -3, 40 }).SetName("double[]");
        yield return new TestCaseData(new[] { 1f, 2.5f, -3f, 40f }).SetName("float[]");
        yield return new TestCaseData(new object[] { new object[] { new[] { 1, 2.5 }, new[] { -3.0, 40 } } }).SetName("nested arrays");
        yield return new TestCaseData(new[,] { { 1, 2.5 }, { -3, 40 } }).SetName("double[,]");
        yield return new TestCaseData(new List<decimal> { 1m, 2.5m, -3m, 40m }).SetName("List<decimal>");
        yield return new TestCaseData(JsonDocument.Parse("[[1, 2.5], [-3, 40]]").RootElement).SetName("JsonElement");
        yield return new TestCaseData(new object[] { new object[] { 1, 2.5f, -3L, (short)40 } }).SetName("object[] of mixed numbers");
    }

    [TestCaseSource(nameof(HostValues))]
    public async Task Every_form_of_input_the_host_may_give_is_read_as_the_same_numbers(object value)
    {
        var predictor = new InProcessPredictor();
        predictor.Serve("root_m", new ModelSignature("serving_default", null, [new TensorSpec("x", null, "DT_FLOAT", [-1, 2, 2])], [new TensorSpec("y", null, "DT_FLOAT", [-1, 2, 2])]));
        var fields = new ResultField[] { new("feature", FieldType.Json) };
        var stage = Stage(predictor, new ServingPredictCommand("m"), fields, servingName: "root_m");

        var row = (await AllAsync(stage.RunAsync(Source([[value]]), CancellationToken.None))).Single();

        var sent = predictor.Batches.Single().Inputs.Single();
        sent.Values.ToArray().Should().Equal(1, 2.5, -3, 40);
        sent.RowShape.Should().Equal(2, 2);
        sent.Name.Should().BeNull("one input goes as plain instances");
        row[1].Should().BeOfType<object[]>("the output keeps its row shape, as nested arrays")
            .Which.Should().BeEquivalentTo(new object[] { new[] { 2.5, 3.25 }, new[] { 0.5, 22.0 } }, o => o.WithStrictOrdering());
        ResultWriter.JsonText(row[1]!).Should().Be("[[2.5,3.25],[0.5,22]]");
        row[2].Should().Be(22.0);
        row[0].Should().BeSameAs(value, "the host's value passes through unchanged");
    }

    [Test]
    public async Task A_scalar_output_is_a_number_and_several_outputs_are_one_JSON_object_by_name()
    {
        var predictor = new InProcessPredictor();
        predictor.Serve("root_s", new ModelSignature("serving_default", null, [new TensorSpec("x", null, "DT_FLOAT", [-1, 1])], [new TensorSpec("y", null, "DT_FLOAT", [-1])]));
        predictor.Answer = b => [new PredictOutput(null, [], b.Inputs[0].Values.ToArray().Select(x => x * 10).ToArray())];
        var fields = new ResultField[] { new("feature", FieldType.String) };

        var rows = await AllAsync(Stage(predictor, new ServingPredictCommand("s"), fields, servingName: "root_s").RunAsync(Source([["[1]"], ["[2.5]"]]), CancellationToken.None));

        rows.Select(r => r[1]).Should().Equal(10.0, 25.0);
        rows.Select(r => r[2]).Should().Equal(10.0, 25.0);

        predictor.Answer = b => [
            new PredictOutput("scores", [2], Enumerable.Range(0, b.Rows * 2).Select(i => i / 4.0).ToArray()),
            new PredictOutput("class", [], Enumerable.Range(0, b.Rows).Select(i => (double)i).ToArray()),
        ];
        rows = await AllAsync(Stage(predictor, new ServingPredictCommand("s"), fields, servingName: "root_s").RunAsync(Source([["[1]"], ["[2]"]]), CancellationToken.None));

        rows.Select(r => r[1]).Should().Equal("{\"scores\":[0,0.25],\"class\":0}", "{\"scores\":[0.5,0.75],\"class\":1}");
        rows.Select(r => r[2]).Should().Equal(new object[] { 0.25, 0.75 }, "probability is the largest value of the first output");
    }

    [Test]
    public async Task The_shape_parameter_reshapes_each_row_and_splits_it_between_the_model_s_inputs_in_order()
    {
        var predictor = new InProcessPredictor();
        predictor.Serve("root_two", new ModelSignature("serving_default", null,
            [new TensorSpec("a", null, "DT_FLOAT", null), new TensorSpec("b", null, "DT_INT32", [-1, -1])], [new TensorSpec("y", null, "DT_FLOAT", null)]));
        var stage = Stage(predictor, new ServingPredictCommand("two", Column: "features", Shape: [[2, 1], [3]]), FeatureFields, servingName: "root_two");

        await AllAsync(stage.RunAsync(Source([[1, "1,2,3,4,5"], [2, "6,7,8,9,10"]]), CancellationToken.None));

        var inputs = predictor.Batches.Single().Inputs;
        inputs.Select(i => (i.Name, i.Dtype, string.Join(",", i.RowShape))).Should().Equal(("a", "DT_FLOAT", "2,1"), ("b", "DT_INT32", "3"));
        inputs[0].Values.ToArray().Should().Equal(1, 2, 6, 7);
        inputs[1].Values.ToArray().Should().Equal(3, 4, 5, 8, 9, 10);
    }

    [Test]
    public async Task Without_shape_the_signature_gives_it_with_the_batch_dimension_dropped_and_layer_name_picks_one_named_input()
    {
        var predictor = new InProcessPredictor();
        predictor.Serve("root_img", new ModelSignature("serving_default", null,
            [new TensorSpec("pixels", "input_1:0", "DT_FLOAT", [-1, 28, 28, 1]), new TensorSpec("mask", null, "DT_INT32", [-1, 2])],
            [new TensorSpec("probabilities", null, "DT_FLOAT", [-1, 10])]));
        var pixels = string.Join(",", Enumerable.Range(0, 784).Select(i => F(i / 784.0)));
        var stage = Stage(predictor, new ServingPredictCommand("img", Column: "features", LayerName: "pixels", Dtype: "float64"), FeatureFields, servingName: "root_img");

        await AllAsync(stage.RunAsync(Source([[1, pixels]]), CancellationToken.None));

        var input = predictor.Batches.Single().Inputs.Single();
        (input.Name, input.Dtype).Should().Be(("pixels", "DT_DOUBLE"));
        input.RowShape.Should().Equal(28, 28, 1);
        input.Values.Length.Should().Be(784);

        var act = () => Stage(predictor, new ServingPredictCommand("img", Column: "features", LayerName: "pixel"), FeatureFields, servingName: "root_img");
        act.Should().Throw<MlModelException>().WithMessage("serving predict: invalid value for 'layer_name': 'pixel' is not an input of the model; its inputs: pixels, mask");
    }

    [Test]
    public void A_signature_without_a_usable_shape_asks_for_shape()
    {
        var predictor = new InProcessPredictor();
        predictor.Serve("root_var", new ModelSignature("serving_default", null, [new TensorSpec("x", null, "DT_FLOAT", [-1, -1])], []));
        predictor.Serve("root_str", new ModelSignature("serving_default", null, [new TensorSpec("inputs", null, "DT_STRING", [-1])], []));
        var act = () => Stage(predictor, new ServingPredictCommand("var", Column: "features"), FeatureFields, servingName: "root_var");
        act.Should().Throw<MlModelException>().Which.Error.Should().BeEquivalentTo(new
        {
            Code = ErrorCodes.InvalidValue,
            Message = "serving predict: input 'x' of version 1 has a dimension of unknown size (shape [-1,-1]); give shape=, such as shape=[(12,)]",
        });
        act = () => Stage(predictor, new ServingPredictCommand("str", Column: "features"), FeatureFields, servingName: "root_str");
        act.Should().Throw<MlModelException>().Which.Error.Should().BeEquivalentTo(new
        {
            Code = ErrorCodes.Unsupported,
            Message = "serving predict: the model's input 'inputs' is DT_STRING; serving predict sends numbers (float16, bfloat16, float32, float64, int8, int16, int32, int64, uint8, uint16, uint32, uint64 (or DT_FLOAT, DT_INT32, ...))",
        });
        act = () => Stage(predictor, new ServingPredictCommand("var", Column: "features", Shape: [[2], [2]]), FeatureFields, servingName: "root_var");
        act.Should().Throw<MlModelException>().WithMessage("serving predict: shape [(2,),(2,)] gives 2 inputs, but the model takes 1 (x)");
    }

    [Test]
    public async Task The_server_s_error_is_passed_on_with_the_rows_of_its_batch()
    {
        var predictor = new InProcessPredictor
        {
            Refuse = new MlModelException(ErrorCodes.Backend, "TensorFlow Serving says: {\"error\": \"Input to reshape is a tensor with 2 values, but the requested shape has 3\"}"),
        };
        var stage = Stage(predictor, new ServingPredictCommand("half_plus_two", Column: "features"), FeatureFields, batchSize: 3);
        var act = () => AllAsync(stage.RunAsync(Source(Enumerable.Range(1, 7).Select(i => new object?[] { i, "1" })), CancellationToken.None));
        (await act.Should().ThrowAsync<MlModelException>()).Which.Error.Should().BeEquivalentTo(new
        {
            Code = ErrorCodes.Backend,
            Message = "serving predict: rows 1 to 3: TensorFlow Serving says: {\"error\": \"Input to reshape is a tensor with 2 values, but the requested shape has 3\"}",
        });
    }

    [Test]
    public async Task Cancelling_stops_reading_rows_and_cancels_the_batches_in_flight()
    {
        var predictor = new InProcessPredictor();
        var cancelledInFlight = 0;
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        predictor.OnBatch = async (_, ct) =>
        {
            started.TrySetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            catch (OperationCanceledException)
            {
                Interlocked.Increment(ref cancelledInFlight);
                throw;
            }
        };
        var read = 0;
        var disposed = false;
        async IAsyncEnumerable<object?[]> Endless([EnumeratorCancellation] CancellationToken ct = default)
        {
            try
            {
                for (var i = 1; ; i++)
                {
                    await Task.Yield();
                    ct.ThrowIfCancellationRequested();
                    read = i;
                    yield return [i, "1"];
                }
            }
            finally
            {
                disposed = true;
            }
        }
        using var cancel = new CancellationTokenSource();
        var stage = Stage(predictor, new ServingPredictCommand("half_plus_two", Column: "features"), FeatureFields, batchSize: 8, inFlight: 2);
        var run = AllAsync(stage.RunAsync(Endless(), CancellationToken.None), cancel.Token);
        await started.Task;
        await cancel.CancelAsync();

        await run.Invoking(r => r).Should().ThrowAsync<OperationCanceledException>();
        disposed.Should().BeTrue("the input is let go");
        read.Should().BeLessThanOrEqualTo(3 * 8, "no more than the window's rows were read");
        cancelledInFlight.Should().Be(predictor.Batches.Count, "every batch in flight saw the cancellation");
    }

    [Test]
    public async Task A_consumer_that_stops_early_cancels_what_is_in_flight_and_lets_the_input_go()
    {
        var predictor = new InProcessPredictor();
        var disposed = false;
        var input = Enumerable.Range(1, 1_000).Select(i => new object?[] { i, "1" });
        async IAsyncEnumerable<object?[]> Tracked()
        {
            try
            {
                await foreach (var row in Source(input))
                {
                    yield return row;
                }
            }
            finally
            {
                disposed = true;
            }
        }
        var stage = Stage(predictor, new ServingPredictCommand("half_plus_two", Column: "features"), FeatureFields, batchSize: 10, inFlight: 4);
        var taken = 0;
        await foreach (var _ in stage.RunAsync(Tracked(), CancellationToken.None))
        {
            if (++taken == 15)
            {
                break;
            }
        }
        disposed.Should().BeTrue();
        predictor.Batches.Count.Should().BeLessThanOrEqualTo(6);
    }

    [Test]
    public async Task The_command_s_token_cancels_the_stream_too()
    {
        var predictor = new InProcessPredictor();
        using var command = new CancellationTokenSource();
        var stage = Stage(predictor, new ServingPredictCommand("half_plus_two", Column: "features"), FeatureFields, batchSize: 2);
        var rows = 0;
        var act = async () =>
        {
            await foreach (var _ in stage.RunAsync(Source(Enumerable.Range(1, 100).Select(i => new object?[] { i, "1" })), command.Token))
            {
                if (++rows == 3)
                {
                    await command.CancelAsync();
                }
            }
        };
        await act.Should().ThrowAsync<OperationCanceledException>();
        rows.Should().BeLessThan(100);
    }

    [Test]
    public async Task A_failed_stream_has_cancelled_and_awaited_its_requests_and_hands_out_no_row_after_its_error()
    {
        var predictor = new InProcessPredictor();
        var cancelled = 0;
        var started = 0;
        predictor.OnBatch = async (batch, ct) =>
        {
            // Every batch but the first waits until it is cancelled.
            if (Interlocked.Increment(ref started) == 1)
            {
                return;
            }
            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            catch (OperationCanceledException)
            {
                Interlocked.Increment(ref cancelled);
                throw;
            }
        };
        var stage = Stage(predictor, new ServingPredictCommand("half_plus_two", Column: "features"), FeatureFields, batchSize: 2, inFlight: 4);
        var input = Enumerable.Range(1, 40).Select(i => new object?[] { i, i == 9 ? "x" : "1" });
        await using var rows = stage.RunAsync(Source(input, atEnd: null), CancellationToken.None).GetAsyncEnumerator();
        var seen = new List<int>();
        var failure = await FluentActions.Awaiting(async () =>
        {
            while (await rows.MoveNextAsync())
            {
                seen.Add((int)rows.Current[0]!);
            }
        }).Should().ThrowAsync<MlModelException>();

        failure.Which.Message.Should().StartWith("serving predict: row 9: column 'features'");
        seen.Should().Equal(1, 2);
        Volatile.Read(ref cancelled).Should().Be(Volatile.Read(ref started) - 1, "the requests in flight were cancelled and awaited before the error came out");
        (await rows.MoveNextAsync()).Should().BeFalse("a failed stream hands out nothing more, not the rows after the bad one");
    }

    [Test]
    public async Task A_predictor_s_outputs_may_be_views_of_its_inputs_the_buffers_are_kept_until_the_rows_are_made()
    {
        // An identity model that answers with the very memory it was given.
        var predictor = new InProcessPredictor
        {
            Answer = b => [new PredictOutput(null, [1], b.Inputs[0].Values)],
        };
        predictor.OnBatch = async (_, _) => await Task.Yield();
        var streams = Enumerable.Range(0, 4).Select(async s =>
        {
            var stage = Stage(predictor, new ServingPredictCommand("half_plus_two", Column: "features"), FeatureFields, batchSize: 16, inFlight: 4);
            var input = Enumerable.Range(1, 5_000).Select(i => new object?[] { i, F(s * 10_000 + i) });
            return await AllAsync(stage.RunAsync(Source(input), CancellationToken.None));
        }).ToList();

        var results = await Task.WhenAll(streams);

        for (var s = 0; s < results.Length; s++)
        {
            results[s].Select(r => ((double[])r[2]!)[0]).Should().Equal(Enumerable.Range(1, 5_000).Select(i => (double)(s * 10_000 + i)));
        }
    }

    [Test]
    public async Task A_stream_read_to_the_end_lets_go_of_its_source_before_it_is_disposed()
    {
        var predictor = new InProcessPredictor();
        var stage = Stage(predictor, new ServingPredictCommand("half_plus_two", Column: "features"), FeatureFields, batchSize: 4);
        var source = new DisposalWatch(Source(Enumerable.Range(1, 10).Select(i => new object?[] { i, "1" })));
        var ended = new List<(Exception?, long)>();
        var stream = stage.RunAsync(source, CancellationToken.None, ended: (e, n) => ended.Add((e, n)));
        var rows = stream.GetAsyncEnumerator();
        var count = 0;
        while (await rows.MoveNextAsync())
        {
            count++;
        }

        count.Should().Be(10);
        source.Disposed.Should().BeTrue();
        ended.Should().Equal((null, 10L));
        await rows.DisposeAsync();
        await stream.DisposeAsync();
        ended.Should().HaveCount(1, "the end is told once");
        (await rows.MoveNextAsync()).Should().BeFalse();
        FluentActions.Invoking(() => stream.GetAsyncEnumerator()).Should().Throw<InvalidOperationException>();
    }

    private sealed class DisposalWatch(IAsyncEnumerable<object?[]> inner) : IAsyncEnumerable<object?[]>
    {
        public bool Disposed { get; private set; }

        public IAsyncEnumerator<object?[]> GetAsyncEnumerator(CancellationToken cancellationToken = default) => new Enumerator(this, inner.GetAsyncEnumerator(cancellationToken));

        private sealed class Enumerator(DisposalWatch watch, IAsyncEnumerator<object?[]> inner) : IAsyncEnumerator<object?[]>
        {
            public object?[] Current => inner.Current;

            public ValueTask<bool> MoveNextAsync() => inner.MoveNextAsync();

            public ValueTask DisposeAsync()
            {
                watch.Disposed = true;
                return inner.DisposeAsync();
            }
        }
    }

    [Test]
    public void Parameters_that_can_never_fit_are_refused_before_the_model_is_asked()
    {
        FluentActions.Invoking(() => PredictPlan.Validate(new ServingPredictCommand("m", Shape: [[12, 0]])))
            .Should().Throw<MlModelException>().WithMessage("serving predict: invalid value for 'shape': [(12,0)]; give one tuple per model input, each dimension a whole number from 1 up, such as shape=[(12,)] or shape=[(28,28,1)]");
        FluentActions.Invoking(() => PredictPlan.Validate(new ServingPredictCommand("m", Dtype: "string")))
            .Should().Throw<MlModelException>().Which.Error.Code.Should().Be(ErrorCodes.InvalidValue);
        FluentActions.Invoking(() => PredictPlan.Validate(new ServingPredictCommand("m", Tag: [])))
            .Should().Throw<MlModelException>().WithMessage("serving predict: invalid value for 'tag': *");
        FluentActions.Invoking(() => PredictPlan.Validate(new ServingPredictCommand("m", Shape: [[12]], Dtype: "DT_FLOAT", Tag: ["0", "1"], Column: "features")))
            .Should().NotThrow();
    }
}
