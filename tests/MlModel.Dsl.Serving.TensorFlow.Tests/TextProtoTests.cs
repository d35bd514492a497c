using System.Text;
using FluentAssertions;
using MlModel.Dsl.Serving.TensorFlow.Config;
using NUnit.Framework;

namespace MlModel.Dsl.Serving.TensorFlow.Tests;

public class TextProtoTests
{
    // The examples of tensorflow_serving/g3doc/serving_config.md ("Model Server Config Details",
    // "Serving a Specific Version", "Serving Multiple Versions", "Assigning String Labels"), verbatim.
    private const string DocBasicExample =
        """
        model_config_list {
          config {
            name: 'my_first_model'
            base_path: '/tmp/my_first_model/'
            model_platform: 'tensorflow'
          }
          config {
            name: 'my_second_model'
            base_path: '/tmp/my_second_model/'
            model_platform: 'tensorflow'
          }
        }
        """;

    private const string DocSpecificVersion =
        """
        model_version_policy {
          specific {
            versions: 42
          }
        }
        """;

    private const string DocMultipleVersions =
        """
        model_version_policy {
          specific {
            versions: 42
            versions: 43
          }
        }
        """;

    private const string DocLabels =
        """
        model_version_policy {
          specific {
            versions: 42
            versions: 43
          }
        }
        version_labels {
          key: 'stable'
          value: 42
        }
        version_labels {
          key: 'canary'
          value: 43
        }
        """;

    private const string DocLabelsPromoted =
        """
        model_version_policy {
          specific {
            versions: 42
            versions: 43
          }
        }
        version_labels {
          key: 'stable'
          value: 43
        }
        version_labels {
          key: 'canary'
          value: 43
        }
        """;

    [TestCase(DocBasicExample)]
    [TestCase(DocSpecificVersion)]
    [TestCase(DocMultipleVersions)]
    [TestCase(DocLabels)]
    [TestCase(DocLabelsPromoted)]
    public void Doc_examples_round_trip_to_the_same_text(string example)
    {
        var text = example.ReplaceLineEndings("\n") + "\n";
        TextProtoWriter.Write(TextProtoParser.Parse(text)).Should().Be(text);
    }

    [Test]
    public void Doc_basic_example_reads_as_two_tensorflow_models()
    {
        var doc = ModelServerConfigDocument.Parse(DocBasicExample);
        doc.Models.Select(m => (m.Name, m.BasePath, m.ModelPlatform)).Should().Equal(
            ("my_first_model", "/tmp/my_first_model/", "tensorflow"),
            ("my_second_model", "/tmp/my_second_model/", "tensorflow"));
    }

    [Test]
    public void Doc_label_example_reads_versions_and_labels()
    {
        var entry = new ModelConfigEntry(TextProtoParser.Parse("name: 'm'\n" + DocLabels));
        entry.SpecificVersions.Should().Equal(42, 43);
        entry.Labels.Should().BeEquivalentTo(new Dictionary<string, long> { ["stable"] = 42, ["canary"] = 43 });

        entry.SetLabel("stable", 43).Should().BeTrue();
        TextProtoWriter.Write(entry.Node).Should().Be("name: 'm'\n" + DocLabelsPromoted.ReplaceLineEndings("\n") + "\n");
    }

    [Test]
    public void Other_doc_examples_parse_monitoring_and_batching()
    {
        // serving_config.md "Monitoring Configuration" (comma separator, double quotes) and "Batching Configuration".
        var monitoring = TextProtoParser.Parse("prometheus_config {\n  enable: true,\n  path: \"/monitoring/prometheus/metrics\"\n}\n");
        var prometheus = monitoring.Message("prometheus_config")!;
        prometheus.Scalar("enable")!.Raw.Should().Be("true");
        prometheus.Scalar("path")!.AsText().Should().Be("/monitoring/prometheus/metrics");

        var batching = TextProtoParser.Parse("max_batch_size { value: 128 }\nbatch_timeout_micros { value: 0 }\nmax_enqueued_batches { value: 1000000 }\nnum_batch_threads { value: 8 }\n");
        batching.Fields.Select(f => f.Name).Should().Equal("max_batch_size", "batch_timeout_micros", "max_enqueued_batches", "num_batch_threads");
        batching.Message("max_enqueued_batches")!.Scalar("value")!.TryGetInt64(out var v).Should().BeTrue();
        v.Should().Be(1000000);
    }

    [Test]
    public void Parses_the_rest_of_the_text_format()
    {
        const string text =
            """
            # a comment
            model_config_list: {
              config <
                name: "a" 'b' # concatenated
                base_path: "/m/\303\251\x41\u00e9\n\t\\\"\'"
                versions_list: [1, -2, 0x10, 017]
                empties: []
                floats: [1.5, -2e10, .5, 1e-3, inf, -inf, nan]
                enum_value: TENSORFLOW;
                [type.googleapis.com/some.Extension] { x: 1 }
                msgs: [{ a: 1 }, < b: 2 >]
              >
            }
            """;
        var root = TextProtoParser.Parse(text);
        var config = root.Message("model_config_list")!.Message("config")!;
        config.Scalar("name")!.AsText().Should().Be("ab");
        config.Scalar("base_path")!.AsText().Should().Be("/m/\u00e9A\u00e9\n\t\\\"'");
        config.All("versions_list").Select(f => ((TextProtoScalar)f.Value).TryGetInt64(out var n) ? n : -999).Should().Equal(1, -2, 16, 15);
        config.All("empties").Should().BeEmpty();
        config.All("floats").Select(f => ((TextProtoScalar)f.Value).Raw).Should().Equal("1.5", "-2e10", ".5", "1e-3", "inf", "-inf", "nan");
        config.Scalar("enum_value")!.Kind.Should().Be(TextProtoScalarKind.Identifier);
        config.Message("[type.googleapis.com/some.Extension]")!.Scalar("x")!.Raw.Should().Be("1");
        config.All("msgs").Select(f => f.Value).Should().AllBeOfType<TextProtoMessage>().And.HaveCount(2);

        // Values survive a write/parse cycle even where the spelling changes.
        TextProtoParser.Parse(TextProtoWriter.Write(root)).ValueEquals(root).Should().BeTrue();
    }

