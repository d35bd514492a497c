using Google.Protobuf;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Execution.Archives;
using MlModel.Dsl.Tests.Grammar;
using static MlModel.Dsl.Tests.Archives.Protobuf;

namespace MlModel.Dsl.Tests.Archives;

/// <summary>
/// saved_model.pb read as it streams by: TensorFlow Serving's real SavedModels give their
/// signatures however the bytes are cut into chunks; crafted files exercise the wire format's
/// corners; hostile ones get a problem in words, never an exception, in bounded memory.
/// </summary>
public sealed class SavedModelReaderTests
{
    private const int DtFloat = 1;
    private const int DtString = 7;

    private static byte[] Fixture(string model) =>
        File.ReadAllBytes(Path.Combine(RepositoryPaths.Fixtures, "tensorflow-serving-testdata", model, "00000123", "saved_model.pb"));

    private static SavedModelFacts Read(byte[] file, int chunk = int.MaxValue, SavedModelReader.Budget? budget = null)
    {
        var reader = new SavedModelReader(file.Length, budget ?? new SavedModelReader.Budget());
        for (var i = 0; i < file.Length; i += chunk)
        {
            reader.Append(file.AsSpan(i, Math.Min(chunk, file.Length - i)));
        }
        return reader.Complete();
    }

    private static TensorSpec T(string key, string? name, string dtype, params long[]? shape) => new(key, name, dtype, shape);

    [TestCase(1)]
    [TestCase(7)]
    [TestCase(4096)]
    [TestCase(int.MaxValue)]
    public void TensorFlow_1s_half_plus_two_gives_its_five_signatures_in_chunks_of_any_size(int chunk)
    {
        var facts = Read(Fixture("saved_model_half_plus_two_cpu"), chunk);

        facts.Problem.Should().BeNull();
        facts.Signatures.Select(s => s.Name).Should().Equal("classify_x_to_y", "regress_x2_to_y3", "regress_x_to_y", "regress_x_to_y2", "serving_default");
        facts.Signatures[^1].Should().BeEquivalentTo(new ModelSignature("serving_default", "tensorflow/serving/predict",
            [T("x", "x:0", "DT_FLOAT", -1, 1)], [T("y", "y:0", "DT_FLOAT", -1, 1)]));
        // tf.Example inputs have an unknown rank.
        facts.Signatures[0].Should().BeEquivalentTo(new ModelSignature("classify_x_to_y", "tensorflow/serving/classify",
            [T("inputs", "tf_example:0", "DT_STRING", null)], [T("scores", "y:0", "DT_FLOAT", -1, 1)]));
    }

    [TestCase(1)]
    [TestCase(4096)]
    public void TensorFlow_2s_half_plus_two_writes_meta_info_def_after_graph_def_and_is_read_all_the_same(int chunk)
    {
        var facts = Read(Fixture("saved_model_half_plus_two_tf2_cpu"), chunk);

        facts.Problem.Should().BeNull();
        facts.Signatures.Select(s => s.Name).Should().Equal(
            "__saved_model_init_op", "classify_x2_to_y3", "classify_x_to_y", "regress_x2_to_y3", "regress_x_to_y", "regress_x_to_y2", "serving_default");
        facts.Signatures[^1].Should().BeEquivalentTo(new ModelSignature("serving_default", "tensorflow/serving/predict",
            [T("x", "serving_default_x:0", "DT_FLOAT", 1)], [T("y", "StatefulPartitionedCall_5:0", "DT_FLOAT", 1)]));
        facts.Signatures[0].Should().BeEquivalentTo(new ModelSignature("__saved_model_init_op", null,
            [], [T("__saved_model_init_op", "NoOp", "DT_INVALID", null)]));
        ModelSignature.DefaultOf(facts.Signatures)!.Name.Should().Be("serving_default");
    }

