using Google.Protobuf;

namespace MlModel.Dsl.Tests.Archives;

/// <summary>
/// Builds SavedModel protobufs for tests with Google.Protobuf's own encoder (CodedOutputStream),
/// so the reader under test is checked against an encoder it does not share code with. Field
/// numbers as in tensorflow/core/protobuf/saved_model.proto and meta_graph.proto.
/// </summary>
internal static class Protobuf
{
    public static byte[] Encode(Action<CodedOutputStream> write)
    {
        var buffer = new MemoryStream();
        using (var output = new CodedOutputStream(buffer, leaveOpen: true))
        {
            write(output);
        }
        return buffer.ToArray();
    }

    public static void Message(this CodedOutputStream output, int field, byte[] body)
    {
        output.WriteTag(field, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFrom(body));
    }

    public static void Text(this CodedOutputStream output, int field, string text)
    {
        output.WriteTag(field, WireFormat.WireType.LengthDelimited);
        output.WriteString(text);
    }

    /// <summary>SavedModel: saved_model_schema_version = 1, meta_graphs = 2.</summary>
    public static byte[] SavedModel(params byte[][] metaGraphs) => Encode(o =>
    {
        o.WriteTag(1, WireFormat.WireType.Varint);
        o.WriteInt64(1);
        foreach (var graph in metaGraphs)
        {
            o.Message(2, graph);
        }
    });

    /// <summary>MetaGraphDef: meta_info_def = 1 (tags = 4), signature_def = 5.</summary>
    public static byte[] MetaGraph(string[] tags, params byte[][] signatures) => Encode(o =>
    {
        o.Message(1, MetaInfo(tags));
        foreach (var signature in signatures)
        {
            o.Message(5, signature);
        }
    });

    /// <summary>MetaInfoDef with its tags (4) and a tensorflow_version (5), as TensorFlow writes it.</summary>
    public static byte[] MetaInfo(params string[] tags) => Encode(o =>
    {
        foreach (var tag in tags)
        {
            o.Text(4, tag);
        }
        o.Text(5, "2.14.0");
    });

    /// <summary>A signature_def map entry: key = 1, value = 2 (SignatureDef: inputs = 1, outputs = 2, method_name = 3).</summary>
    public static byte[] Signature(string name, string? method, byte[][] inputs, byte[][] outputs) => Encode(o =>
    {
        o.Text(1, name);
        o.Message(2, Encode(s =>
        {
            foreach (var input in inputs)
            {
                s.Message(1, input);
            }
            foreach (var output in outputs)
            {
                s.Message(2, output);
            }
            if (method is not null)
            {
                s.Text(3, method);
            }
        }));
    });

    /// <summary>A map&lt;string, TensorInfo&gt; entry: TensorInfo name = 1, dtype = 2, tensor_shape = 3 (dim = 2 of size = 1, unknown_rank = 3).</summary>
    public static byte[] Tensor(string key, string name, int dtype, long[]? shape) => Encode(o =>
    {
        o.Text(1, key);
        o.Message(2, Encode(t =>
        {
            t.Text(1, name);
            t.WriteTag(2, WireFormat.WireType.Varint);
            t.WriteEnum(dtype);
            t.Message(3, Encode(s =>
            {
                if (shape is null)
                {
                    s.WriteTag(3, WireFormat.WireType.Varint);
                    s.WriteBool(true);
                    return;
                }
                foreach (var size in shape)
                {
                    s.Message(2, Encode(d =>
                    {
                        d.WriteTag(1, WireFormat.WireType.Varint);
                        d.WriteInt64(size);
                    }));
                }
            }));
        }));
    });
}
