using MlModel.Dsl.Binding;

namespace MlModel.Dsl;

/// <summary>The operations of the <c>mlmodel</c> command.</summary>
public enum MlModelOperation
{
    /// <summary>List models (spec Part A).</summary>
    List,
    /// <summary>One version's details (spec Part A).</summary>
    Summary,
    /// <summary>Delete one version, metadata and files (spec Part A).</summary>
    Delete,
    /// <summary>Load a model archive from an object store (spec Part A).</summary>
    Import,
    /// <summary>Archive a model and return a download URL (spec Part A).</summary>
    Export,
    /// <summary>Serve a version on TensorFlow Serving (spec Part A).</summary>
    Deploy,
    /// <summary>Stop serving a version (spec Part A).</summary>
    Stop,
    /// <summary>The audit trail of a model (extension).</summary>
    History,
    /// <summary>Registry, serving config and server state side by side (extension).</summary>
    Status,
    /// <summary>Consistency check of metadata against stored files (extension, administrators).</summary>
    Check,
    /// <summary><c>serving status</c>: per served version, the server's state and the label (the <c>serving</c> command).</summary>
    ServingStatus,
    /// <summary><c>serving predict</c>: the rows of the stage before, with the model's predictions added (the <c>serving</c> command).</summary>
    ServingPredict,
}

/// <summary>The model formats import accepts (spec Part A, B.3).</summary>
public enum ModelFormat
{
    /// <summary>A TensorFlow SavedModel directory (<c>saved_model.pb</c>).</summary>
    SavedModel,
    /// <summary>A Keras HDF5 file (<c>model.h5</c>).</summary>
    H5,
    /// <summary>A Spark ML writer's layout (<c>metadata/</c> and <c>data/</c>), an extension.</summary>
    Spark,
}

/// <summary>
/// A bound <c>mlmodel</c> command. <see cref="object.ToString"/> renders canonical command text
/// and <see cref="ToJson"/> the dsl-object; parsing either gives an equal record back.
/// </summary>
public abstract record MlModelCommand
{
    private protected MlModelCommand() { }

    /// <summary>The operation.</summary>
    public abstract MlModelOperation Operation { get; }

    /// <summary>Canonical command text, such as <c>mlmodel summary name=mnist_v1 version=2</c>.</summary>
    public sealed override string ToString() => CommandRenderer.ToText(this);

    /// <summary>The dsl-object JSON: <c>{"command":"mlmodel","params":{"operation":...}}</c>.</summary>
    public string ToJson(bool indented = false) => CommandRenderer.ToJson(this, indented);
}

/// <summary><c>mlmodel list</c>, with optional filters beyond the spec.</summary>
public sealed record ListCommand(
    string? User = null,
    string? Name = null,
    string? AnalysisTool = null,
    bool? Serving = null) : MlModelCommand
{
    /// <inheritdoc/>
    public override MlModelOperation Operation => MlModelOperation.List;
}

/// <summary><c>mlmodel summary (user=)? name= (version=)?</c>; no version means the latest.</summary>
public sealed record SummaryCommand(string Name, string? User = null, int? Version = null) : MlModelCommand
{
    /// <inheritdoc/>
    public override MlModelOperation Operation => MlModelOperation.Summary;
}

/// <summary><c>mlmodel delete (user=)? name= version=</c>.</summary>
public sealed record DeleteCommand(string Name, int Version, string? User = null) : MlModelCommand
{
    /// <inheritdoc/>
    public override MlModelOperation Operation => MlModelOperation.Delete;
}

/// <summary><c>mlmodel import name= analysis_tool= kind= algorithm= format= connector_id= path= (description=)?</c>.</summary>
public sealed record ImportCommand(
    string Name,
    string AnalysisTool,
    string Kind,
    string? Algorithm,
    ModelFormat Format,
    string ConnectorId,
    string Path,
    string? Description = null,
    string? Parameter = null) : MlModelCommand
{
    /// <inheritdoc/>
    public override MlModelOperation Operation => MlModelOperation.Import;
}

/// <summary><c>mlmodel export (user=)? name= (version=)?</c>.</summary>
public sealed record ExportCommand(string Name, string? User = null, int? Version = null) : MlModelCommand
{
    /// <inheritdoc/>
    public override MlModelOperation Operation => MlModelOperation.Export;
}

/// <summary><c>mlmodel deploy (user=)? name= (version=)? (label=)?</c>.</summary>
public sealed record DeployCommand(string Name, string? User = null, int? Version = null, string? Label = null) : MlModelCommand
{
    /// <inheritdoc/>
    public override MlModelOperation Operation => MlModelOperation.Deploy;
}

