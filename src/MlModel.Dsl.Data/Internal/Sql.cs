using MlModel.Dsl.Backends;

namespace MlModel.Dsl.Data.Internal;

/// <summary>
/// Every statement the repository runs after the schema exists. They are compile-time
/// constants (the list variants are picked from constants by a bit mask), so no value can
/// reach SQL text: user input travels only as <c>@Parameters</c>. The same text runs on SQLite
/// and PostgreSQL; where the databases differ the dialect says so, never this class.
/// </summary>
internal static class Sql
{
    // Aliases match the row classes' property names (Dapper matches them case-insensitively,
    // and PostgreSQL folds unquoted aliases to lower case).
    private const string ModelColumns =
        "id AS Id, user_name AS UserName, name AS Name, version AS Version, description AS Description, " +
        "analysis_tool AS AnalysisTool, kind AS Kind, algorithm AS Algorithm, feature AS Feature, label AS Label, " +
        "filename AS Filename, format AS Format, parameter AS Parameter, evaluation AS Evaluation, " +
        "cross_validation AS CrossValidation, grid_info AS GridInfo, train_cnt AS TrainCnt, elapsed AS Elapsed, " +
        "dictionary AS Dictionary, serving AS Serving, serving_name AS ServingName, serving_label AS ServingLabel, " +
        "state AS State, data_model_name AS DataModelName, query AS Query, storage_key AS StorageKey, " +
        "size_bytes AS SizeBytes, signature AS Signature, created AS Created, modified AS Modified";

    private const string SelectModels = "SELECT " + ModelColumns + " FROM mlmodel_models";

    // The 17 fields `mlmodel list` shows, in ModelListEntry's order (SqliteListReader reads them
    // by ordinal): reading 17 columns instead of 30 is most of what makes a long list fast.
    private const string ListEntryColumns =
        "id AS Id, user_name AS UserName, name AS Name, version AS Version, description AS Description, " +
        "analysis_tool AS AnalysisTool, kind AS Kind, algorithm AS Algorithm, feature AS Feature, label AS Label, " +
        "serving AS Serving, serving_name AS ServingName, state AS State, data_model_name AS DataModelName, " +
        "query AS Query, created AS Created, modified AS Modified";

    private const string SelectListEntries = "SELECT " + ListEntryColumns + " FROM mlmodel_models";

    private const string ModelKey = " WHERE user_name = @User AND name = @Name";

    public const string GetVersion = SelectModels + ModelKey + " AND version = @Version";

    // A version being deleted is hidden: its files may be partly gone. @Deleting is always
    // ModelStates.Deleting, bound like any value (no literal reaches a statement).
    private const string NotDeleting = "(state IS NULL OR state <> @Deleting)";

    // The unique (user_name, name, version) index answers this with a backward scan that stops
    // at the first version not being deleted, on both databases.
    public const string GetLatest = SelectModels + ModelKey + " AND " + NotDeleting + " ORDER BY version DESC LIMIT 1";

    public const string GetVersions = SelectModels + ModelKey + " ORDER BY version";

    public const string InsertModel =
        "INSERT INTO mlmodel_models (user_name, name, version, description, analysis_tool, kind, algorithm, " +
        "feature, label, filename, format, parameter, evaluation, cross_validation, grid_info, train_cnt, " +
        "elapsed, dictionary, serving, serving_name, serving_label, state, data_model_name, query, " +
        "storage_key, size_bytes, signature, created, modified) VALUES (@User, @Name, @Version, @Description, " +
        "@AnalysisTool, @Kind, @Algorithm, @Feature, @Label, @Filename, @Format, @Parameter, @Evaluation, " +
        "@CrossValidation, @GridInfo, @TrainCnt, @Elapsed, @Dictionary, @Serving, @ServingName, " +
        "@ServingLabel, @State, @DataModelName, @Query, @StorageKey, @SizeBytes, @Signature, @Created, @Modified) " +
        "RETURNING id";

    public const string InsertFile =
        "INSERT INTO mlmodel_model_files (model_id, ordinal, path, size, sha256) " +
        "VALUES (@ModelId, @Ordinal, @Path, @Size, @Sha256)";

    public const string GetFiles =
        "SELECT path AS Path, size AS Size, sha256 AS Sha256 FROM mlmodel_model_files " +
        "WHERE model_id = @ModelId ORDER BY ordinal";

    public const string UpdateModel =
        "UPDATE mlmodel_models SET description = @Description, analysis_tool = @AnalysisTool, kind = @Kind, " +
        "algorithm = @Algorithm, feature = @Feature, label = @Label, filename = @Filename, format = @Format, " +
        "parameter = @Parameter, evaluation = @Evaluation, cross_validation = @CrossValidation, " +
        "grid_info = @GridInfo, train_cnt = @TrainCnt, elapsed = @Elapsed, dictionary = @Dictionary, " +
        "serving = @Serving, serving_name = @ServingName, serving_label = @ServingLabel, state = @State, " +
        "data_model_name = @DataModelName, query = @Query, storage_key = @StorageKey, " +
        "size_bytes = @SizeBytes, signature = @Signature, modified = @Modified" + ModelKey + " AND version = @Version " +
        "RETURNING " + ModelColumns;

    // Files go with the row through ON DELETE CASCADE.
    public const string DeleteModel = "DELETE FROM mlmodel_models" + ModelKey + " AND version = @Version";

