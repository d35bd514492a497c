using System.Formats.Tar;
using System.Globalization;
using MlModel.Dsl.Serving.TensorFlow.Tests;
using MlModel.Dsl.Tests.Archives;

namespace MlModel.Dsl.IntegrationTests.Support;

/// <summary>
/// IRIS's serving tutorials: user <c>demo</c>'s wine-quality CNN (12 features, 3 classes tagged
/// <c>(0,1,2)</c>) and its iris example (<c>name=model_name</c>, input shape (4,1), tags
/// <c>(virsicolor,setosa,virginica)</c> as the manual spells them), with SavedModels whose
/// <c>serving_default</c> signatures are those the fake TensorFlow Serving answers for them
/// (<see cref="FakeModel.SoftmaxClassifier"/>: input <c>features</c>, output <c>probabilities</c>).
/// </summary>
internal static class Tutorial
{
    public const string WineQuality = "model_cnn_wine_quality_0422";
    public const string Iris = "model_name";
    public const string Label = "CNN wineQ model";

    public static readonly MlModelCaller Demo = new("demo");

    /// <summary>The wine rows: fixed acidity ... alcohol, quality; each leans to one class (feature i votes for class i % 3).</summary>
    public static readonly double[][] WineRows =
    [
        [7.4, 0.7, 0, 1.9, 0.076, 11, 34, 0.9978, 3.51, 0.56, 9.4, 5],
        [7.8, 0.88, 0, 2.6, 0.098, 25, 67, 0.9968, 3.2, 0.68, 9.8, 5],
        [11.2, 0.28, 0.56, 1.9, 0.075, 17, 60, 0.998, 3.16, 0.58, 9.8, 6],
        [0.1, 6.5, 0.2, 0.3, 7.1, 0.1, 0.2, 5.5, 0.3, 0.1, 6.6, 0.2],
        [0.2, 0.1, 4.4, 0.3, 0.2, 5.1, 0.1, 0.3, 4.8, 0.2, 0.1, 3.9],
        [0.5, 0.6, 0.4, 0.3, 0.2, 0.35, 0.1, 0.15, 0.12, 0.2, 0.1, 0.05],
    ];

    public static readonly double[][] IrisRows =
    [
        [5.1, 3.5, 1.4, 0.2],
        [2.0, 3.0, 1.4, 0.5],
        [0.2, 6.0, 2.9, 0.1],
        [0.4, 1.5, 6.4, 0.3],
    ];

    public static readonly string[] WineTags = ["0", "1", "2"];
    public static readonly string[] IrisTags = ["virsicolor", "setosa", "virginica"];

    /// <summary>The wine model's archive, as IRIS's user uploads it (seoryjj/cnn_wine_quality_0422.tar).</summary>
    public static byte[] WineQualityArchive() => Classifier("cnn_wine_quality_0422", [-1, 12], 3);

    public static byte[] IrisArchive() => Classifier("iris", [-1, 4, 1], 3);

    /// <summary>Makes the fake serve demo's two tutorial models (it keys its models on the serving name).</summary>
    public static void Serve(FakeTensorFlowServing server)
    {
        server.Models["demo_" + WineQuality] = FakeModel.SoftmaxClassifier(features: 12, classes: 3);
        server.Models["demo_" + Iris] = FakeModel.SoftmaxClassifier(features: 4, classes: 3, rowShape: [4, 1]);
    }

    /// <summary>
    /// What the classifier answers for a row, computed here on its own: logit j is the sum of
    /// x[i] for the features i with i % classes == j, minus half of the others; then a softmax.
    /// </summary>
    public static double[] Softmax(IReadOnlyList<double> x, int classes = 3)
    {
        var logits = new double[classes];
        for (var j = 0; j < classes; j++)
        {
            for (var i = 0; i < x.Count; i++)
            {
                logits[j] += x[i] * (i % classes == j ? 1 : -0.5);
            }
        }
        var max = logits.Max();
        var exp = logits.Select(l => Math.Exp(l - max)).ToArray();
        var total = exp.Sum();
        return exp.Select(e => e / total).ToArray();
    }

    /// <summary>The tag a row is interpreted as: the one at the index of its largest probability.</summary>
    public static string Interpreted(IReadOnlyList<double> x, string[] tags)
    {
        var p = Softmax(x, tags.Length);
        return tags[Array.IndexOf(p, p.Max())];
    }

    /// <summary>Numbers as a CSV cell or a host's text column holds them: <c>7.4,0.7,0,...</c>.</summary>
    public static string Csv(IEnumerable<double> values) => string.Join(",", values.Select(v => v.ToString(CultureInfo.InvariantCulture)));

    /// <summary>Numbers as a JSON array: <c>[7.4, 0.7, 0, ...]</c>.</summary>
    public static string Json(IEnumerable<double> values) => "[" + string.Join(", ", values.Select(v => v.ToString(CultureInfo.InvariantCulture))) + "]";

    /// <summary>
    /// A SavedModel folder (saved_model.pb with a MetaGraph tagged serve, variables/) whose
    /// serving_default takes <c>features</c> (DT_FLOAT, <paramref name="input"/>) and answers
    /// <c>probabilities</c> (DT_FLOAT, [-1, classes]), as a Keras classifier exports it.
    /// </summary>
    private static byte[] Classifier(string top, long[] input, int classes)
    {
        const int DtFloat = 1;
        var pb = Protobuf.SavedModel(Protobuf.MetaGraph(["serve"],
            Protobuf.Signature("serving_default", "tensorflow/serving/predict",
                [Protobuf.Tensor("features", "serving_default_features:0", DtFloat, input)],
                [Protobuf.Tensor("probabilities", "StatefulPartitionedCall:0", DtFloat, [-1, classes])])));
        var weights = new byte[4 * 12 * classes];
        new Random(12).NextBytes(weights);
        return Archives.Of(
            new PaxTarEntry(TarEntryType.Directory, top + "/"),
            Archives.File(top + "/saved_model.pb", pb),
            Archives.File(top + "/variables/variables.index", weights[..32]),
            Archives.File(top + "/variables/variables.data-00000-of-00001", weights),
            new PaxTarEntry(TarEntryType.Directory, top + "/assets/"));
    }
}
