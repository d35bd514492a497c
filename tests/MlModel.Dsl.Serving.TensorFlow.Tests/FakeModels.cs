namespace MlModel.Dsl.Serving.TensorFlow.Tests;

/// <summary>A TensorInfo of a signature (tensorflow/core/protobuf/meta_graph.proto): key, graph tensor, dtype, dims (-1 unknown; null: unknown rank).</summary>
internal sealed record FakeTensorInfo(string Key, string Name, string Dtype, long[]? Dims);

/// <summary>A SignatureDef: its inputs and outputs by key, and its method_name.</summary>
internal sealed record FakeSignature(string Name, string Method, FakeTensorInfo[] Inputs, FakeTensorInfo[] Outputs);

/// <summary>A dense tensor: dtype, shape (batch first) and values, row-major.</summary>
internal sealed record FakeTensor(string Dtype, int[] Shape, double[] Values);

/// <summary>A failed call, as an absl::Status: the canonical code's name and the message.</summary>
internal sealed class FakeStatusException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;

    /// <summary>The HTTP status TensorFlow Serving answers for the code (http_server.cc, ToHTTPStatusCode).</summary>
    public int HttpStatus => Code switch
    {
        "CANCELLED" => 499,
        "INVALID_ARGUMENT" or "FAILED_PRECONDITION" or "OUT_OF_RANGE" => 400,
        "DEADLINE_EXCEEDED" => 504,
        "NOT_FOUND" => 404,
        "ALREADY_EXISTS" or "ABORTED" => 409,
        "PERMISSION_DENIED" => 403,
        "RESOURCE_EXHAUSTED" => 429,
        "UNIMPLEMENTED" => 501,
        "UNAVAILABLE" => 503,
        "UNAUTHENTICATED" => 401,
        _ => 500,
    };

    public static FakeStatusException InvalidArgument(string message) => new("INVALID_ARGUMENT", message);
}

/// <summary>
/// A model the fake server "runs": the signatures its metadata API describes and what its
/// <c>serving_default</c> signature computes. The fake cannot run a SavedModel; a version folder
/// only has to hold a saved_model.pb to load, and <see cref="FakeTensorFlowServing.Models"/> says
/// which of these a model name stands for (<see cref="HalfPlusTwo"/> when it says nothing).
/// </summary>
internal abstract class FakeModel
{
    /// <summary>
    /// TensorFlow Serving's half_plus_two (servables/tensorflow/testdata/saved_model_half_plus_two_cpu,
    /// written by saved_model_half_plus_two.py): y = 0.5 * x + 2, element-wise in float32 on whatever
    /// shape x is fed (x is an identity of a parsed tf.Example, so the feed is not checked against
    /// its [-1,1]: the REST handler test predicts [[1.0, 2.0], [3.0, 4.0]] with it). Its six signatures
    /// are those of the metadata answer TensorFlow Serving's REST handler test checks
    /// (saved_model_half_plus_two_2_versions_metadata.json, in tests/fixtures/tensorflow-serving-rest).
    /// </summary>
    public static FakeModel HalfPlusTwo { get; } = new HalfPlusTwoModel();

    /// <summary>
    /// A classifier of its own: <paramref name="features"/> float features (fed as rows of
    /// <paramref name="rowShape"/>, flattened as a Keras Flatten layer would) to
    /// <paramref name="classes"/> class probabilities through one dense layer with fixed weights
    /// and a softmax (output <c>probabilities</c>, DT_FLOAT [-1, classes]); with
    /// <paramref name="withClassIds"/> also the arg-max (output <c>classes</c>, DT_INT64 [-1]), so
    /// that the answer has several named outputs. Weight w[i,j] is 1 when i % classes == j and
    /// -0.5 otherwise, no bias: feature i votes for class i % classes.
    /// </summary>
    public static FakeModel SoftmaxClassifier(int features = 4, int classes = 3, int[]? rowShape = null, bool withClassIds = false) =>
        new SoftmaxModel(features, classes, rowShape ?? [features], withClassIds);

    public abstract IReadOnlyList<FakeSignature> Signatures { get; }

    /// <summary>Runs <c>serving_default</c> on inputs by key (each batched, first dimension the rows); outputs by key.</summary>
    /// <exception cref="FakeStatusException">What TensorFlow's kernels would refuse.</exception>
    public abstract IReadOnlyDictionary<string, FakeTensor> Run(IReadOnlyDictionary<string, FakeTensor> inputs);

    private static FakeTensorInfo T(string key, string name, string dtype, params long[]? dims) => new(key, name, dtype, dims);

