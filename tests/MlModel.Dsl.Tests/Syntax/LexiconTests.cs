using System.Text;
using FsCheck;
using FsCheck.Fluent;
using MlModel.Dsl.Binding;
using MlModel.Dsl.Syntax;
using Pidgin;
using FsCheckProperty = FsCheck.NUnit.PropertyAttribute;

namespace MlModel.Dsl.Tests.Syntax;

/// <summary>Text near the lexical rules: delimiters, brackets, base64(, white space of every kind.</summary>
public sealed record LexicalText(string Text)
{
    public override string ToString() => System.Text.Json.JsonSerializer.Serialize(Text);
}

/// <summary>Generators for <see cref="LexiconTests"/>.</summary>
public static class LexicalGenerators
{
    private static readonly Gen<string> Piece = Gen.Frequency(
        (8, Gen.Elements("a", "Z", "7", "_", "-", ".", "/", ":", "{", "}", "\\", ";", "*", "+", "b", "B")),
        (6, Gen.Elements("'", "\"", "=", "|", "(", ")", ",", "[", "]", " ", "\t", "\r", "\n", "\r\n")),
        (3, Gen.Elements("base64(", "BASE64(", "[(", "[ (", "(12,)", "[(1,2)]", "''", "mlmodel", "serving", "YQ==")),
        (2, Gen.Elements("모델", "🚀", "\u00A0", "\u2028", "\uFEFF", "\u0001", "\0", "\u212A", "é")),
        (1, Gen.Choose(0, 0xFFFF).Select(c => ((char)c).ToString())));

    /// <summary>Strings of 0 to about 30 pieces.</summary>
    public static Arbitrary<LexicalText> Texts() =>
        Gen.Sized(size => Gen.Choose(0, Math.Min(size, 30)).SelectMany(n => Gen.ListOf(Piece, n)))
            .Select(parts => new LexicalText(string.Concat(parts)))
            .ToArbitrary();
}

/// <summary>
/// The lexical rules have one home (<see cref="MlModelLexicon"/>): what the renderer writes as a
/// bare word is exactly what the grammar reads as one, every value it writes reads back as its
/// text, and shell words become command text that means what they said.
/// </summary>
public class LexiconTests
{
    private static readonly Parser<char, ValueSyntax> WholeValue = MlModelGrammar.WholeValue;

    // The text a value stands for, as the binder would decode it.
    private static string Meaning(ValueSyntax value) =>
        value.Form == ValueForm.Base64 ? Encoding.UTF8.GetString(Convert.FromBase64String(value.Text)) : value.Text;

    // A value without its offsets: form, text and items.
    private static string Written(ValueSyntax value) => $"{value.Form}:{value.Text}[{string.Join("|", value.Items.Select(Written))}]";

    // Text with a lone surrogate is not Unicode: base64 of its UTF-8 cannot hold it, and the
    // binder refuses it in any form.
    private static bool IsUnicode(string text) =>
        System.Text.Unicode.Utf8.FromUtf16(text, new byte[text.Length * 3], out _, out _, replaceInvalidSequences: false) == System.Buffers.OperationStatus.Done;

    [FsCheckProperty(Arbitrary = new[] { typeof(LexicalGenerators) }, MaxTest = 3000, QuietOnSuccess = true)]
    public void A_text_is_written_bare_exactly_when_the_grammar_reads_it_as_one_bare_word(LexicalText t)
    {
        var read = WholeValue.Parse(t.Text);
        var readAsBareWord = read.Success && read.Value.Form == ValueForm.Bare && read.Value.Text == t.Text;

        MlModelLexicon.IsBareWord(t.Text).Should().Be(readAsBareWord);
        var rendered = new StringBuilder();
        CommandRenderer.AppendValue(rendered, t.Text);
        (rendered.ToString() == t.Text).Should().Be(readAsBareWord, "the renderer wrote {0}", rendered);
    }

    [FsCheckProperty(Arbitrary = new[] { typeof(LexicalGenerators) }, MaxTest = 3000, QuietOnSuccess = true)]
    public void Every_value_the_renderer_writes_reads_back_as_its_text(LexicalText t)
    {
        if (!IsUnicode(t.Text))
        {
            return;
        }
        var written = MlModelLexicon.FormatValue(t.Text);
        var read = WholeValue.Parse(written);

        read.Success.Should().BeTrue("{0} is a value", written);
        read.Value.Form.Should().BeOneOf(ValueForm.Bare, ValueForm.Quoted, ValueForm.Base64);
        Meaning(read.Value).Should().Be(t.Text);

        // And in a command, with white space or a '|' after it.
        Meaning(MlModelParser.ParseSyntax($"mlmodel list analysis_tool={written}\n\tname=m").Parameters[0].Value!).Should().Be(t.Text);
        Meaning(MlModelParser.ParseQuerySyntax($"* | serving predict x={written}| head").Syntax.Parameters[0].Value!).Should().Be(t.Text);
    }

    [Test]
    public void Every_character_is_a_bare_character_exactly_when_the_grammar_reads_it_as_a_bare_word()
    {
        for (var c = char.MinValue; ; c++)
        {
            var read = WholeValue.Parse(c.ToString());
            var bare = read.Success && read.Value.Form == ValueForm.Bare;
            if (MlModelLexicon.IsBareChar(c) != bare)
            {
                Assert.Fail($"U+{(int)c:X4}: IsBareChar says {MlModelLexicon.IsBareChar(c)}, the grammar {bare}");
            }
            MlModelLexicon.IsWhiteSpace(c).Should().Be(c is ' ' or '\t' or '\r' or '\n');
            if (c == char.MaxValue)
            {
                break;
            }
        }
    }

