using System.Text;

namespace PhoodWarehouse.Core.Reports;

/// <summary>
/// Writes a report to a file the way a DBA expects of a command run unattended: never over an existing file unless
/// asked (<c>-Force</c>), never into a folder that does not exist (a typo must not create a tree), and never half a file
/// (written beside the target, then moved over it).
/// </summary>
public static class ReportFile
{
    /// <summary>The refusals, checked before any work (so <c>-WhatIf</c> can predict them): a missing folder, an existing
    /// file without <paramref name="overwrite"/>, a folder where the file should be.</summary>
    public static void EnsureWritable(string path, bool overwrite)
    {
        var folder = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(folder) && !Directory.Exists(folder))
            throw new WarehouseException("ReportFolderNotFound", WhErrorKind.ObjectNotFound,
                $"The folder {folder} does not exist. Create it first (New-Item -ItemType Directory), or choose another -Path.", path);
        if (Directory.Exists(path))
            throw new WarehouseException("ReportPathIsFolder", WhErrorKind.InvalidArgument,
                $"{path} is a folder. Give -Path a file name, for example {Path.Combine(path, "freshness.html")}.", path);
        if (File.Exists(path) && !overwrite)
            throw Exists(path);
    }

    /// <summary>Writes <paramref name="content"/> (UTF-8, no BOM) after <see cref="EnsureWritable"/>.</summary>
    public static FileInfo Write(string path, string content, bool overwrite)
    {
        EnsureWritable(path, overwrite);
        var temporary = Path.Combine(Path.GetDirectoryName(path) ?? "", $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        try
        {
            File.WriteAllText(temporary, content, new UTF8Encoding(false));
            File.Move(temporary, path, overwrite);
        }
        catch (IOException) when (!overwrite && File.Exists(path))
        {
            // Created by someone else between the check and the move.
            throw Exists(path);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            throw new WarehouseException("ReportFileNotWritten", WhErrorKind.OperationFailed,
                $"Could not write {path}: {error.Message} Check the folder's permissions and free space.", path, error);
        }
        finally
        {
            File.Delete(temporary);
        }
        return new FileInfo(path);
    }

    private static WarehouseException Exists(string path) =>
        new("ReportFileExists", WhErrorKind.ResourceExists, $"{path} exists. Add -Force to replace it, or choose another -Path.", path);
}
