using System.Text.Json;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Execution.Archives;
using MlModel.Dsl.Tests.Grammar;

namespace MlModel.Dsl.Tests.Archives;

/// <summary>The smaller pieces of import's format checks: parquet frames, data type names, Spark's metadata paths, the signature JSON.</summary>
public sealed class FormatCheckTests
{
    private static string? ParquetProblem(byte[] file, int chunk)
    {
        var inspector = new ParquetInspector(file.Length);
        for (var i = 0; i < file.Length; i += chunk)
        {
            inspector.Append(file.AsSpan(i, Math.Min(chunk, file.Length - i)));
        }
        return inspector.Problem();
    }

    [TestCase(1)]
    [TestCase(5)]
    [TestCase(int.MaxValue)]
    public void Spark_s_parquet_parts_are_parquet_however_they_arrive(int chunk)
    {
        var folder = Path.Combine(RepositoryPaths.Fixtures, "spark-ml-models");
        var parts = Directory.EnumerateFiles(folder, "part-*.parquet", SearchOption.AllDirectories).ToList();
        parts.Should().HaveCount(9);
        foreach (var part in parts)
        {
            ParquetProblem(File.ReadAllBytes(part), chunk).Should().BeNull(part);
        }
    }

    private static IEnumerable<TestCaseData> NotParquet()
    {
        TestCaseData Case(string name, byte[] file, string problem) => new TestCaseData(file, problem).SetName("Not parquet: " + name);
        byte[] Frame(string head, uint footer, string tail, int body = 100) =>
            [.. System.Text.Encoding.ASCII.GetBytes(head), .. new byte[body], .. BitConverter.GetBytes(footer), .. System.Text.Encoding.ASCII.GetBytes(tail)];

        yield return Case("empty", [], "it has 0 bytes, fewer than the 12 of the smallest parquet file");
        yield return Case("PAR1 twice and nothing between", "PAR1PAR1"u8.ToArray(), "it has 8 bytes, fewer than the 12 of the smallest parquet file");
        yield return Case("wrong head", Frame("PARE", 10, "PAR1"), "it does not start with PAR1");
        yield return Case("wrong tail", Frame("PAR1", 10, "PAR2"), "it does not end with PAR1");
        yield return Case("footer of 0 bytes", Frame("PAR1", 0, "PAR1"), "its footer length (0 bytes) does not fit in its 112 bytes");
        yield return Case("footer longer than the file", Frame("PAR1", 101, "PAR1"), "its footer length (101 bytes) does not fit in its 112 bytes");
        yield return Case("dots where the footer length goes", "PAR1....PAR1"u8.ToArray(), "its footer length (774778414 bytes) does not fit in its 12 bytes");
    }

    [TestCaseSource(nameof(NotParquet))]
    public void Files_that_are_not_parquet_are_named_with_what_is_wrong(byte[] file, string problem)
    {
        ParquetProblem(file, 1).Should().Be(problem);
        ParquetProblem(file, 3).Should().Be(problem);
    }

    [Test]
    public void A_footer_that_fills_the_file_exactly_is_plausible()
    {
        byte[] file = [.. "PAR1"u8, .. new byte[100], .. BitConverter.GetBytes(100u), .. "PAR1"u8];
        ParquetProblem(file, 7).Should().BeNull();
    }

    [TestCase(0, "DT_INVALID")]
    [TestCase(1, "DT_FLOAT")]
    [TestCase(7, "DT_STRING")]
    [TestCase(9, "DT_INT64")]
    [TestCase(20, "DT_RESOURCE")]
    [TestCase(27, "DT_27")]
    [TestCase(30, "DT_UINT4")]
    [TestCase(31, "DT_31")]
    [TestCase(101, "DT_FLOAT_REF")]
    [TestCase(127, "DT_127")]
    [TestCase(-1, "DT_-1")]
    public void Data_types_have_TensorFlow_s_names(int value, string name) => DataTypes.Name(value).Should().Be(name);

    [TestCase("metadata/part-00000", true)]
    [TestCase("stages/1_RandomForestClassifier_42c8/metadata/part-00000", true)]
    [TestCase("top/1/metadata/part-00000", true)]
    [TestCase("metadata/.part-00000.crc", false)]
    [TestCase("metadata/_SUCCESS", false)]
    [TestCase("treesMetadata/part-00000-2f07.snappy.parquet", false)]
    [TestCase("xmetadata/part-00000", false)]
    [TestCase("metadata/sub/part-00000", false)]
    public void Spark_metadata_part_files_are_told_from_the_rest(string path, bool expected) =>
        SparkMetadata.IsMetadataPart(path).Should().Be(expected);

    [Test]
    public void Signatures_round_trip_through_their_JSON()
    {
        IReadOnlyList<ModelSignature> signatures =
        [
            new("serving_default", "tensorflow/serving/predict",
                [new TensorSpec("x", "x:0", "DT_FLOAT", [-1, 28, 28, 1]), new TensorSpec("mask", null, "DT_BOOL", null)],
                [new TensorSpec("y", "y:0", "DT_FLOAT", [])]),
            new("모델", null, [], []),
        ];
        var json = ModelSignature.ToJson(signatures);
        json.Should().StartWith("""[{"name":"serving_default","method":"tensorflow/serving/predict","inputs":[{"key":"x","name":"x:0","dtype":"DT_FLOAT","shape":[-1,28,28,1]},{"key":"mask","name":null,"dtype":"DT_BOOL","shape":null}]""");
        ModelSignature.ParseJson(json).Should().BeEquivalentTo(signatures, o => o.WithStrictOrdering());
        ModelSignature.ParseJson(null).Should().BeEmpty();
        new ModelVersion { User = "u", Name = "n", AnalysisTool = "tf", Signature = json }.GetSignatures().Should().HaveCount(2);
        FluentActions.Invoking(() => ModelSignature.ParseJson("{}")).Should().Throw<JsonException>();
    }

    [Test]
    public void The_default_signature_is_serving_default_else_the_first_by_name_that_is_not_TensorFlow_s_own()
    {
        ModelSignature S(string name) => new(name, null, [], []);
        ModelSignature.DefaultOf([S("b"), S("serving_default"), S("a")])!.Name.Should().Be("serving_default");
        ModelSignature.DefaultOf([S("__saved_model_init_op"), S("predict"), S("classify")])!.Name.Should().Be("classify");
        ModelSignature.DefaultOf([S("__saved_model_init_op")]).Should().BeNull();
        ModelSignature.DefaultOf([]).Should().BeNull();
    }
}