    [Test]
    public void The_counter_model_has_no_serving_default_and_TF1_reference_types()
    {
        var facts = Read(Fixture("saved_model_counter"), 13);

        facts.Problem.Should().BeNull();
        facts.Signatures.Select(s => s.Name).Should().Equal("get_counter", "incr_counter", "incr_counter_by", "reset_counter");
        facts.Signatures[2].Should().BeEquivalentTo(new ModelSignature("incr_counter_by", "tensorflow/serving/predict",
            [T("delta", "delta:0", "DT_FLOAT", null)], [T("output", "incr_counter_by_op/AssignAdd:0", "DT_FLOAT_REF")]));
        ModelSignature.DefaultOf(facts.Signatures)!.Name.Should().Be("get_counter");
    }

    [Test]
    public void Every_strict_prefix_of_a_real_SavedModel_is_refused_in_words()
    {
        var file = Fixture("saved_model_half_plus_two_cpu");
        for (var length = 0; length < file.Length; length += 97)
        {
            var facts = Read(file[..length], 512);
            facts.Problem.Should().NotBeNull($"a prefix of {length} bytes is not the whole SavedModel");
            facts.NotProtobuf.Should().BeTrue();
        }
    }

    [Test]
    public void Unknown_fields_of_every_wire_type_and_known_numbers_with_other_wire_types_are_skipped_as_protobuf_does()
    {
        var signature = Signature("serving_default", "tensorflow/serving/predict",
            [Tensor("pixels", "input_1:0", DtFloat, [-1, 28, 28, 1])], [Tensor("probabilities", "dense/Softmax:0", DtFloat, [-1, 10])]);
        var noise = Encode(o =>
        {
            o.WriteTag(90, WireFormat.WireType.Varint);
            o.WriteUInt64(ulong.MaxValue);
            o.WriteTag(91, WireFormat.WireType.Fixed64);
            o.WriteFixed64(7);
            o.WriteTag(92, WireFormat.WireType.Fixed32);
            o.WriteFixed32(7);
            o.Text(93, "skipped");
            // A group (deprecated, still legal) holding a nested group and a length-delimited field.
            o.WriteTag(94, WireFormat.WireType.StartGroup);
            o.WriteTag(95, WireFormat.WireType.StartGroup);
            o.Text(2, "inside");
            o.WriteTag(95, WireFormat.WireType.EndGroup);
            o.WriteTag(94, WireFormat.WireType.EndGroup);
        });
        byte[] graph =
        [
            .. noise,
            .. Encode(o =>
            {
                o.Message(5, signature);                    // signature_def before meta_info_def
                o.WriteTag(5, WireFormat.WireType.Fixed32); // field 5 with another wire type: unknown
                o.WriteFixed32(1);
                o.Message(2, new byte[1000]);               // graph_def: skipped whatever it holds
                o.Message(1, MetaInfo("serve"));
            }),
        ];
        byte[] file =
        [
            .. noise,
            .. Encode(o =>
            {
                o.WriteTag(2, WireFormat.WireType.Varint); // meta_graphs as a varint: an unknown field
                o.WriteUInt64(3);
                o.Message(2, graph);
            }),
            .. noise,
        ];

        var facts = Read(file, 3);

        facts.Problem.Should().BeNull();
        facts.Signatures.Should().ContainSingle().Which.Should().BeEquivalentTo(new ModelSignature("serving_default", "tensorflow/serving/predict",
            [T("pixels", "input_1:0", "DT_FLOAT", -1, 28, 28, 1)], [T("probabilities", "dense/Softmax:0", "DT_FLOAT", -1, 10)]));
    }

    [Test]
    public void A_meta_info_def_given_twice_merges_its_tags_and_a_signature_key_given_twice_keeps_the_last()
    {
        var first = Signature("serving_default", null, [Tensor("a", "a:0", DtFloat, [])], []);
        var last = Signature("serving_default", "tensorflow/serving/predict", [Tensor("b", "b:0", DtString, [3])], []);
        var graph = Encode(o =>
        {
            o.Message(1, MetaInfo("gpu"));
            o.Message(5, first);
            o.Message(1, MetaInfo("serve"));
            o.Message(5, last);
        });

        var facts = Read(SavedModel(graph));

        facts.Problem.Should().BeNull();
        facts.Signatures.Should().ContainSingle().Which.Should().BeEquivalentTo(new ModelSignature("serving_default", "tensorflow/serving/predict",
            [T("b", "b:0", "DT_STRING", 3)], []));
    }

