namespace PhoodWarehouse.Core.Configuration;

/// <summary>A tenant's source login: from -SourceCredential, -CredentialMap or the file.</summary>
public sealed record SourceLogin(string User, string Password);
