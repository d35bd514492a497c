using System.Formats.Tar;
using System.Text;
using MlModel.Dsl.Backends;
using MlModel.Dsl.IntegrationTests.Support;

namespace MlModel.Dsl.IntegrationTests.Execution;

/// <summary>
/// Models as their frameworks save them: import reads saved_model.pb as TensorFlow's SavedModel
/// protobuf (a MetaGraph tagged serve, its signatures recorded) and Spark's parquet parts and
/// metadata (PipelineModel stages included), and refuses files that only bear the right names.
/// </summary>
public class ImportFormatTests
{
    private const string TfImport = "mlmodel import name=m analysis_tool=tf kind=regression algorithm=deep format=saved_model connector_id=local";
    private const string SparkImport = "mlmodel import name=s analysis_tool=spark kind=classification connector_id=local";

    private EngineHarness _h = null!;

    [SetUp]
    public void SetUp() => _h = new EngineHarness();

    [TearDown]
    public void TearDown() => _h.Dispose();

    private async Task<Dictionary<string, object?>> SummaryAsync(string name) =>
        (await _h.RunAsync($"mlmodel summary name={name}")).ToDictionary(r => (string)r[0]!, r => r[1]);

    private async Task<MlModelError> RefusedAsync(string command, string key)
    {
        var act = () => _h.RunAsync($"{command} path={key}");
        var error = (await act.Should().ThrowAsync<MlModelException>()).Which.Error;
        _h.StoredFiles().Should().BeEmpty("a refused import leaves no files");
        (await _h.RunAsync("mlmodel list")).Should().BeEmpty("a refused import leaves no row");
        return error;
    }

    // ---------------------------------------------------------------- SavedModel

    [TestCase("saved_model_half_plus_two_cpu", "x", "y", "x:0", 5)]
    [TestCase("saved_model_half_plus_two_tf2_cpu", "x", "y", "serving_default_x:0", 7)]
    public async Task A_real_SavedModel_imports_with_its_signatures_and_the_serving_default_s_feature_and_label(
        string fixture, string feature, string label, string inputTensor, int signatures)
    {
        var key = _h.PutObject("USERS/root/m.tar", Archives.FromFolder(TestPaths.Model(fixture), "model"));
        (await _h.RunAsync($"{TfImport} path={key}")).Single().Should().Equal("ok", "m", 1);

        var summary = await SummaryAsync("m");
        summary["feature"].Should().Be(feature);
        summary["label"].Should().Be(label);
        var row = (await _h.RunAsync("mlmodel list")).Single();
        new[] { row[8], row[9] }.Should().Equal(feature, label);

        var model = await _h.Engine.Models.GetAsync("root", "m");
        var all = model!.GetSignatures();
        all.Should().HaveCount(signatures);
        var serving = ModelSignature.DefaultOf(all)!;
        serving.Name.Should().Be("serving_default");
        serving.Method.Should().Be("tensorflow/serving/predict");
        serving.Inputs.Should().ContainSingle().Which.Should().Match<TensorSpec>(t => t.Key == "x" && t.Name == inputTensor && t.DType == "DT_FLOAT");
        serving.Outputs.Should().ContainSingle().Which.Key.Should().Be("y");
    }

    [Test]
    public async Task A_SavedModel_without_serving_default_takes_the_first_signature_by_name()
    {
        var key = _h.PutObject("USERS/root/counter.tar", Archives.FromFolder(TestPaths.Model("saved_model_counter")));
        await _h.RunAsync($"{TfImport} path={key}");

        var summary = await SummaryAsync("m");
        summary["feature"].Should().BeNull("get_counter takes no input");
        summary["label"].Should().Be("output");
        var model = await _h.Engine.Models.GetAsync("root", "m");
        model!.GetSignatures().Select(s => s.Name).Should().Equal("get_counter", "incr_counter", "incr_counter_by", "reset_counter");
        model.GetSignatures()[2].Inputs.Should().ContainSingle().Which.Should().Be(new TensorSpec("delta", "delta:0", "DT_FLOAT", null));
    }

