using System.Numerics;

namespace MlModel.Dsl.Execution.Predict;

/// <summary>
/// Clinger's fast path for the numbers rows and answers mostly hold (<c>5.1</c>, <c>-99.75</c>,
/// <c>0.0210314</c>, <c>1e-5</c>; a float32 printed in full has 9 significant digits):
/// <c>-?digits(.digits)?([eE][+-]?digits)?</c> with at most 15 significant digits and a power of
/// ten within 10^±22. The digits then make an exact integer and the power an exact double, so one
/// multiplication or division, rounded once by IEEE arithmetic, gives the correctly rounded value:
/// the one <see cref="double.TryParse(ReadOnlySpan{char}, System.Globalization.NumberStyles, IFormatProvider, out double)"/>
/// and <see cref="System.Text.Json.Utf8JsonReader.GetDouble"/> give. Anything else returns false,
/// for the caller to read the full way. Text as UTF-16 or as UTF-8 bytes.
/// </summary>
internal static class ShortDecimal
{
    /// <summary>Exact powers of ten, 10^0 to 10^22: every one is a double exactly.</summary>
    private static readonly double[] PowersOfTen =
    [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];

    /// <summary>The number <paramref name="text"/> holds, when it takes the fast path.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out double value) => TryParse<char>(text, out value);

    /// <summary>The number the UTF-8 <paramref name="text"/> holds (a JSON number token), when it takes the fast path.</summary>
    public static bool TryParse(ReadOnlySpan<byte> text, out double value) => TryParse<byte>(text, out value);

    private static bool TryParse<T>(ReadOnlySpan<T> text, out double value)
        where T : unmanaged, IBinaryInteger<T>
    {
        value = 0;
        var i = 0;
        var negative = text.Length > 0 && Code(text[0]) == '-';
        if (negative)
        {
            i++;
        }
        long digits = 0;
        var significant = 0;
        var scale = 0;
        var any = false;
        for (; i < text.Length && IsDigit(text[i]); i++)
        {
            if (!Digit(Code(text[i]), ref digits, ref significant))
            {
                return false;
            }
            any = true;
        }
        if (i < text.Length && Code(text[i]) == '.')
        {
            for (i++; i < text.Length && IsDigit(text[i]); i++)
            {
                if (!Digit(Code(text[i]), ref digits, ref significant))
                {
                    return false;
                }
                scale--;
                any = true;
            }
        }
        if (!any)
        {
            return false;
        }
        if (i < text.Length && Code(text[i]) is 'e' or 'E')
        {
            i++;
            var minus = i < text.Length && Code(text[i]) == '-';
            if (i < text.Length && Code(text[i]) is '+' or '-')
            {
                i++;
            }
            var start = i;
            var exponent = 0;
            for (; i < text.Length && IsDigit(text[i]); i++)
            {
                if (i - start == 4)
                {
                    return false;
                }
                exponent = (exponent * 10) + (Code(text[i]) - '0');
            }
            if (i == start)
            {
                return false;
            }
            scale += minus ? -exponent : exponent;
        }
        if (i != text.Length)
        {
            return false;
        }
        if (digits == 0)
        {
            value = negative ? -0.0 : 0.0;
            return true;
        }
        if (scale is < -22 or > 22)
        {
            return false;
        }
        var magnitude = scale < 0 ? digits / PowersOfTen[-scale] : digits * PowersOfTen[scale];
        value = negative ? -magnitude : magnitude;
        return true;
    }

    private static int Code<T>(T c)
        where T : unmanaged, IBinaryInteger<T> => int.CreateTruncating(c);

    private static bool IsDigit<T>(T c)
        where T : unmanaged, IBinaryInteger<T> => (uint)(Code(c) - '0') <= 9;

    /// <summary>Appends a digit; false past 15 significant ones (leading zeros do not count).</summary>
    private static bool Digit(int c, ref long digits, ref int significant)
    {
        if (digits != 0 || c != '0')
        {
            if (++significant > 15)
            {
                return false;
            }
            digits = (digits * 10) + (c - '0');
        }
        return true;
    }
}