    [Test]
    public void The_MetaGraph_tagged_serve_alone_is_preferred_to_one_tagged_serve_and_gpu_as_TensorFlow_Serving_loads_it()
    {
        var gpu = MetaGraph(["serve", "gpu"], Signature("gpu", null, [], []));
        var serve = MetaGraph(["serve"], Signature("cpu", null, [], []));
        Read(SavedModel(gpu, serve)).Signatures.Select(s => s.Name).Should().Equal("cpu");
        Read(SavedModel(MetaGraph(["train"]), gpu)).Signatures.Select(s => s.Name).Should().Equal("gpu");
    }

    private static IEnumerable<TestCaseData> Hostile()
    {
        TestCaseData Case(string name, byte[] file, string problem, bool notProtobuf = true) =>
            new TestCaseData(file, problem, notProtobuf).SetName("Refused: " + name);

        yield return Case("empty file", [], "it is empty (0 bytes)");
        yield return Case("text that happens to be protobuf", "pb"u8.ToArray(), "it holds no MetaGraph (SavedModel.meta_graphs is empty)");
        yield return Case("wire type 7", [0x0F], "field 1 at byte 0 has wire type 7, which does not exist");
        yield return Case("field number 0", [0x08, 0x01, 0x00], "field number 0 at byte 2 (no field has it)");
        yield return Case("length past the end of the file", [0x12, 0x10, 1, 2, 3], "field 2 at byte 0 needs 16 bytes, past the end of the file at byte 5");
        yield return Case("length past the end of its message", [0x12, 0x03, 0x0A, 0x05, 0x00, 0x08, 0x01],
            "field 1 at byte 2 needs 5 bytes, past the end of its message at byte 5");
        yield return Case("varint running past its message", [0x12, 0x01, 0x08, 0x96, 0x01, 0x08, 0x01],
            "a field before byte 5 runs past the end of its message at byte 3");
        yield return Case("varint cut by the end of the file", [0x08, 0xFF], "it ends in the middle of a field (field 1 at byte 0)");
        yield return Case("varint of 11 bytes", [0x08, .. Enumerable.Repeat((byte)0xFF, 10), 0x01], "a number of field 1 at byte 0 is longer than 10 bytes");
        yield return Case("tag of 6 bytes", [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], "a field tag at byte 0 is longer than 5 bytes");
        yield return Case("tag over 32 bits", [0xFF, 0xFF, 0xFF, 0xFF, 0x7F], "a field tag at byte 0 is larger than 32 bits");
        yield return Case("end of a group never started", [0x0C], "an end-group marker of field 1 at byte 0 has no matching start");
        yield return Case("group ended by another field's marker", [0x0B, 0x14], "an end-group marker of field 2 at byte 1 has no matching start");
        yield return Case("group never closed", [0x0B], "the group of field 1 is not closed before the end of the file");
        yield return Case("group not closed within its message", [0x12, 0x01, 0x0B, 0x08, 0x01],
            "the group of field 1 is not closed before its message ends at byte 3");
        yield return Case("groups 101 deep", [.. Enumerable.Repeat((byte)0x0B, 101)], "groups nest deeper than 100 levels at byte 100");
        yield return Case("100 groups deep, closed, and no MetaGraph", [.. Enumerable.Repeat((byte)0x0B, 100), .. Enumerable.Repeat((byte)0x0C, 100)],
            "it holds no MetaGraph (SavedModel.meta_graphs is empty)");
        yield return Case("tag that is not UTF-8", SavedModel(Encode(o => o.Message(1, [0x22, 0x02, 0xC3, 0x28]))), "a MetaGraph tag is not UTF-8 text");
        yield return Case("no MetaGraph tagged serve", SavedModel(MetaGraph(["train"]), MetaGraph(["gpu", "eval"]), MetaGraph([])),
            "has no MetaGraph tagged 'serve' (tags found: [train], [gpu, eval], [])", notProtobuf: false);
    }