    // One statement on both databases: the first allocation inserts 1, later ones bump the
    // counter under the row's write lock and return the new value. Rows are never deleted, so a
    // number is never handed out twice (spec B.4).
    public const string AllocateVersion =
        "INSERT INTO mlmodel_version_counters (user_name, name, last_version) VALUES (@User, @Name, 1) " +
        "ON CONFLICT (user_name, name) DO UPDATE " +
        "SET last_version = mlmodel_version_counters.last_version + 1 RETURNING last_version";

    // Gives a number back only while it is the last one handed out and no row carries it: a
    // failed import does not use up a version, and a deleted version's number stays spent.
    public const string ReleaseVersion =
        "UPDATE mlmodel_version_counters SET last_version = last_version - 1" + ModelKey + " AND last_version = @Version " +
        "AND NOT EXISTS (SELECT 1 FROM mlmodel_models" + ModelKey + " AND version = @Version)";

    public const string InsertAudit =
        "INSERT INTO mlmodel_audit (time, actor, operation, user_name, name, version, parameters, outcome, message) " +
        "VALUES (@Time, @Actor, @Operation, @User, @Name, @Version, @Parameters, @Outcome, @Message)";

    private const string SelectAudit =
        "SELECT id AS Id, time AS Time, actor AS Actor, operation AS Operation, user_name AS UserName, " +
        "name AS Name, version AS Version, parameters AS Parameters, outcome AS Outcome, message AS Message " +
        "FROM mlmodel_audit" + ModelKey;

    // id breaks ties between entries written within the same microsecond.
    public const string History = SelectAudit + " ORDER BY time DESC, id DESC";

    public const string HistoryOfVersion = SelectAudit + " AND version = @Version ORDER BY time DESC, id DESC";

    private const string SelectConnectors =
        "SELECT id AS Id, type AS Type, settings AS Settings, owner_name AS Owner, shared AS Shared FROM mlmodel_connectors";

    public const string GetConnector = SelectConnectors + " WHERE id = @Id";

    public const string ListConnectors = SelectConnectors + " ORDER BY id";

    private const string UpsertConnector =
        "INSERT INTO mlmodel_connectors (id, type, settings, owner_name, shared) VALUES (@Id, @Type, @Settings, @Owner, @Shared) " +
        "ON CONFLICT (id) DO UPDATE SET type = excluded.type, settings = excluded.settings, owner_name = excluded.owner_name, shared = excluded.shared";

    public const string SaveConnector = UpsertConnector;

    // The upsert's WHERE leaves another owner's row (or an unowned one: NULL = x is not true)
    // as it was, and the statement then reports no row changed.
    public const string SaveOwnConnector = UpsertConnector + " WHERE mlmodel_connectors.owner_name = excluded.owner_name";

    public const string DeleteConnector = "DELETE FROM mlmodel_connectors WHERE id = @Id";

    public const string DeleteOwnConnector = "DELETE FROM mlmodel_connectors WHERE id = @Id AND owner_name = @Owner";

    public const string UpdateConnectorSettings = "UPDATE mlmodel_connectors SET settings = @Settings WHERE id = @Id";

    public const string SchemaVersion = "SELECT COALESCE(MAX(version), 0) FROM mlmodel_schema";

    // A counter row stays when its versions are deleted (numbers are never reused) and when a
    // failed import gives its number back (last_version goes down to 0): it marks a repository
    // that has been used. Rows without a counter come only from seeding (InsertManyAsync).
    public const string HasBeenUsed =
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM mlmodel_version_counters) OR EXISTS (SELECT 1 FROM mlmodel_models) THEN 1 ELSE 0 END";

    public const string RecordMigration = "INSERT INTO mlmodel_schema (version, applied) VALUES (@Version, @Applied)";

    private const string ListOrder = " ORDER BY user_name, name, version";

    // Index = bit mask of the filter fields present: 1 user, 2 name, 4 analysis_tool, 8 serving,
    // 16 versions being deleted excluded (every list but the consistency check's).
    internal static readonly IReadOnlyList<string> ListVariants = BuildListVariants(SelectModels);

    internal static readonly IReadOnlyList<string> ListEntryVariants = BuildListVariants(SelectListEntries);

    /// <summary>The list statement (every field) for the fields <paramref name="filter"/> sets.</summary>
    public static string List(ModelFilter filter) => ListVariants[FilterMask(filter)];

    /// <summary>The list statement (the list table's 17 fields) for the fields <paramref name="filter"/> sets.</summary>
    public static string ListEntries(ModelFilter filter) => ListEntryVariants[FilterMask(filter)];

    private static int FilterMask(ModelFilter filter) =>
        (filter.User is null ? 0 : 1)
        | (filter.Name is null ? 0 : 2)
        | (filter.AnalysisTool is null ? 0 : 4)
        | (filter.Serving is null ? 0 : 8)
        | (filter.IncludeDeleting ? 0 : 16);

    private static string[] BuildListVariants(string select)
    {
        string[] conditions = ["user_name = @User", "name = @Name", "analysis_tool = @AnalysisTool", "serving = @Serving", NotDeleting];
        var variants = new string[1 << conditions.Length];
        for (var mask = 0; mask < variants.Length; mask++)
        {
            var where = conditions.Where((_, bit) => (mask & (1 << bit)) != 0).ToArray();
            variants[mask] = select + (where.Length == 0 ? "" : " WHERE " + string.Join(" AND ", where)) + ListOrder;
        }
        return variants;
    }
}
