using System.Diagnostics;
using MlModel.Dsl.IntegrationTests.Support;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace MlModel.Dsl.IntegrationTests.Execution;

/// <summary>What an operator's host sees through OpenTelemetry: a span per command, child spans, metrics, and no secrets.</summary>
[NonParallelizable] // the listeners are process-wide
public class TelemetryTests
{
    [Test]
    public async Task Commands_are_spans_with_child_spans_and_metrics_and_carry_no_description_or_path()
    {
        using var listening = new Listening();
        var (spans, metrics, tracer, meter) = (listening.Spans, listening.Metrics, listening.Tracer, listening.Meter);
        using var h = new EngineHarness();
        var model = "otel_" + Guid.NewGuid().ToString("N")[..8];
        var key = h.PutObject($"USERS/root/{model}.tar", Archives.FromFolder(TestPaths.Model("saved_model_half_plus_two_cpu"), "half_plus_two"));

        await h.RunAsync($"mlmodel import name={model} analysis_tool=tf kind=regression algorithm=deep format=saved_model connector_id=local path={key} description='secret plans'");
        await h.RunAsync($"mlmodel deploy name={model}");
        var refused = () => h.RunAsync($"mlmodel delete name={model} version=1");
        await refused.Should().ThrowAsync<MlModelException>();
        await h.RunAsync($"mlmodel export name={model}");
        tracer.ForceFlush();
        meter.ForceFlush();

        var mine = spans.Where(s => Equals(s.GetTagItem(MlModelTelemetry.Tags.Model), model)).ToList();
        mine.Select(s => s.DisplayName).Should().Equal("mlmodel import", "mlmodel deploy", "mlmodel delete", "mlmodel export");
        var import = mine[0];
        import.GetTagItem(MlModelTelemetry.Tags.User).Should().Be("root");
        import.GetTagItem(MlModelTelemetry.Tags.Version).Should().Be(1);
        import.GetTagItem(MlModelTelemetry.Tags.Outcome).Should().Be("ok");
        var children = spans.Where(s => s.ParentSpanId == import.SpanId).Select(s => s.DisplayName).ToList();
        children.Should().Contain("mlmodel.transfer").And.Contain("mlmodel.db");
        spans.Single(s => s.ParentSpanId == import.SpanId && s.DisplayName == "mlmodel.transfer").GetTagItem("mlmodel.transfer.bytes").Should().BeOfType<long>().Which.Should().BeGreaterThan(0);
        spans.Where(s => s.ParentSpanId == mine[1].SpanId).Select(s => s.DisplayName).Should().Contain("mlmodel.publish");
        spans.Where(s => s.ParentSpanId == mine[3].SpanId).Select(s => s.DisplayName).Should().Contain("mlmodel.transfer");

        var delete = mine[2];
        delete.Status.Should().Be(ActivityStatusCode.Error);
        delete.GetTagItem(MlModelTelemetry.Tags.Outcome).Should().Be("error");
        delete.GetTagItem(MlModelTelemetry.Tags.ErrorCode).Should().Be(ErrorCodes.Conflict);

        // Nothing the user wrote beyond names: no description, no path, no message.
        var values = spans.SelectMany(s => s.TagObjects.Select(t => t.Value?.ToString() ?? "").Append(s.StatusDescription ?? "")).ToList();
        values.Should().NotContain(v => v.Contains("secret plans") || v.Contains(".tar") || v.Contains("being served") || v.Contains(h.Home));

        var commands = metrics.Where(m => m.Name == "mlmodel.commands").SelectMany(Points).ToList();
        commands.Should().Contain(p => Equals(p.Tags["mlmodel.operation"], "delete") && Equals(p.Tags["mlmodel.outcome"], "error") && p.Sum >= 1);
        commands.Should().Contain(p => Equals(p.Tags["mlmodel.operation"], "import") && Equals(p.Tags["mlmodel.outcome"], "ok") && p.Sum >= 1);
        metrics.Where(m => m.Name == "mlmodel.transfer.bytes").SelectMany(Points)
            .Should().Contain(p => Equals(p.Tags["mlmodel.operation"], "export") && p.Sum > 0);
        metrics.Should().Contain(m => m.Name == "mlmodel.command.duration");
    }

