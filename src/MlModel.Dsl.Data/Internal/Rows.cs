using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using MlModel.Dsl.Backends;

namespace MlModel.Dsl.Data.Internal;

// Rows as the databases return them. Dapper fills them; they exist because a stored time is a
// DateTime on PostgreSQL and text on SQLite, and ModelVersion wants UTC DateTimes either way.

[SuppressMessage("Performance", "CA1812", Justification = "Materialised by Dapper.")]
internal sealed class ModelRow
{
    public long Id { get; set; }
    public string UserName { get; set; } = "";
    public string Name { get; set; } = "";
    public int Version { get; set; }
    public string? Description { get; set; }
    public string AnalysisTool { get; set; } = "";
    public string? Kind { get; set; }
    public string? Algorithm { get; set; }
    public string? Feature { get; set; }
    public string? Label { get; set; }
    public string? Filename { get; set; }
    public string? Format { get; set; }
    public string? Parameter { get; set; }
    public string? Evaluation { get; set; }
    public string? CrossValidation { get; set; }
    public string? GridInfo { get; set; }
    public long? TrainCnt { get; set; }
    public double? Elapsed { get; set; }
    public string? Dictionary { get; set; }
    public bool Serving { get; set; }
    public string? ServingName { get; set; }
    public string? ServingLabel { get; set; }
    public string? State { get; set; }
    public string? DataModelName { get; set; }
    public string? Query { get; set; }
    public string? StorageKey { get; set; }
    public long? SizeBytes { get; set; }
    public string? Signature { get; set; }
    public object Created { get; set; } = "";
    public object Modified { get; set; } = "";

    public ModelVersion ToModel() => new()
    {
        Id = Id,
        User = UserName,
        Name = Name,
        Version = Version,
        Description = Description,
        AnalysisTool = AnalysisTool,
        Kind = Kind,
        Algorithm = Algorithm,
        Feature = Feature,
        Label = Label,
        Filename = Filename,
        Format = Format,
        Parameter = Parameter,
        Evaluation = Evaluation,
        CrossValidation = CrossValidation,
        GridInfo = GridInfo,
        TrainCnt = TrainCnt,
        Elapsed = Elapsed,
        Dictionary = Dictionary,
        Serving = Serving,
        ServingName = ServingName,
        ServingLabel = ServingLabel,
        State = State,
        DataModelName = DataModelName,
        Query = Query,
        StorageKey = StorageKey,
        SizeBytes = SizeBytes,
        Signature = Signature,
        Created = DbTime.FromDb(Created),
        Modified = DbTime.FromDb(Modified),
    };
}

/// <summary>The parameters of an insert or update: the model's fields with times in the dialect's form.</summary>
internal sealed class ModelParameters(ModelVersion model, object created, object modified)
{
    public string User => model.User;
    public string Name => model.Name;
    public int Version => model.Version;
    public string? Description => model.Description;
    public string AnalysisTool => model.AnalysisTool;
    public string? Kind => model.Kind;
    public string? Algorithm => model.Algorithm;
    public string? Feature => model.Feature;
    public string? Label => model.Label;
    public string? Filename => model.Filename;
    public string? Format => model.Format;
    public string? Parameter => model.Parameter;
    public string? Evaluation => model.Evaluation;
    public string? CrossValidation => model.CrossValidation;
    public string? GridInfo => model.GridInfo;
    public long? TrainCnt => model.TrainCnt;
    public double? Elapsed => model.Elapsed;
    public string? Dictionary => model.Dictionary;
    public bool Serving => model.Serving;
    public string? ServingName => model.ServingName;
    public string? ServingLabel => model.ServingLabel;
    public string? State => model.State;
    public string? DataModelName => model.DataModelName;
    public string? Query => model.Query;
    public string? StorageKey => model.StorageKey;
    public long? SizeBytes => model.SizeBytes;
    public string? Signature => model.Signature;
    public object Created => created;
    public object Modified => modified;
}

[SuppressMessage("Performance", "CA1812", Justification = "Materialised by Dapper.")]
internal sealed class FileRow
{
    public string Path { get; set; } = "";
    public long Size { get; set; }
    public string Sha256 { get; set; } = "";

    public ModelFile ToFile() => new(Path, Size, Sha256);
}

[SuppressMessage("Performance", "CA1812", Justification = "Materialised by Dapper.")]
internal sealed class AuditRow
{
    public long Id { get; set; }
    public object Time { get; set; } = "";
    public string Actor { get; set; } = "";
    public string Operation { get; set; } = "";
    public string UserName { get; set; } = "";
    public string Name { get; set; } = "";
    public int? Version { get; set; }
    public string Parameters { get; set; } = "";
    public string Outcome { get; set; } = "";
    public string? Message { get; set; }

    public AuditEntry ToEntry() => new()
    {
        Id = Id,
        Time = DbTime.FromDb(Time),
        Actor = Actor,
        Operation = Operation,
        User = UserName,
        Name = Name,
        Version = Version,
        Parameters = Parameters,
        Outcome = Outcome,
        Message = Message,
    };
}

[SuppressMessage("Performance", "CA1812", Justification = "Materialised by Dapper.")]
internal sealed class ConnectorRow
{
    public string Id { get; set; } = "";
    public string Type { get; set; } = "";
    public string Settings { get; set; } = "{}";
    public string? Owner { get; set; }
    public bool Shared { get; set; }

    /// <summary>The settings as stored (secret values sealed; see <see cref="ConnectorSecrets"/>).</summary>
    public Dictionary<string, string> ParseSettings() =>
        JsonSerializer.Deserialize<Dictionary<string, string>>(Settings) ?? [];

    public static string SerializeSettings(IReadOnlyDictionary<string, string> settings) =>
        JsonSerializer.Serialize(settings);
}