    private sealed class HalfPlusTwoModel : FakeModel
    {
        public override IReadOnlyList<FakeSignature> Signatures { get; } =
        [
            new("regress_x2_to_y3", "tensorflow/serving/regress", [T("inputs", "x2:0", "DT_FLOAT", -1, 1)], [T("outputs", "y3:0", "DT_FLOAT", -1, 1)]),
            new("serving_default", "tensorflow/serving/predict", [T("x", "x:0", "DT_FLOAT", -1, 1)], [T("y", "y:0", "DT_FLOAT", -1, 1)]),
            new("classify_x_to_y", "tensorflow/serving/classify", [T("inputs", "tf_example:0", "DT_STRING", null)], [T("scores", "y:0", "DT_FLOAT", -1, 1)]),
            new("classify_x2_to_y3", "tensorflow/serving/classify", [T("inputs", "x2:0", "DT_FLOAT", -1, 1)], [T("scores", "y3:0", "DT_FLOAT", -1, 1)]),
            new("regress_x_to_y2", "tensorflow/serving/regress", [T("inputs", "tf_example:0", "DT_STRING", null)], [T("outputs", "y2:0", "DT_FLOAT", -1, 1)]),
            new("regress_x_to_y", "tensorflow/serving/regress", [T("inputs", "tf_example:0", "DT_STRING", null)], [T("outputs", "y:0", "DT_FLOAT", -1, 1)]),
        ];

        public override IReadOnlyDictionary<string, FakeTensor> Run(IReadOnlyDictionary<string, FakeTensor> inputs)
        {
            var x = inputs["x"];
            var y = new double[x.Values.Length];
            for (var i = 0; i < y.Length; i++)
            {
                y[i] = (0.5f * (float)x.Values[i]) + 2f;
            }

            return new Dictionary<string, FakeTensor> { ["y"] = new("DT_FLOAT", x.Shape, y) };
        }
    }

    private sealed class SoftmaxModel(int features, int classes, int[] rowShape, bool withClassIds) : FakeModel
    {
        public override IReadOnlyList<FakeSignature> Signatures { get; } =
        [
            new("serving_default", "tensorflow/serving/predict",
                [T("features", "serving_default_features:0", "DT_FLOAT", [-1, .. rowShape.Select(d => (long)d)])],
                withClassIds
                    ? [T("classes", "StatefulPartitionedCall:0", "DT_INT64", -1), T("probabilities", "StatefulPartitionedCall:1", "DT_FLOAT", -1, classes)]
                    : [T("probabilities", "StatefulPartitionedCall:0", "DT_FLOAT", -1, classes)]),
        ];

        public override IReadOnlyDictionary<string, FakeTensor> Run(IReadOnlyDictionary<string, FakeTensor> inputs)
        {
            var x = inputs["features"];
            var rows = x.Shape[0];
            var perRow = rows == 0 ? 0 : x.Values.Length / rows;
            if (perRow != features)
            {
                // What MatMul says of a flattened [rows, perRow] input against the [features, classes]
                // kernel (tensorflow/core/kernels/matmul_op_impl.h).
                throw FakeStatusException.InvalidArgument(
                    $"Matrix size-incompatible: In[0]: [{rows},{perRow}], In[1]: [{features},{classes}]");
            }

            var probabilities = new double[rows * classes];
            var ids = new double[rows];
            Span<float> logits = stackalloc float[classes];
            for (var r = 0; r < rows; r++)
            {
                for (var j = 0; j < classes; j++)
                {
                    var sum = 0f;
                    for (var i = 0; i < features; i++)
                    {
                        sum += (float)x.Values[(r * features) + i] * (i % classes == j ? 1f : -0.5f);
                    }

                    logits[j] = sum;
                }

                var max = float.NegativeInfinity;
                foreach (var l in logits)
                {
                    max = MathF.Max(max, l);
                }

                var total = 0f;
                for (var j = 0; j < classes; j++)
                {
                    logits[j] = MathF.Exp(logits[j] - max);
                    total += logits[j];
                }

                var best = 0;
                for (var j = 0; j < classes; j++)
                {
                    probabilities[(r * classes) + j] = logits[j] / total;
                    best = logits[j] > logits[best] ? j : best;
                }

                ids[r] = best;
            }

            var outputs = new Dictionary<string, FakeTensor> { ["probabilities"] = new("DT_FLOAT", [rows, classes], probabilities) };
            if (withClassIds)
            {
                outputs["classes"] = new FakeTensor("DT_INT64", [rows], ids);
            }

            return outputs;
        }
    }
}
