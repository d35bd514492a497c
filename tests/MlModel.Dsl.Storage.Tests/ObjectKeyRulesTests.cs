using MlModel.Dsl.Backends;

namespace MlModel.Dsl.Storage.Tests;

/// <summary>
/// The key rules are public (this project sees only the core's public API, as the S3 package
/// and a host's own store do): one set of rules for every store.
/// </summary>
public sealed class ObjectKeyRulesTests
{
    [TestCase("models/u/m/1/saved_model.pb")]
    [TestCase("모델/변수.index")]
    public void Valid_keys_pass(string key) => ObjectKeyRules.ValidateKey(key);

    [TestCase("", "invalid object key '': a key must not be empty")]
    [TestCase("a/../b", "invalid object key 'a/../b': it contains a '..' segment")]
    [TestCase("a//b", "invalid object key 'a//b': it contains an empty segment ('//')")]
    [TestCase("/etc/passwd", "invalid object key '/etc/passwd': it is an absolute path (keys are relative)")]
    [TestCase("a\\b", "invalid object key 'a\\b': it contains a backslash (keys are '/'-separated)")]
    [TestCase("a/", "invalid object key 'a/': it ends with '/' (an empty segment)")]
    public void Invalid_keys_are_refused_naming_the_key(string key, string message)
    {
        var act = () => ObjectKeyRules.ValidateKey(key);
        var error = act.Should().Throw<MlModelException>().Which.Error;
        error.Code.Should().Be(ErrorCodes.InvalidValue);
        error.Message.Should().Be(message);
    }

    [Test]
    public void A_key_longer_than_S3_allows_is_refused()
    {
        ObjectKeyRules.ValidateKey(new string('k', ObjectKeyRules.MaxKeyBytes));
        var act = () => ObjectKeyRules.ValidateKey(new string('é', ObjectKeyRules.MaxKeyBytes / 2 + 1));
        act.Should().Throw<MlModelException>().Which.Message.Should().EndWith($"it is longer than {ObjectKeyRules.MaxKeyBytes} bytes of UTF-8");
    }

    [Test]
    public void Prefixes_may_be_empty_or_end_with_a_slash()
    {
        ObjectKeyRules.ValidatePrefix(null);
        ObjectKeyRules.ValidatePrefix("");
        ObjectKeyRules.ValidatePrefix("models/u/");
        var act = () => ObjectKeyRules.ValidatePrefix("/");
        act.Should().Throw<MlModelException>().Which.Message.Should().Be("invalid object key '/': it is an absolute path (keys are relative)");
    }

    [Test]
    public void Control_characters_are_escaped_in_messages()
    {
        ObjectKeyRules.Printable("a\nb\u0000").Should().Be("a\\u000ab\\u0000");
        ObjectKeyRules.Invalid("x\ty", "a reason").Message.Should().Be("invalid object key 'x\\u0009y': a reason");
    }
}