    [Test]
    public async Task The_signature_is_stored_and_read_back_by_a_new_engine_on_the_same_database()
    {
        await _h.ImportHalfPlusTwoAsync("m");
        var reopened = new MlModelEngine(new MlModelOptions
        {
            Repository = new MlModel.Dsl.Data.SqliteModelRepository(Path.Combine(_h.Home, "mlmodel.db")),
            ModelStore = _h.Options.ModelStore,
        });
        var model = await reopened.Models.GetAsync("root", "m");
        model!.Signature.Should().StartWith("""[{"name":"classify_x_to_y","method":"tensorflow/serving/classify","inputs":[{"key":"inputs","name":"tf_example:0","dtype":"DT_STRING","shape":null}]""");
        ModelSignature.DefaultOf(model.GetSignatures())!.Inputs.Single().Shape.Should().Equal(-1, 1);
    }

    [Test]
    public async Task Text_named_saved_model_pb_is_refused_as_not_a_SavedModel_protobuf()
    {
        var key = _h.PutObject("USERS/root/bad.tar", Archives.Of(
            Archives.File("model/saved_model.pb", "this is not a model"),
            Archives.File("model/variables/variables.index", "x")));

        var error = await RefusedAsync(TfImport, key);

        error.Code.Should().Be("invalid_archive");
        // 't' (0x74) is field 14's end-group marker: protobuf's parser stops there too.
        error.Message.Should().Be("mlmodel import: 'USERS/root/bad.tar' is not a valid SavedModel archive: " +
            "saved_model.pb is not a SavedModel protobuf: an end-group marker of field 14 at byte 0 has no matching start");
    }

    [Test]
    public async Task Random_bytes_named_saved_model_pb_are_refused_and_so_cannot_be_deployed()
    {
        var noise = new byte[64 << 10];
        new Random(6).NextBytes(noise);
        var key = _h.PutObject("USERS/root/noise.tar", Archives.Of(
            Archives.File("saved_model.pb", noise),
            Archives.File("variables/variables.data-00000-of-00001", "x")));

        var error = await RefusedAsync(TfImport, key);

        error.Code.Should().Be("invalid_archive");
        error.Message.Should().Be("mlmodel import: 'USERS/root/noise.tar' is not a valid SavedModel archive: " +
            "saved_model.pb is not a SavedModel protobuf: field 3 at byte 0 has wire type 7, which does not exist");
        var deploy = () => _h.RunAsync("mlmodel deploy name=m");
        (await deploy.Should().ThrowAsync<MlModelException>()).Which.Error.Code.Should().Be("not_found");
        File.Exists(_h.ConfigFile).Should().BeFalse();
    }

    [Test]
    public async Task A_SavedModel_cut_short_is_refused_naming_where()
    {
        var pb = Archives.SavedModelPb;
        var key = _h.PutObject("USERS/root/cut.tar", Archives.Of(Archives.File("saved_model.pb", pb[..(pb.Length / 2)])));

        var error = await RefusedAsync(TfImport, key);

        error.Message.Should().Be("mlmodel import: 'USERS/root/cut.tar' is not a valid SavedModel archive: " +
            $"saved_model.pb is not a SavedModel protobuf: field 2 at byte 2 needs {pb.Length - 5} bytes, past the end of the file at byte {pb.Length / 2}");
    }

    [Test]
    public async Task A_SavedModel_saved_for_training_only_has_no_MetaGraph_tagged_serve()
    {
        // The real half_plus_two with its one tag ("serve", 5 bytes) spelt "train": what a
        // tf.compat.v1 builder saving with tags=["train"] writes.
        var pb = (byte[])Archives.SavedModelPb.Clone();
        byte[] serve = [0x22, 0x05, .. "serve"u8];
        var at = pb.AsSpan().IndexOf(serve);
        at.Should().BePositive();
        pb.AsSpan().LastIndexOf(serve).Should().Be(at, "the tag is written once");
        "train"u8.CopyTo(pb.AsSpan(at + 2));
        var key = _h.PutObject("USERS/root/train.tar", Archives.Of(Archives.File("m/1/saved_model.pb", pb)));

        var error = await RefusedAsync(TfImport, key);

        error.Code.Should().Be("invalid_archive");
        error.Message.Should().Be("mlmodel import: 'USERS/root/train.tar' is not a valid SavedModel archive: " +
            "saved_model.pb has no MetaGraph tagged 'serve' (tags found: [train])");
    }