    [Test]
    public void Strings_that_are_not_utf8_are_written_with_octal_escapes()
    {
        var root = new TextProtoMessage();
        root.Fields.Add(new TextProtoField("bytes", TextProtoScalar.FromBytes([0xFF, 0x00, (byte)'a', (byte)'\''])));
        var text = TextProtoWriter.Write(root);
        text.Should().Be("bytes: '\\377\\000a\\''\n");
        TextProtoParser.Parse(text).ValueEquals(root).Should().BeTrue();
    }

    [Test]
    public void Utf8_strings_are_written_as_they_are()
    {
        var root = new TextProtoMessage();
        root.Fields.Add(new TextProtoField("name", TextProtoScalar.FromString("root_모델")));
        TextProtoWriter.Write(root).Should().Be("name: 'root_모델'\n");
    }

    [TestCase("config {", "expected '}'", 1)]
    [TestCase("name 'x'", "expected ':'", 1)]
    [TestCase("name: 'x", "unterminated string", 1)]
    [TestCase("a: 1\nb: \"\\q\"", "invalid escape", 2)]
    [TestCase("a: 1\n}", "expected a field name", 2)]
    [TestCase("a: [1 2]", "expected ',' or ']'", 1)]
    public void Syntax_errors_name_the_line(string text, string message, int line)
    {
        var act = () => TextProtoParser.Parse(text);
        act.Should().Throw<TextProtoParseException>().Where(e => e.Message.Contains(message) && e.Line == line);
    }

    [Test]
    public void A_bad_config_file_is_a_config_invalid_error()
    {
        var act = () => ModelServerConfigDocument.Parse("model_config_list {", "/x/models.config");
        act.Should().Throw<TensorFlowServingException>()
            .Where(e => e.Kind == TensorFlowServingErrorKind.ConfigInvalid && e.Message.Contains("/x/models.config"));
    }

    [Test]
    public void Typed_edits_keep_unmanaged_fields_in_place()
    {
        const string text =
            """
            model_config_list {
              config {
                name: 'mine'
                base_path: '/srv/mine'
                model_platform: 'tensorflow'
                logging_config {
                  sampling_config {
                    sampling_rate: 0.5
                  }
                }
                model_version_policy {
                  specific {
                    versions: 1
                    versions: 3
                  }
                }
              }
            }

            """;
        var doc = ModelServerConfigDocument.Parse(text);
        var entry = doc.Find("mine")!;
        entry.AddSpecificVersion(2).Should().BeTrue();
        entry.AddSpecificVersion(2).Should().BeFalse();
        entry.SetLabel("stable", 2).Should().BeTrue();
        doc.ToText().Should().Be(
            """
            model_config_list {
              config {
                name: 'mine'
                base_path: '/srv/mine'
                model_platform: 'tensorflow'
                logging_config {
                  sampling_config {
                    sampling_rate: 0.5
                  }
                }
                model_version_policy {
                  specific {
                    versions: 1
                    versions: 2
                    versions: 3
                  }
                }
                version_labels {
                  key: 'stable'
                  value: 2
                }
              }
            }

            """.ReplaceLineEndings("\n"));

        entry.RemoveLabelsPointingTo(2).Should().Equal("stable");
        entry.RemoveSpecificVersion(2).Should().BeTrue();
        doc.ToText().Should().Be(text.ReplaceLineEndings("\n"));
    }

    [Test]
    public void Removing_the_last_model_keeps_an_empty_model_config_list()
    {
        var doc = ModelServerConfigDocument.Empty();
        doc.AddModel("m", "/srv/m", "tensorflow");
        doc.RemoveModel("m").Should().BeTrue();
        // An empty file would leave the oneof unset: TF Serving then "takes no action" and keeps serving.
        doc.ToText().Should().Be("model_config_list {\n}\n");
        ModelServerConfigDocument.Parse(doc.ToText()).Models.Should().BeEmpty();
    }

    [Test]
    public void Labels_follow_map_semantics_last_entry_wins()
    {
        var entry = new ModelConfigEntry(TextProtoParser.Parse("version_labels { key: 'a' value: 1 }\nversion_labels { key: 'a' value: 2 }\n"));
        entry.Labels["a"].Should().Be(2);
        entry.SetLabel("a", 5);
        entry.Node.All("version_labels").Should().HaveCount(1);
        entry.Labels["a"].Should().Be(5);
    }

    [Test]
    public void Written_text_is_ascii_layout_of_the_doc()
    {
        var doc = ModelServerConfigDocument.Empty();
        var e = doc.AddModel("root_mnist_v1", "/models/root_mnist_v1", "tensorflow");
        e.AddSpecificVersion(1);
        e.SetLabel("unstable", 1);
        Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(doc.ToText())).Should().Be(
            """
            model_config_list {
              config {
                name: 'root_mnist_v1'
                base_path: '/models/root_mnist_v1'
                model_platform: 'tensorflow'
                model_version_policy {
                  specific {
                    versions: 1
                  }
                }
                version_labels {
                  key: 'unstable'
                  value: 1
                }
              }
            }

            """.ReplaceLineEndings("\n"));
    }
}
