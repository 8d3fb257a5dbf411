using PhoodWarehouse.HelpGenerator;

// HelpGenerator <docs/cmdlets folder> <output .dll-Help.xml>
// Problems with a page (no synopsis, fewer than two examples…) are warnings: the help test fails on them,
// the build does not, so that a missing page never blocks someone else's work.
if (args.Length != 2)
{
    Console.Error.WriteLine("usage: HelpGenerator <markdown folder> <output help xml>");
    return 2;
}
var reader = new MarkdownHelpReader();
var commands = new List<CommandHelp>();
foreach (var file in Directory.GetFiles(args[0], "*-*.md").Order(StringComparer.Ordinal))
{
    try { commands.Add(reader.Read(File.ReadAllText(file), file)); }
    catch (FormatException error) { Console.WriteLine($"{file}: warning HELP001: {error.Message}"); }
}
foreach (var problem in reader.Problems) Console.WriteLine($"warning HELP002: {problem}");
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(args[1]))!);
MamlWriter.Write(commands).Save(args[1]);
Console.WriteLine($"HelpGenerator: {commands.Count} cmdlet page(s) -> {args[1]}");
return 0;
