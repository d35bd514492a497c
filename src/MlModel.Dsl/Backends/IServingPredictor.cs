namespace MlModel.Dsl.Backends;

/// <summary>The signature a served version predicts with, as the server reports it (TensorFlow Serving's metadata API: <c>serving_default</c>).</summary>
/// <param name="Version">The version the signature was read from.</param>
/// <param name="Signature">Its default signature: inputs and outputs with their keys, dtypes and shapes.</param>
public sealed record ServingSignature(int Version, ModelSignature Signature);

/// <summary>One input of a prediction batch: every row's values, flattened row-major, one row after another.</summary>
/// <param name="Name">The input's name (<c>layer_name</c>); null sends the rows as plain <c>instances</c>.</param>
/// <param name="Dtype">The dtype to send (<c>DT_FLOAT</c>, ...): integers are written without a fraction.</param>
/// <param name="RowShape">The shape of one row's value (<c>(12,)</c>, <c>(28,28,1)</c>); its product is the values per row.</param>
/// <param name="Values">Rows × product(RowShape) values.</param>
public sealed record PredictInput(string? Name, string Dtype, IReadOnlyList<int> RowShape, ReadOnlyMemory<double> Values);

/// <summary>A batch of rows to predict.</summary>
/// <param name="ServingName">The model's serving name.</param>
/// <param name="Version">The version to ask; null: the server's latest.</param>
/// <param name="Rows">How many rows the batch holds.</param>
/// <param name="Inputs">One entry per model input.</param>
public sealed record PredictBatch(string ServingName, int? Version, int Rows, IReadOnlyList<PredictInput> Inputs);

/// <summary>One output of a prediction batch, flattened like <see cref="PredictInput.Values"/>.</summary>
/// <param name="Name">The output's name when the server named it (several outputs), else null.</param>
/// <param name="RowShape">The shape of one row's output (<c>(3,)</c> for three classes; empty for a scalar).</param>
/// <param name="Values">Rows × product(RowShape) values.</param>
public sealed record PredictOutput(string? Name, IReadOnlyList<int> RowShape, ReadOnlyMemory<double> Values);

/// <summary>
/// A serving backend that can predict (an optional capability of <see cref="IServingBackend"/>):
/// TensorFlow Serving's REST metadata and predict APIs. Implementations are thread-safe and
/// reuse connections: the predict stage keeps several batches in flight.
/// </summary>
public interface IServingPredictor
{
    /// <summary>The signature of <paramref name="version"/> (null: the latest available version).</summary>
    /// <exception cref="MlModelException"><see cref="ErrorCodes.NotFound"/> when nothing of the model is served; <see cref="ErrorCodes.Backend"/> with the server's text otherwise.</exception>
    Task<ServingSignature> GetSignatureAsync(string servingName, int? version, CancellationToken cancellationToken = default);

    /// <summary>Predicts a batch; the outputs have <see cref="PredictBatch.Rows"/> rows, in order.</summary>
    /// <exception cref="MlModelException"><see cref="ErrorCodes.Backend"/> with the server's own error text (<c>{"error": ...}</c>).</exception>
    Task<IReadOnlyList<PredictOutput>> PredictAsync(PredictBatch batch, CancellationToken cancellationToken = default);
}