    [TestCase("mnist_v1", "mnist_v1")]
    [TestCase("[draft]", "[draft]")]
    [TestCase("base64", "base64")]
    [TestCase("CNN wineQ model", "'CNN wineQ model'")]
    [TestCase("a=b", "'a=b'")]
    [TestCase("(12,)", "'(12,)'")]
    [TestCase("", "''")]
    [TestCase("it's", "base64(aXQncw==)")]
    [TestCase("two\nlines", "base64(dHdvCmxpbmVz)")]
    public void FormatValue_writes_a_bare_word_a_quoted_string_or_base64(string text, string written)
    {
        MlModelLexicon.FormatValue(text).Should().Be(written);
    }

    [Test]
    public void FromArguments_quotes_what_the_shell_unquoted()
    {
        MlModelLexicon.FromArguments(["deploy", "name=mnist", "label=CNN wineQ model"])
            .Should().Be("deploy name=mnist label='CNN wineQ model'");
        MlModelLexicon.FromArguments(["mlmodel", "import", "name=m", "description=it's | mine"])
            .Should().Be("mlmodel import name=m description=base64(aXQncyB8IG1pbmU=)");
    }

    [Test]
    public void FromArguments_keeps_values_already_written_in_the_language()
    {
        MlModelLexicon.FromArguments(["serving", "predict", "name=m", "shape=[(12,)]", "tag=('setosa', 'versicolor')", "label='stable'", "description=base64(YQ==)"])
            .Should().Be("serving predict name=m shape=[(12,)] tag=('setosa', 'versicolor') label='stable' description=base64(YQ==)");
    }

    [Test]
    public void FromArguments_keeps_words_without_a_value_as_they_are()
    {
        MlModelLexicon.FromArguments(["summary", "mnist_v1", "=", "user", "name="]).Should().Be("summary mnist_v1 = user name=''");
        MlModelLexicon.FromArguments([]).Should().BeEmpty();
        var act = () => MlModelLexicon.FromArguments(["list", null!]);
        act.Should().Throw<ArgumentNullException>();
    }

    [FsCheckProperty(Arbitrary = new[] { typeof(LexicalGenerators) }, MaxTest = 2000, QuietOnSuccess = true)]
    public void FromArguments_round_trips_every_value(LexicalText t)
    {
        if (!IsUnicode(t.Text))
        {
            return;
        }
        var text = MlModelLexicon.FromArguments(["import", "name=m", "description=" + t.Text, "path=p.tar"]);
        var tree = MlModelParser.ParseSyntax("mlmodel " + text);

        tree.Parameters.Select(p => p.Key).Should().Equal("name", "description", "path");
        var value = tree.Parameters[1].Value!;
        var asWritten = WholeValue.Parse(t.Text);
        if (asWritten.Success)
        {
            // A value already in the language's syntax is kept as it is: 'stable', base64(...), (0,1).
            Written(value).Should().Be(Written(asWritten.Value));
        }
        else
        {
            Meaning(value).Should().Be(t.Text);
        }
    }

    [TestCase("'a|b' x", 0, 5)]
    [TestCase("'open", 0, 5)]
    [TestCase("'line\nnext'", 0, 5)]
    [TestCase("base64(a|b) x", 0, 11)]
    [TestCase("BASE64(open", 0, 11)]
    [TestCase("(a, 'b)c', d) x", 0, 13)]
    [TestCase("(a | b", 0, 6)]
    [TestCase("[(1,2), ('x]', 3)] y", 0, 18)]
    [TestCase("[ (1)] y", 0, 6)]
    [TestCase("[abc] y", 0, 5)]
    [TestCase("[abc|d", 0, 4)]
    [TestCase("word|x", 0, 4)]
    [TestCase("x=y", 2, 3)]
    public void ValueEnd_says_where_each_form_ends(string text, int start, int end)
    {
        MlModelLexicon.ValueEnd(text, start).Should().Be(end);
    }

    [TestCase("a | b | c", new[] { "a ", " b ", " c" })]
    [TestCase("* | serving predict tag=('a|b', c) | where x", new[] { "* ", " serving predict tag=('a|b', c) ", " where x" })]
    [TestCase("* | serving predict tag=(a | b) | head", new[] { "* ", " serving predict tag=(a | b) ", " head" })]
    [TestCase("* | serving predict shape = [ (1|2) ] | head", new[] { "* ", " serving predict shape = [ (1|2) ] ", " head" })]
    [TestCase("* | serving predict tag=(a | where x=1", new[] { "* ", " serving predict tag=(a | where x=1" })]
    [TestCase("* | mlmodel list name=[draft | head", new[] { "* ", " mlmodel list name=[draft ", " head" })]
    [TestCase("search (a|b) | mlmodel list", new[] { "search (a", "b) ", " mlmodel list" })]
    [TestCase("x description=base64(a|b) | y", new[] { "x description=base64(a|b) ", " y" })]
    public void The_query_splitter_does_not_split_inside_values(string query, string[] stages)
    {
        QuerySplitter.Split(query).Select(s => query[s.Start..s.End]).Should().Equal(stages);
    }
}