    [TestCaseSource(nameof(Hostile))]
    public void Hostile_files_get_a_problem_in_words(byte[] file, string problem, bool notProtobuf)
    {
        foreach (var chunk in new[] { 1, 2, int.MaxValue })
        {
            var facts = Read(file, chunk);
            facts.Problem.Should().Be(problem);
            facts.NotProtobuf.Should().Be(notProtobuf);
            facts.Signatures.Should().BeEmpty();
        }
    }

    [Test]
    public void A_malformed_signature_entry_of_the_serving_MetaGraph_is_named()
    {
        var facts = Read(SavedModel(MetaGraph(["serve"], [0x0F])));
        facts.Problem.Should().Be("an entry of the serving MetaGraph's signature_def is malformed (field 1 has wire type 7, which does not exist)");
        facts.NotProtobuf.Should().BeTrue();

        // Cut short inside: Google.Protobuf's reader says so.
        Read(SavedModel(MetaGraph(["serve"], [0x0A, 0x05, 0x61]))).Problem.Should().StartWith(
            "an entry of the serving MetaGraph's signature_def is malformed (While parsing a protocol message, the input ended unexpectedly");
    }

    [Test]
    public void Random_bytes_never_throw_and_are_never_a_SavedModel()
    {
        var random = new Random(20261206);
        for (var i = 0; i < 3000; i++)
        {
            var file = new byte[random.Next(0, 2048)];
            random.NextBytes(file);
            var facts = Read(file, random.Next(1, 300));
            facts.Problem.Should().NotBeNull();
        }
    }

    [Test]
    public void A_graph_def_of_256_MiB_is_skipped_without_being_held()
    {
        const long graphDef = 256L << 20;
        var tail = Encode(o =>
        {
            o.Message(1, MetaInfo("serve"));
            o.Message(5, Signature("serving_default", null, [Tensor("x", "x:0", DtFloat, [-1])], [Tensor("y", "y:0", DtFloat, [-1])]));
        });
        var graphHeader = Encode(o =>
        {
            o.WriteTag(2, WireFormat.WireType.LengthDelimited);
            o.WriteLength((int)graphDef);
        });
        byte[] head =
        [
            .. Encode(o =>
            {
                o.WriteTag(2, WireFormat.WireType.LengthDelimited);
                o.WriteUInt64((ulong)(graphHeader.Length + graphDef + tail.Length));
            }),
            .. graphHeader,
        ];
        var length = head.Length + graphDef + tail.Length;
        var zeros = new byte[1 << 20];

        var before = GC.GetAllocatedBytesForCurrentThread();
        var reader = new SavedModelReader(length, new SavedModelReader.Budget());
        reader.Append(head);
        for (long done = 0; done < graphDef; done += zeros.Length)
        {
            reader.Append(zeros);
        }
        reader.Append(tail);
        var facts = reader.Complete();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        facts.Problem.Should().BeNull();
        facts.Signatures.Should().ContainSingle().Which.Inputs.Should().ContainSingle().Which.Name.Should().Be("x:0");
        allocated.Should().BeLessThan(256 << 10, "the graph_def is counted past, not kept");
    }

    [Test]
    public void Tags_and_signatures_beyond_16_MiB_are_refused_and_the_budget_spans_an_archives_files()
    {
        var huge = SavedModel(MetaGraph([new string('t', 17 << 20)]));
        Read(huge).Problem.Should().Be(
            "its MetaGraphs, tags and signatures (with those of the archive's other saved_model.pb files) take more than the 16 MiB that import reads of them");

        var nine = SavedModel(MetaGraph(["serve", new string('t', 9 << 20)]));
        var shared = new SavedModelReader.Budget();
        Read(nine, budget: shared).Problem.Should().BeNull();
        Read(nine, budget: shared).Problem.Should().StartWith("its MetaGraphs, tags and signatures");
    }

    [Test]
    public void Millions_of_empty_tags_count_against_the_budget_too()
    {
        // 2 bytes each on disk (tag, length 0): without a cost per entry, a 20 MB file would
        // make ten million list entries.
        var info = new byte[2 * 300_000];
        for (var i = 0; i < info.Length; i += 2)
        {
            info[i] = 0x22;
        }
        var file = SavedModel(Encode(o => o.Message(1, info)));
        Read(file).Problem.Should().StartWith("its MetaGraphs, tags and signatures");
    }
}