/// <summary><c>mlmodel stop (user=)? name= (version=)?</c>; no version means the latest deployed one.</summary>
public sealed record StopCommand(string Name, string? User = null, int? Version = null) : MlModelCommand
{
    /// <inheritdoc/>
    public override MlModelOperation Operation => MlModelOperation.Stop;
}

/// <summary><c>mlmodel history (user=)? name= (version=)?</c>: the audit trail, newest first.</summary>
public sealed record HistoryCommand(string Name, string? User = null, int? Version = null) : MlModelCommand
{
    /// <inheritdoc/>
    public override MlModelOperation Operation => MlModelOperation.History;
}

/// <summary><c>mlmodel status (user=)? name=</c>: registry, serving config and server, per version.</summary>
public sealed record StatusCommand(string Name, string? User = null) : MlModelCommand
{
    /// <inheritdoc/>
    public override MlModelOperation Operation => MlModelOperation.Status;
}

/// <summary><c>mlmodel check (user=)? (name=)? (version=)? (repair=true)?</c>: metadata against stored files and the serving config.</summary>
public sealed record CheckCommand(string? User = null, string? Name = null, bool Repair = false, int? Version = null) : MlModelCommand
{
    /// <inheritdoc/>
    public override MlModelOperation Operation => MlModelOperation.Check;
}

/// <summary><c>serving status (user=)? name=</c>: one row per served version: version, state, label.</summary>
public sealed record ServingStatusCommand(string Name, string? User = null) : MlModelCommand
{
    /// <inheritdoc/>
    public override MlModelOperation Operation => MlModelOperation.ServingStatus;
}

/// <summary>
/// <c>serving predict (user=)? name= (col=)? (shape=[tuple,...])? (dtype=)? (layer_name=)? (version=)? (tag=tuple)?</c>:
/// a stage that consumes the rows before it and adds <c>predictions</c>, <c>probability</c> and,
/// with <see cref="Tag"/>, <c>interpreted</c>.
/// </summary>
/// <param name="Name">The model.</param>
/// <param name="User">Its owner; defaults to the caller.</param>
/// <param name="Column">The input column (<c>col</c>); null means <c>feature</c>.</param>
/// <param name="Shape">One tuple per model input (<c>shape=[(12,)]</c>); null: from the model's signature.</param>
/// <param name="Dtype">The input dtype (<c>float32</c>, <c>DT_FLOAT</c>, ...); null: from the signature.</param>
/// <param name="LayerName">The input's name in the signature; null: the signature's only input, sent as <c>instances</c>.</param>
/// <param name="Version">The served version; null: the latest available one.</param>
/// <param name="Tag">Class names, the output index's tag (<c>tag=(setosa,versicolor,virginica)</c>).</param>
public sealed record ServingPredictCommand(
    string Name,
    string? User = null,
    string? Column = null,
    IReadOnlyList<IReadOnlyList<int>>? Shape = null,
    string? Dtype = null,
    string? LayerName = null,
    int? Version = null,
    IReadOnlyList<string>? Tag = null) : MlModelCommand
{
    /// <inheritdoc/>
    public override MlModelOperation Operation => MlModelOperation.ServingPredict;

    /// <summary>Equal when every parameter is, the tuples compared item by item (not by list reference).</summary>
    public bool Equals(ServingPredictCommand? other) =>
        other is not null && Name == other.Name && User == other.User && Column == other.Column && Dtype == other.Dtype
        && LayerName == other.LayerName && Version == other.Version
        && SameItems(Tag, other.Tag, static (a, b) => a == b)
        && SameItems(Shape, other.Shape, static (a, b) => SameItems(a, b, static (x, y) => x == y));

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Name);
        hash.Add(User);
        hash.Add(Column);
        hash.Add(Dtype);
        hash.Add(LayerName);
        hash.Add(Version);
        foreach (var tag in Tag ?? [])
        {
            hash.Add(tag);
        }
        foreach (var dims in Shape ?? [])
        {
            foreach (var d in dims)
            {
                hash.Add(d);
            }
            hash.Add(-1);
        }
        return hash.ToHashCode();
    }

    private static bool SameItems<T>(IReadOnlyList<T>? a, IReadOnlyList<T>? b, Func<T, T, bool> same)
    {
        if (a is null || b is null)
        {
            return a is null && b is null;
        }
        if (a.Count != b.Count)
        {
            return false;
        }
        for (var i = 0; i < a.Count; i++)
        {
            if (!same(a[i], b[i]))
            {
                return false;
            }
        }
        return true;
    }
}
