using MlModel.Dsl;

var text = args.Length > 1 && args[0] == "-c" ? args[1] : Console.In.ReadToEnd();
try
{
    var cmd = MlModelParser.ParseAny(text);
    Console.WriteLine(cmd.ToJson());
    Console.WriteLine(cmd.ToString());
    return 0;
}
catch (MlModelException e)
{
    Console.Error.WriteLine($"[{e.Code}] {e.Message}");
    return 1;
}
