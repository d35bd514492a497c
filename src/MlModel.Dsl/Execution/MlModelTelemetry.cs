using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace MlModel.Dsl;

/// <summary>
/// What the library tells a host's observability (OpenTelemetry or any listener of the BCL's
/// types): a span per command with child spans for its transfer, its publish on the serving
/// system and its database calls, and metrics of commands, bytes moved and durations. Subscribe
/// with <c>AddSource(MlModelTelemetry.Name)</c> and <c>AddMeter(MlModelTelemetry.Name)</c>.
/// </summary>
/// <remarks>
/// Tags carry the operation, the user and model acted on, the version, the outcome and the error
/// code: never a secret, a connector setting, a path, a description or a message text.
/// </remarks>
public static class MlModelTelemetry
{
    /// <summary>The name of the activity source and of the meter: <c>MlModel.Dsl</c>.</summary>
    public const string Name = "MlModel.Dsl";

    internal static readonly ActivitySource Source = new(Name, typeof(MlModelTelemetry).Assembly.GetName().Version?.ToString());

    internal static readonly Meter Meter = new(Name, typeof(MlModelTelemetry).Assembly.GetName().Version?.ToString());

    /// <summary>Commands run, by <c>mlmodel.operation</c> and <c>mlmodel.outcome</c> (ok, error, denied, cancelled).</summary>
    internal static readonly Counter<long> Commands = Meter.CreateCounter<long>("mlmodel.commands", unit: "{command}", description: "Commands run, by operation and outcome");

    /// <summary>How long commands take, by operation and outcome.</summary>
    internal static readonly Histogram<double> Duration = Meter.CreateHistogram<double>("mlmodel.command.duration", unit: "s", description: "Duration of commands, by operation and outcome");

    /// <summary>Bytes read from archives on import and written into archives on export, by operation.</summary>
    internal static readonly Counter<long> Bytes = Meter.CreateCounter<long>("mlmodel.transfer.bytes", unit: "By", description: "Bytes moved by import and export");

    /// <summary>Tag names.</summary>
    public static class Tags
    {
        /// <summary>list, summary, import, ... (and repair for check's actions).</summary>
        public const string Operation = "mlmodel.operation";
        /// <summary>The owner of the model acted on.</summary>
        public const string User = "mlmodel.user";
        /// <summary>The model's name.</summary>
        public const string Model = "mlmodel.model";
        /// <summary>The version, once known.</summary>
        public const string Version = "mlmodel.version";
        /// <summary>ok, error, denied or cancelled.</summary>
        public const string Outcome = "mlmodel.outcome";
        /// <summary>The error code (<see cref="ErrorCodes"/>) of a failed command.</summary>
        public const string ErrorCode = "error.type";
        /// <summary>The rows a stage handed out (<c>serving predict</c>), once its stream ended.</summary>
        public const string Rows = "mlmodel.rows";
    }

    /// <summary>Starts a child span of the current command (transfer, publish, database), if anyone listens.</summary>
    internal static Activity? Child(string name) => Source.StartActivity(name, ActivityKind.Internal);

    internal static string Outcome(Exception? failure) => failure switch
    {
        null => "ok",
        MlModelException { Code: ErrorCodes.PermissionDenied } => "denied",
        OperationCanceledException or MlModelException { Code: ErrorCodes.Cancelled } => "cancelled",
        _ => "error",
    };
}
