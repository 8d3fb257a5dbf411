namespace PhoodWarehouse.HelpGenerator;

/// <summary>One cmdlet's help, as read from its Markdown page.</summary>
public sealed record CommandHelp
{
    public required string Name { get; init; }
    public string Synopsis { get; init; } = "";
    public IReadOnlyList<string> Description { get; init; } = [];
    /// <summary>One line per parameter set, as written under ## Syntax (empty: one set of every parameter).</summary>
    public IReadOnlyList<string> Syntax { get; init; } = [];
    public IReadOnlyList<ParameterHelp> Parameters { get; init; } = [];
    public IReadOnlyList<ExampleHelp> Examples { get; init; } = [];
    public IReadOnlyList<TypeHelp> Inputs { get; init; } = [];
    public IReadOnlyList<TypeHelp> Outputs { get; init; } = [];
    public IReadOnlyList<string> Notes { get; init; } = [];
    public IReadOnlyList<string> Related { get; init; } = [];

    public string Verb => Name.Split('-', 2)[0];
    public string Noun => Name.Contains('-') ? Name.Split('-', 2)[1] : "";
}

public sealed record ParameterHelp
{
    public required string Name { get; init; }
    public IReadOnlyList<string> Description { get; init; } = [];
    public string Type { get; init; } = "String";
    public bool Required { get; init; }
    /// <summary>"0", "1", … or "named".</summary>
    public string Position { get; init; } = "named";
    /// <summary>"False", or e.g. "True (ByValue, ByPropertyName)".</summary>
    public string PipelineInput { get; init; } = "False";
    public string DefaultValue { get; init; } = "None";
    public string Aliases { get; init; } = "none";
    public bool Wildcards { get; init; }

    public bool IsSwitch => Type.Equals("SwitchParameter", StringComparison.OrdinalIgnoreCase) || Type.Equals("switch", StringComparison.OrdinalIgnoreCase);
}

public sealed record ExampleHelp(string Title, string Code, IReadOnlyList<string> Remarks);

public sealed record TypeHelp(string Type, string Description);
