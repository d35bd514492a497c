using System.Globalization;
using System.Text;
using MlModel.Dsl.Execution.Predict;

namespace MlModel.Dsl.Tests.Execution.Predict;

/// <summary>
/// A row's JSON text: the flat arrays most rows hold are read without the JSON reader, and must
/// give exactly what the reader gives (the same numbers, the same message for what is wrong).
/// </summary>
public sealed class RowValuesTests
{
    private static (string? Why, double[] Values) Read(string text)
    {
        var values = new RowValues();
        var why = values.Read(text);
        return (why, values.Values.ToArray());
    }

    private static (string? Why, double[] Values) ReadWithTheJsonReader(string text)
    {
        var values = new RowValues();
        var why = values.ReadJson(text.AsSpan().Trim());
        return (why, values.Values.ToArray());
    }

    /// <summary>The same numbers, or the same message, as the JSON reader gives for <paramref name="text"/>.</summary>
    private static void ShouldReadAsTheJsonReader(string text)
    {
        var (why, values) = Read(text);
        var (expectedWhy, expectedValues) = ReadWithTheJsonReader(text);
        why.Should().Be(expectedWhy, text);
        values.Should().Equal(expectedValues, text);
    }

    private static readonly string[] Texts =
    [
        "[5.1, 3.5, 1.4, 0.2]", "[1]", "[-0]", "[0]", "[ 1 ,\t2\r\n, 3 ]", "  [1,2]  ", "[1e-5,2E+3,-4.25e0,6E-0]",
        "[123456789012345678901234567890]", "[0.1000000000000000055511151231257827021181583404541015625]", "[4.9e-324]", "[2e-400]",
        "[1.7976931348623157e308]", "[1e400]", "[-1e400]", "[]", "[ ]", "[1,]", "[,1]", "[1 2]", "[1,,2]", "[01]", "[-01]", "[.5]", "[5.]",
        "[+1]", "[1e]", "[1e+]", "[-]", "[1.5e3.2]", "[NaN]", "[Infinity]", "[1]x", "[1]]", "[1", "[1,", "[[1,2],[3,4]]", "[1,[2]]",
        "[1, \"2\"]", "[true]", "[null]", "[1,{}]", "[0x10]", "[1_000]", "[１]", "[1\u00a0]", "[1,2]\n", "[\"1\"]",
    ];

    [Test]
    public void Flat_arrays_are_read_as_the_JSON_reader_reads_them_and_the_rest_is_left_to_it()
    {
        foreach (var text in Texts)
        {
            ShouldReadAsTheJsonReader(text);
        }
    }

    [Test]
    public void Random_flat_arrays_and_their_mutations_read_as_the_JSON_reader_reads_them()
    {
        var random = new Random(14);
        string[] formats = ["R", "E3", "E16", "F2", "G5", "0.###############e+0"];
        for (var n = 0; n < 3000; n++)
        {
            var text = new StringBuilder("[");
            var count = random.Next(1, 12);
            for (var i = 0; i < count; i++)
            {
                if (i > 0)
                {
                    text.Append(random.Next(4) == 0 ? " , " : ",");
                }
                var d = (random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-30, 30));
                text.Append(d.ToString(formats[random.Next(formats.Length)], CultureInfo.InvariantCulture));
            }
            text.Append(']');
            if (random.Next(3) == 0)
            {
                // Some of them broken: a character replaced by one JSON gives meaning to, or by another.
                text[random.Next(text.Length)] = "[],.-+eE0 9x\"\t"[random.Next(14)];
            }
            var s = text.ToString();
            if (!s.StartsWith('['))
            {
                continue; // not JSON text: comma-separated numbers, read otherwise
            }
            ShouldReadAsTheJsonReader(s);
        }
    }

    [Test]
    public void The_short_number_path_gives_double_TryParse_s_value_bit_for_bit_and_leaves_it_the_rest()
    {
        string[] edges =
        [
            "0", "-0", "0.0", "-0.000", "5.", ".5", "-.5", "5.e3", ".e3", "-", ".", "", "e5", "1e", "1e+", "1e-", "1e22", "1e23", "1e-22", "1e-23",
            "123456789012345", "1234567890123456", "0.000000000000000000001", "100000000000000000000", "9007199254740993", "0.1", "0.3",
            "4.35", "2.675", "1.005", "-99.75", "1E+05", "1e00005", "1e0005", "00012", "+1", " 1", "1 ", "1_0", "0x10", "１", "NaN", "1e400",
            "999999999999999e22", "0.999999999999999e-7", "5.1", "3.5", "1.4", "0.2", "7.4", "0.70", "0.00", "1.9", "0.076", "11.0", "34.0", "0.9978",
        ];
        var random = new Random(140);
        var texts = edges.Concat(Enumerable.Range(0, 20_000).Select(_ => RandomShortNumber(random)));
        var fast = 0;
        foreach (var text in texts)
        {
            var parsed = double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var expected);
            var utf8 = ShortDecimal.TryParse(Encoding.UTF8.GetBytes(text), out var fromBytes);
            if (ShortDecimal.TryParse(text, out var value))
            {
                fast++;
                utf8.Should().BeTrue(text);
                BitConverter.DoubleToInt64Bits(fromBytes).Should().Be(BitConverter.DoubleToInt64Bits(value), $"'{text}' read from UTF-8");
                parsed.Should().BeTrue($"'{text}' is taken by the short path, so double.TryParse must take it too");
                BitConverter.DoubleToInt64Bits(value).Should().Be(BitConverter.DoubleToInt64Bits(expected), $"'{text}': {value:R} against {expected:R}");
            }
            else
            {
                utf8.Should().BeFalse(text);
            }
            RowValues.TryParseNumber(text, out var either).Should().Be(parsed, text);
            if (parsed)
            {
                BitConverter.DoubleToInt64Bits(either).Should().Be(BitConverter.DoubleToInt64Bits(expected), text);
            }
        }
        fast.Should().BeGreaterThan(15_000, "most short numbers take the short path");
    }

    /// <summary>A number as rows write them: a sign, up to 17 digits around a point, sometimes an exponent.</summary>
    private static string RandomShortNumber(Random random)
    {
        var text = new StringBuilder();
        if (random.Next(3) == 0)
        {
            text.Append('-');
        }
        text.Append(random.Next(4) == 0 ? "0" : random.Next(1, 10).ToString(CultureInfo.InvariantCulture) + Digits(random, random.Next(0, 9)));
        if (random.Next(4) != 0)
        {
            text.Append('.').Append(Digits(random, random.Next(1, 12)));
        }
        if (random.Next(4) == 0)
        {
            text.Append("eE"[random.Next(2)]).Append(random.Next(3) switch { 0 => "", 1 => "+", _ => "-" }).Append(random.Next(0, 30));
        }
        return text.ToString();
    }

    private static string Digits(Random random, int count) => string.Concat(Enumerable.Range(0, count).Select(_ => (char)('0' + random.Next(10))));

    [TestCase("[5.1, 3.5, 1.4, 0.2]", true)]
    [TestCase("[ -0 , 1e-5,2E+3 ]", true)]
    [TestCase("[[1,2]]", false)]
    [TestCase("[01]", false)]
    [TestCase("[1e400]", false)]
    [TestCase("[]", false)]
    public void The_fast_path_takes_flat_arrays_of_finite_JSON_numbers_only(string text, bool taken)
    {
        new RowValues().TryReadFlatJson(text).Should().Be(taken);
    }
}
