using System.Diagnostics;

namespace MlModel.Dsl;

/// <summary>
/// Named points in the write paths (import, export, delete, deploy, stop, repair) where a crash
/// test can kill the process, so that what a crash leaves behind is tested at each point rather
/// than at whatever instant a timer hits. Off unless the environment variable
/// <see cref="EnvironmentVariable"/> names a point (<c>deploy.config-written</c>), optionally with
/// the hit to stop at (<c>import.file-written#3</c>); the process then kills itself (SIGKILL: no
/// finally block, no flush) when it reaches that point. A host never sets it.
/// </summary>
public static class FaultPoints
{
    /// <summary>The environment variable that arms a fault point: <c>MLMODEL_FAULT_POINT=name[#hit]</c>.</summary>
    public const string EnvironmentVariable = "MLMODEL_FAULT_POINT";

    private static readonly (string Name, int Hit)? Armed = Parse(Environment.GetEnvironmentVariable(EnvironmentVariable));
    private static int _hits;

    /// <summary>Every point in the library, in the order an operation reaches them.</summary>
    public static IReadOnlyList<string> All { get; } =
    [
        Points.ImportFileWritten, Points.ImportFilesDurable, Points.ImportRowInserted,
        Points.ExportArchiveWriting, Points.ExportArchiveWritten,
        Points.DeleteMarked, Points.DeleteFilesRemoved,
        Points.DeployPublished, Points.DeployConfigWritten, Points.DeployLabelWritten,
        Points.StopConfigWritten, Points.StopUnpublished,
        Points.RepairAction,
        Points.ConfigTempWritten,
    ];

    /// <summary>Kills the process here when this point is armed (and this is the armed hit).</summary>
    public static void Reach(string name)
    {
        if (Armed is not { } armed || !string.Equals(armed.Name, name, StringComparison.Ordinal))
        {
            return;
        }
        if (Interlocked.Increment(ref _hits) == armed.Hit)
        {
            Process.GetCurrentProcess().Kill();
            // Kill returns before the signal lands: never run past the point.
            Thread.Sleep(Timeout.Infinite);
        }
    }

    private static (string, int)? Parse(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }
        var hash = value.IndexOf('#', StringComparison.Ordinal);
        return hash < 0
            ? (value.Trim(), 1)
            : (value[..hash].Trim(), int.TryParse(value[(hash + 1)..], out var n) && n > 0 ? n : 1);
    }

    /// <summary>The names of the points.</summary>
    public static class Points
    {
        /// <summary>A model file of an import is written (not yet durable); hit once per file.</summary>
        public const string ImportFileWritten = "import.file-written";
        /// <summary>The import's files are durable; its row is not inserted yet.</summary>
        public const string ImportFilesDurable = "import.files-durable";
        /// <summary>The import's row is committed; the command has not answered yet.</summary>
        public const string ImportRowInserted = "import.row-inserted";
        /// <summary>The export archive is being written: its temporary file exists.</summary>
        public const string ExportArchiveWriting = "export.archive-writing";
        /// <summary>The export archive is in place; its URL is not given yet.</summary>
        public const string ExportArchiveWritten = "export.archive-written";
        /// <summary>The version is marked DELETING; its files are all still there.</summary>
        public const string DeleteMarked = "delete.marked";
        /// <summary>The version's files are removed; its row is not.</summary>
        public const string DeleteFilesRemoved = "delete.files-removed";
        /// <summary>The version's folder is published for serving; the config does not list it yet.</summary>
        public const string DeployPublished = "deploy.published";
        /// <summary>The serving config lists the version (renamed into place); the registry does not say so yet.</summary>
        public const string DeployConfigWritten = "deploy.config-written";
        /// <summary>The config's label points at the version; the registry does not say so yet.</summary>
        public const string DeployLabelWritten = "deploy.label-written";
        /// <summary>The serving config no longer lists the version; its folder and row are as before.</summary>
        public const string StopConfigWritten = "stop.config-written";
        /// <summary>The version's serving folder is gone; the registry still says it is served.</summary>
        public const string StopUnpublished = "stop.unpublished";
        /// <summary>One repair action of <c>check repair=true</c> is done; hit once per action.</summary>
        public const string RepairAction = "repair.action";
        /// <summary>A new serving config is written to its temporary file, not yet renamed into place.</summary>
        public const string ConfigTempWritten = "serving.config-temp-written";
    }
}
