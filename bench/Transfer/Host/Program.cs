// One step per line on stdin, "<home>\t<durable|nosync>\t<mlmodel command>", answered on stdout
// with the seconds the command took in this process (or "error <message>"). Each home gets the
// embedded default's layout (SQLite in <home>/mlmodel.db, the local store in <home>/store, the
// connector `local` on <home>/objects); its engine is built and its schema opened before the
// clock starts, as a host's engine would be long before a user's command arrives.
using System.Diagnostics;
using System.Globalization;
using MlModel.Dsl;
using MlModel.Dsl.Backends;
using MlModel.Dsl.Backends.Local;
using MlModel.Dsl.Data;

var root = new MlModelCaller("root");
string? line;
while ((line = Console.ReadLine()) is not null)
{
    var parts = line.Split('\t', 3);
    if (parts.Length != 3)
    {
        Console.WriteLine("error expected <home>\\t<durable|nosync>\\t<command>");
        continue;
    }
    var home = Path.GetFullPath(parts[0]);
    await using var repository = new SqliteModelRepository(Path.Combine(home, "mlmodel.db"));
    var options = new MlModelOptions
    {
        Repository = repository,
        ModelStore = new LocalObjectStore(Path.Combine(home, "store")) { Durable = parts[1] != "nosync" },
    };
    options.Connectors.Add(new ConnectorInfo("local", "local", new Dictionary<string, string> { ["root"] = Path.Combine(home, "objects") }));
    options.Administrators.Add("root");
    var engine = new MlModelEngine(options);
    try
    {
        await engine.InitializeAsync();
        var clock = Stopwatch.StartNew();
        using (await engine.ExecuteAsync(parts[2], root))
        {
        }
        Console.WriteLine(clock.Elapsed.TotalSeconds.ToString("F3", CultureInfo.InvariantCulture));
    }
    catch (MlModelException e)
    {
        Console.WriteLine("error " + e.Message);
    }
}
