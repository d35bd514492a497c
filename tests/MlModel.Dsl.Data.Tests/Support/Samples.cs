using MlModel.Dsl.Backends;

namespace MlModel.Dsl.Data.Tests.Support;

/// <summary>Model versions with every field set, shaped like the spec's examples.</summary>
public static class Samples
{
    public static readonly DateTime Created = new(2020, 3, 23, 17, 11, 2, 123, 456, DateTimeKind.Utc);

    public const string Evaluation =
        """[{"losses": {"loss": 0.2996, "val_loss": 0.1435}, "metrics": {"acc": 0.9142, "val_acc": 0.9583}}, {"losses": {"loss": 0.1201, "val_loss": 0.0963}, "metrics": {"acc": 0.9641, "val_acc": 0.9712}}]""";

    /// <summary>A serving signature as import records it (ModelSignature.ToJson of mnist's serving_default).</summary>
    public const string Signature =
        """[{"name":"serving_default","method":"tensorflow/serving/predict","inputs":[{"key":"flatten_input","name":"serving_default_flatten_input:0","dtype":"DT_FLOAT","shape":[-1,28,28]}],"outputs":[{"key":"dense_1","name":"StatefulPartitionedCall:0","dtype":"DT_FLOAT","shape":[-1,10]}]}]""";

    public static ModelVersion Model(string user = "root", string name = "mnist_v1", int version = 1) => new()
    {
        User = user,
        Name = name,
        Version = version,
        Description = "모델 설명입니다. (손글씨 숫자 분류)",
        AnalysisTool = "tf",
        Kind = "classification",
        Algorithm = "deep",
        Feature = "pixel_0, pixel_1, 특징",
        Label = "digit",
        Filename = "saved_model.pb",
        Format = "saved_model",
        Parameter = """{"epochs": 3, "batch_size": 64, "train_validation_ratio": 0.8}""",
        Evaluation = Evaluation,
        CrossValidation = "{}",
        GridInfo = "{}",
        TrainCnt = 55_260_000_000L,   // beyond int: the column must be 64-bit
        Elapsed = 569.0207872390747,
        Dictionary = "dict.tsv",
        Serving = false,
        ServingName = user + "_" + name,
        ServingLabel = "stable",
        State = ModelStates.Done,
        DataModelName = "mnist_train",
        Query = "model mnist_train | fit deep label=digit",
        StorageKey = $"models/{user}/{name}/{version}/",
        SizeBytes = 12_345_678_901L,
        Signature = Signature,
        Created = Created,
        Modified = Created.AddSeconds(11),
    };

    /// <summary>Only what the schema requires; every optional field null.</summary>
    public static ModelVersion Bare(string user = "root", string name = "bare", int version = 1) => new()
    {
        User = user,
        Name = name,
        Version = version,
        AnalysisTool = "spark",
        Created = Created,
        Modified = Created,
    };

    public static IReadOnlyList<ModelFile> Files { get; } =
    [
        new("saved_model.pb", 48_213, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
        new("variables/variables.index", 1_024, "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"),
        new("variables/variables.data-00000-of-00001", 5_000_000_000L, "fd61a03af4f77d870fc21e05e7e80678095c92d808cfb3b5c279ee04c74aca13"),
        new("assets/사전.tsv", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ];

    public static AuditEntry Audit(string operation, int? version, DateTime time, string user = "root", string name = "mnist_v1") => new()
    {
        Time = time,
        Actor = "admin",
        Operation = operation,
        User = user,
        Name = name,
        Version = version,
        Parameters = $"mlmodel {operation} user={user} name={name}" + (version is { } v ? $" version={v}" : ""),
        Outcome = "ok",
        Message = null,
    };
}

/// <summary>A clock the test moves by hand.</summary>
public sealed class ManualClock(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;
}
