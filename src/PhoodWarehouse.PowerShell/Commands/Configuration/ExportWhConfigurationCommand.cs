using PhoodWarehouse.Core.Configuration;

namespace PhoodWarehouse.PowerShell.Commands.Configuration;

/// <summary>
/// Writes the warehouse's configuration (schema version, templates, tenants, cron jobs) to a JSON file a DBA keeps
/// under version control. No password unless -IncludePassword; then a warning says that the file holds secrets.
/// </summary>
[Cmdlet(VerbsData.Export, "WhConfiguration", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(FileInfo))]
public sealed class ExportWhConfigurationCommand : WhCmdlet
{
    /// <summary>The file to write. Its folder must exist; an existing file is replaced only with -Force.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>Replace the file when it exists.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Also write each tenant's source password (read from the user mappings). The file then holds secrets.</summary>
    [Parameter]
    public SwitchParameter IncludePassword { get; set; }

    protected override void EndProcessing()
    {
        var warehouse = Warehouse;
        var path = GetUnresolvedProviderPathFromPSPath(Path);
        // Before anything is read: a typo in a folder name, or yesterday's export, is not written over (nor made).
        var folder = System.IO.Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(folder) && !Directory.Exists(folder))
            ThrowTerminatingError(new ErrorRecord(new DirectoryNotFoundException(folder), "ConfigurationFolderMissing", ErrorCategory.ObjectNotFound, path)
            {
                ErrorDetails = new ErrorDetails($"The folder {folder} does not exist: nothing was written. Create it first (New-Item -ItemType Directory), or give another -Path."),
            });
        if (File.Exists(path) && !Force)
            ThrowTerminatingError(new ErrorRecord(new IOException($"{path} exists"), "ConfigurationFileExists", ErrorCategory.ResourceExists, path)
            {
                ErrorDetails = new ErrorDetails($"{path} exists: nothing was written. Add -Force to replace it, or give another -Path."),
            });
        try
        {
            var configuration = Run(cancel => new ConfigurationExporter(warehouse, Logger).ExportAsync(IncludePassword, cancel));
            var what = $"write {configuration.Templates.Count} template(s), {configuration.Tenants.Count} tenant(s) and {configuration.CronJobs.Count} cron job(s) of {warehouse.Target}" +
                       (IncludePassword ? ", with source passwords" : ", without passwords");
            if (!ShouldProcess(path, what)) return;
            if (IncludePassword)
                WriteWarning($"{path} holds the source passwords of {configuration.Tenants.Count(t => t.SourcePassword is not null)} tenant(s) in plain text: " +
                             "restrict its permissions, keep it out of version control, and delete it when the restore is done.");
            // Written beside the target and moved over it: a failed write never leaves half a file.
            var temporary = path + ".tmp";
            File.WriteAllText(temporary, configuration.ToJson(), new System.Text.UTF8Encoding(false));
            if (IncludePassword && !OperatingSystem.IsWindows())
                File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            File.Move(temporary, path, overwrite: true);
            WriteObject(new FileInfo(path));
        }
        catch (WarehouseException error)
        {
            ThrowWhError(error);
        }
        catch (IOException error)
        {
            ThrowTerminatingError(new ErrorRecord(error, "ConfigurationFileNotWritten", ErrorCategory.WriteError, path)
            {
                ErrorDetails = new ErrorDetails($"Could not write {path}: {error.Message}"),
            });
        }
        base.EndProcessing();
    }
}