    [Test]
    public async Task A_model_registered_from_a_SavedModel_folder_gets_its_signature_and_keeps_a_feature_it_was_given()
    {
        var folder = TestPaths.Model("saved_model_half_plus_two_cpu");
        var given = await _h.Engine.Models.RegisterAsync(
            new ModelRegistration { Name = "given", AnalysisTool = "tf", Kind = "regression", Format = "saved_model", Feature = "age" },
            EngineHarness.Root, folder);
        var found = await _h.Engine.Models.RegisterAsync(
            new ModelRegistration { Name = "found", AnalysisTool = "tf", Kind = "regression", Format = "saved_model" },
            EngineHarness.Root, folder);

        (given.Feature, given.Label).Should().Be(("age", "y"));
        (found.Feature, found.Label).Should().Be(("x", "y"));
        found.GetSignatures().Should().HaveCount(5);
    }

    // ---------------------------------------------------------------- Spark

    [Test]
    public async Task A_Spark_model_as_PySpark_saved_it_imports_with_feature_and_label_and_keeps_SUCCESS_and_crc_files()
    {
        var key = _h.PutObject("USERS/root/lr.tar", Archives.FromFolder(TestPaths.SparkModel("py_log_reg"), "py_log_reg"));
        (await _h.RunAsync($"{SparkImport} path={key}")).Single().Should().Equal("ok", "s", 1);

        var summary = await SummaryAsync("s");
        summary["algorithm"].Should().Be("LogisticRegressionModel");
        summary["feature"].Should().Be("features");
        summary["label"].Should().Be("label");
        ((string)summary["parameter"]!).Should().StartWith("""{"tol":1.0E-6,"standardization":true,""");
        var model = await _h.Engine.Models.GetAsync("root", "s");
        model!.Signature.Should().BeNull();
        var files = (await _h.Options.Repository!.GetFilesAsync(model.Id)).Select(f => f.Path).ToList();
        files.Should().Contain(["metadata/_SUCCESS", "metadata/.part-00000.crc", "data/_SUCCESS",
            "data/.part-00000-e82c6dd6-5b89-41d2-86b1-1b710f1c0acb-c000.snappy.parquet.crc"]);
    }

    [Test]
    public async Task A_random_forest_with_trees_metadata_imports_with_its_indexed_columns()
    {
        var key = _h.PutObject("USERS/root/rf.tar", Archives.FromFolder(TestPaths.SparkModel("py_rforest_cls")));
        await _h.RunAsync($"{SparkImport} path={key}");

        var summary = await SummaryAsync("s");
        summary["algorithm"].Should().Be("RandomForestClassificationModel");
        new[] { summary["feature"], summary["label"] }.Should().Equal("indexedFeatures", "indexedLabel");
    }

    private const string RandomForestUid = "RandomForestClassifier_42c8a636588f99eeea89";
    private const string AssemblerUid = "VectorAssembler_4a0d8e1b1b2c8a1f0e9d";

