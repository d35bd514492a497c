namespace MlModel.Dsl.Binding;

/// <summary>
/// The values of one command, bound and checked one by one, read by key: what an operation's
/// <see cref="CommandFactory"/> builds its record from. Rules across parameters (import's tool and
/// format) throw through <see cref="Missing"/> and <see cref="Invalid"/>, which point where the
/// binder's own errors do.
/// </summary>
internal readonly ref struct BoundArguments
{
    private readonly OperationSpec _op;
    private readonly ReadOnlySpan<object?> _values;
    private readonly ReadOnlySpan<int> _offsets;
    private readonly int? _operationOffset;
    private readonly string? _source;

    internal BoundArguments(OperationSpec op, ReadOnlySpan<object?> values, ReadOnlySpan<int> offsets, int? operationOffset, string? source)
    {
        _op = op;
        _values = values;
        _offsets = offsets;
        _operationOffset = operationOffset;
        _source = source;
    }

    /// <summary>A text value (name, text, choice, label, JSON), or null when it was left out.</summary>
    public string? Text(string key) => (string?)Value(key, ParamKind.Name, ParamKind.Text, ParamKind.Choice, ParamKind.Label, ParamKind.Json);

    /// <summary>A required text value: the binder has checked that it is there.</summary>
    public string Required(string key) => Text(key) ?? throw new InvalidOperationException($"{_op.Title}: '{key}' is required but unbound");

    public int? Int(string key) => (int?)Value(key, ParamKind.Version);

    public bool? Flag(string key) => (bool?)Value(key, ParamKind.Flag);

    public IReadOnlyList<string>? Words(string key) => (IReadOnlyList<string>?)Value(key, ParamKind.Words);

    public IReadOnlyList<IReadOnlyList<int>>? Shapes(string key) => (IReadOnlyList<IReadOnlyList<int>>?)Value(key, ParamKind.Shapes);

    /// <summary><c>missing required parameter(s) ...</c>, at the operation word.</summary>
    public MlModelException Missing(List<string> keys, string hint) => Binder.Missing(_op, keys, _operationOffset, _source, hint);

    /// <summary>An invalid value of <paramref name="key"/>, at that value.</summary>
    public MlModelException Invalid(string key, string what, string hint)
    {
        var offset = _offsets[Index(key)];
        return Binder.Error(ErrorCodes.InvalidValue, _op, what, offset >= 0 ? offset : null, _source, hint);
    }

    private object? Value(string key, params ReadOnlySpan<ParamKind> kinds)
    {
        var index = Index(key);
        if (!kinds.Contains(_op.Specs[index].Kind))
        {
            throw new InvalidOperationException($"{_op.Title}: '{key}' is a {_op.Specs[index].Kind} parameter");
        }
        return _values[index];
    }

    // A key the table does not declare is a bug in the table, not bad input.
    private int Index(string key) => _op.IndexOf(key) is var i and >= 0
        ? i
        : throw new InvalidOperationException($"{_op.Title} declares no parameter '{key}'");
}