    [Test]
    public async Task A_predict_stage_s_span_lasts_until_its_stream_ends_and_counts_the_rows_it_handed_out()
    {
        using var listening = new Listening();
        var (spans, metrics, tracer, meter) = (listening.Spans, listening.Metrics, listening.Tracer, listening.Meter);
        var predictor = new MlModel.Dsl.Tests.Execution.Predict.InProcessPredictor();
        using var h = new EngineHarness(o =>
        {
            o.Serving = new PredictingBackend(o.Serving!, predictor);
            o.PredictBatchSize = 10;
        });
        await h.ImportHalfPlusTwoAsync();
        await h.RunAsync("mlmodel deploy name=half_plus_two");
        // Inside the stage, while the rows stream: the command's span is current, its requests are its children.
        var inside = new List<string?>();
        predictor.OnBatch = (_, _) =>
        {
            inside.Add(Activity.Current?.DisplayName);
            using var child = MlModelTelemetry.Child("request");
            return Task.CompletedTask;
        };
        static RowSource Rows(int count) => RowSource.FromRows([new ResultField("feature", FieldType.String)],
            Enumerable.Range(1, count).Select(i => new object?[] { i.ToString(System.Globalization.CultureInfo.InvariantCulture) }).ToAsyncEnumerable());
        Activity Span(int n) => spans.Where(s => s.DisplayName == "serving predict").ElementAt(n);

        // Read to the end.
        await using (var result = await h.Engine.ExecuteAsync(new ServingPredictCommand("half_plus_two"), EngineHarness.Root, Rows(25)))
        {
            spans.Should().NotContain(s => s.DisplayName == "serving predict", "the command goes on while its rows stream");
            (await result.ReadAllAsync().CountAsync()).Should().Be(25);
            spans.Where(s => s.DisplayName == "serving predict").Should().ContainSingle("the stream's end ended the span, before the result is disposed");
        }
        Span(0).GetTagItem(MlModelTelemetry.Tags.Rows).Should().Be(25L);
        Span(0).GetTagItem(MlModelTelemetry.Tags.Outcome).Should().Be("ok");
        var first = Span(0).SpanId;
        spans.Where(s => s.DisplayName == "request").Should().HaveCount(3).And.OnlyContain(s => s.ParentSpanId == first);
        inside.Should().Equal("serving predict", "serving predict", "serving predict");

        // Stopped early by its reader: ok, with the rows it took.
        await using (var result = await h.Engine.ExecuteAsync(new ServingPredictCommand("half_plus_two"), EngineHarness.Root, Rows(1_000)))
        {
            (await result.ReadAllAsync().Take(15).CountAsync()).Should().Be(15);
        }
        Span(1).GetTagItem(MlModelTelemetry.Tags.Rows).Should().Be(15L);
        Span(1).GetTagItem(MlModelTelemetry.Tags.Outcome).Should().Be("ok");

        // Failed mid-stream: the error's code, and the rows handed out before it.
        var bad = RowSource.FromRows([new ResultField("feature", FieldType.String)],
            Enumerable.Range(1, 30).Select(i => new object?[] { i == 27 ? "x" : "1" }).ToAsyncEnumerable());
        await using (var result = await h.Engine.ExecuteAsync(new ServingPredictCommand("half_plus_two"), EngineHarness.Root, bad))
        {
            var read = 0;
            var act = async () =>
            {
                await foreach (var _ in result.ReadAllAsync())
                {
                    read++;
                }
            };
            await act.Should().ThrowAsync<MlModelException>().WithMessage("serving predict: row 27*");
            read.Should().Be(20);
        }
        Span(2).GetTagItem(MlModelTelemetry.Tags.Rows).Should().Be(20L);
        Span(2).GetTagItem(MlModelTelemetry.Tags.Outcome).Should().Be("error");
        Span(2).GetTagItem(MlModelTelemetry.Tags.ErrorCode).Should().Be(ErrorCodes.InvalidValue);
        Span(2).Status.Should().Be(ActivityStatusCode.Error);

        // Disposed unread: ended all the same, with no rows.
        await (await h.Engine.ExecuteAsync(new ServingPredictCommand("half_plus_two"), EngineHarness.Root, Rows(5))).DisposeAsync();
        Span(3).GetTagItem(MlModelTelemetry.Tags.Rows).Should().Be(0L);
        spans.Where(s => s.DisplayName == "serving predict").Should().HaveCount(4);

        meter.ForceFlush();
        metrics.Where(m => m.Name == "mlmodel.commands").SelectMany(Points)
            .Should().Contain(p => Equals(p.Tags["mlmodel.operation"], "serving predict") && Equals(p.Tags["mlmodel.outcome"], "ok") && p.Sum == 3)
            .And.Contain(p => Equals(p.Tags["mlmodel.operation"], "serving predict") && Equals(p.Tags["mlmodel.outcome"], "error") && p.Sum == 1);
    }

    [Test]
    public void The_traced_repository_forwards_every_member_including_defaults()
    {
        // A default interface member it did not forward would silently take the default (as
        // DescribeIfNewAsync, the lost-database check, would have).
        var map = typeof(MlModel.Dsl.Execution.TracedRepository).GetInterfaceMap(typeof(MlModel.Dsl.Backends.IModelRepository));
        map.TargetMethods.Where(m => m.DeclaringType != typeof(MlModel.Dsl.Execution.TracedRepository)).Select(m => m.Name).Should().BeEmpty();
    }

    /// <summary>The library's spans and metrics, exported in memory while it lives.</summary>
    private sealed class Listening : IDisposable
    {
        public List<Activity> Spans { get; } = [];

        public List<Metric> Metrics { get; } = [];

        public TracerProvider Tracer { get; }

        public MeterProvider Meter { get; }

        public Listening()
        {
            Tracer = Sdk.CreateTracerProviderBuilder().AddSource(MlModelTelemetry.Name).AddInMemoryExporter(Spans).Build()!;
            Meter = Sdk.CreateMeterProviderBuilder().AddMeter(MlModelTelemetry.Name).AddInMemoryExporter(Metrics).Build()!;
        }

        public void Dispose()
        {
            Tracer.Dispose();
            Meter.Dispose();
        }
    }

    private static List<(Dictionary<string, object?> Tags, long Sum)> Points(Metric metric)
    {
        var points = new List<(Dictionary<string, object?>, long)>();
        foreach (ref readonly var point in metric.GetMetricPoints())
        {
            var tags = new Dictionary<string, object?>();
            foreach (var tag in point.Tags)
            {
                tags[tag.Key] = tag.Value;
            }
            points.Add((tags, metric.MetricType == MetricType.LongSum ? point.GetSumLong() : 0));
        }
        return points;
    }
}