    /// <summary>
    /// A PipelineModel as Spark 2.3 saves one (Pipeline.SharedReadWrite): its metadata names the
    /// stages' uids; stage i is saved under stages/&lt;i&gt;_&lt;uid&gt;/. The random forest is
    /// the real py_rforest_cls; the VectorAssembler before it has metadata only, as Spark writes it.
    /// Entries are written stages first, so the model's own metadata comes last.
    /// </summary>
    private static byte[] Pipeline(string? stageUids = null)
    {
        var entries = new List<TarEntry>
        {
            Archives.File($"pipe/stages/0_{AssemblerUid}/metadata/part-00000",
                $$$"""{"class":"org.apache.spark.ml.feature.VectorAssembler","timestamp":1522064748301,"sparkVersion":"2.3.0","uid":"{{{AssemblerUid}}}","paramMap":{"inputCols":["f1","f2","f3"],"outputCol":"indexedFeatures"}}""" + "\n"),
            Archives.File($"pipe/stages/0_{AssemblerUid}/metadata/_SUCCESS", ""),
        };
        var forest = TestPaths.SparkModel("py_rforest_cls");
        foreach (var file in Directory.EnumerateFiles(forest, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            entries.Add(Archives.File($"pipe/stages/1_{RandomForestUid}/" + Path.GetRelativePath(forest, file), File.ReadAllBytes(file)));
        }
        entries.Add(Archives.File("pipe/metadata/part-00000",
            """{"class":"org.apache.spark.ml.PipelineModel","timestamp":1522064748290,"sparkVersion":"2.3.0","uid":"PipelineModel_4d1b9a8e3f2c","paramMap":{"stageUids":""" +
            (stageUids ?? $"""["{AssemblerUid}","{RandomForestUid}"]""") + "}}\n"));
        entries.Add(Archives.File("pipe/metadata/_SUCCESS", ""));
        return Archives.Of([.. entries]);
    }

    [Test]
    public async Task A_PipelineModel_takes_algorithm_parameter_feature_and_label_from_its_last_predictor_stage()
    {
        var key = _h.PutObject("USERS/root/pipe.tar", Pipeline());
        (await _h.RunAsync($"{SparkImport} path={key}")).Single()[0].Should().Be("ok");

        var summary = await SummaryAsync("s");
        summary["algorithm"].Should().Be("RandomForestClassificationModel");
        summary["filename"].Should().Be("metadata");
        ((string)summary["parameter"]!).Should().StartWith("""{"maxDepth":5,"impurity":"gini","featuresCol":"indexedFeatures",""");
        new[] { summary["feature"], summary["label"] }.Should().Equal("indexedFeatures", "indexedLabel");
    }

    [Test]
    public async Task A_stage_named_in_stageUids_without_its_folder_is_refused()
    {
        var key = _h.PutObject("USERS/root/pipe.tar", Pipeline(stageUids: $"""["{AssemblerUid}","GBTClassifier_1","{RandomForestUid}"]"""));
        var error = await RefusedAsync(SparkImport, key);
        error.Message.Should().Be("mlmodel import: 'USERS/root/pipe.tar' is not a valid Spark model archive: " +
            "the PipelineModel's stage 1 (GBTClassifier_1) has no folder stages/1_GBTClassifier_1/");
    }

    [Test]
    public async Task A_stage_without_its_metadata_is_refused()
    {
        var tar = Archives.Of(
            Archives.File($"pipe/stages/0_{AssemblerUid}/metadata/_SUCCESS", ""),
            Archives.File("pipe/metadata/part-00000", $$$"""{"class":"org.apache.spark.ml.PipelineModel","uid":"p","paramMap":{"stageUids":["{{{AssemblerUid}}}"]}}"""));
        var key = _h.PutObject("USERS/root/pipe.tar", tar);

        var error = await RefusedAsync(SparkImport, key);

        error.Message.Should().Be("mlmodel import: 'USERS/root/pipe.tar' is not a valid Spark model archive: " +
            $"the PipelineModel's stage stages/0_{AssemblerUid} has no metadata part file (stages/0_{AssemblerUid}/metadata/part-00000)");
    }

    [Test]
    public async Task Spark_metadata_is_kept_up_to_16_MiB_in_all_and_what_was_not_kept_is_named()
    {
        // Seventeen stages whose metadata lines are padded to 1 MiB each come first; the model's
        // own metadata, after them, is past what import keeps of such files.
        var padding = new string(' ', (1 << 20) - 100);
        var entries = Enumerable.Range(0, 17).Select(i => (TarEntry)Archives.File($"stages/{i:D2}_Stage_{i}/metadata/part-00000",
            $$$"""{"class":"org.apache.spark.ml.feature.VectorAssembler","uid":"Stage_{{{i}}}","paramMap":{}{{{padding}}}}""")).ToList();
        entries.Add(Archives.File("metadata/part-00000", """{"class":"org.apache.spark.ml.PipelineModel","uid":"p","paramMap":{}}"""));
        var key = _h.PutObject("USERS/root/big.tar", Archives.Of([.. entries]));

        var error = await RefusedAsync(SparkImport, key);

        error.Message.Should().Be("mlmodel import: 'USERS/root/big.tar' is not a valid Spark model archive: " +
            "the Spark metadata part file metadata/part-00000 was not read: the archive's metadata part files take more than the 16 MiB import reads of them");
    }

    [Test]
    public async Task Spark_2_4_s_defaultParamMap_gives_the_columns_left_at_their_defaults()
    {
        var key = _h.PutObject("USERS/root/lr.tar", Archives.Of(
            Archives.File("metadata/part-00000",
                """{"class":"org.apache.spark.ml.classification.LogisticRegressionModel","timestamp":1,"sparkVersion":"2.4.4","uid":"lr_1","paramMap":{"labelCol":"quality","maxIter":10},"defaultParamMap":{"featuresCol":"features","labelCol":"label","predictionCol":"prediction"}}""" + "\n"),
            Archives.File("data/part-00000-1.snappy.parquet", File.ReadAllBytes(Directory.EnumerateFiles(Path.Combine(TestPaths.SparkModel("py_log_reg"), "data"), "*.parquet").Single()))));
        await _h.RunAsync($"{SparkImport} path={key}");

        var summary = await SummaryAsync("s");
        new[] { summary["feature"], summary["label"] }.Should().Equal("features", "quality");
        summary["parameter"].Should().Be("""{"labelCol":"quality","maxIter":10}""");
    }

    [TestCase("data/part-00000.parquet")]
    [TestCase("treesMetadata/part-00003-2f07e7f5-1fd8-4b7f-b1a0-23df5d97b9b0-c000.snappy.parquet")]
    public async Task Random_bytes_named_like_a_parquet_part_are_refused(string path)
    {
        var noise = new byte[4096];
        new Random(11).NextBytes(noise);
        var forest = TestPaths.SparkModel("py_rforest_cls");
        var entries = Directory.EnumerateFiles(forest, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(f => Path.GetRelativePath(forest, f))
            .Where(p => p != path)
            .Select(p => Archives.File("rf/" + p, File.ReadAllBytes(Path.Combine(forest, p))))
            .Append(Archives.File("rf/" + path, noise));
        var key = _h.PutObject("USERS/root/rf.tar", Archives.Of([.. entries]));

        var error = await RefusedAsync(SparkImport, key);

        error.Code.Should().Be("invalid_archive");
        error.Message.Should().Be($"mlmodel import: 'USERS/root/rf.tar' is not a valid Spark model archive: {path} is not a parquet file: it does not start with PAR1");
    }

    [Test]
    public async Task A_parquet_part_cut_short_is_refused()
    {
        var part = File.ReadAllBytes(Directory.EnumerateFiles(Path.Combine(TestPaths.SparkModel("py_log_reg"), "data"), "*.parquet").Single());
        var key = _h.PutObject("USERS/root/lr.tar", Archives.Of(
            Archives.File("metadata/part-00000", File.ReadAllText(Path.Combine(TestPaths.SparkModel("py_log_reg"), "metadata", "part-00000"))),
            Archives.File("data/part-00000.parquet", part[..1000])));

        var error = await RefusedAsync(SparkImport, key);

        error.Message.Should().Be("mlmodel import: 'USERS/root/lr.tar' is not a valid Spark model archive: data/part-00000.parquet is not a parquet file: it does not end with PAR1");
    }

    [Test]
    public async Task A_SavedModel_archive_s_Spark_like_files_are_not_read_as_Spark()
    {
        // Only the format asked for is looked into: a SavedModel's asset named *.parquet is an asset.
        using var folder = new TempFolder();
        foreach (var file in Directory.EnumerateFiles(TestPaths.Model("saved_model_half_plus_two_cpu"), "*", SearchOption.AllDirectories))
        {
            var target = folder.Combine(Path.GetRelativePath(TestPaths.Model("saved_model_half_plus_two_cpu"), file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        await File.WriteAllTextAsync(folder.Combine("assets", "table.parquet"), "not parquet");
        var key = _h.PutObject("USERS/root/m.tar", Archives.FromFolder(folder.Path));

        (await _h.RunAsync($"{TfImport} path={key}")).Single()[0].Should().Be("ok");
        Encoding.UTF8.GetString(await File.ReadAllBytesAsync(Path.Combine(_h.Store, "models", "root", "m", "1", "assets", "table.parquet"))).Should().Be("not parquet");
    }
}
