namespace PhoodWarehouse.Core;

/// <summary>What kind of failure, so that a front end can pick its own category (PowerShell's ErrorCategory).</summary>
public enum WhErrorKind
{
    InvalidArgument,
    ObjectNotFound,
    ResourceExists,
    ConnectionError,
    AuthenticationError,
    PermissionDenied,
    NotInstalled,
    OperationFailed,
    Cancelled,
}

/// <summary>
/// A failure the user can act on: a stable id (<c>TenantNotFound</c>), a kind, the object it concerns,
/// and a message that says what to do next. Messages never hold a password.
/// </summary>
public sealed class WarehouseException : Exception
{
    public WarehouseException(string errorId, WhErrorKind kind, string message, object? target = null, Exception? inner = null)
        : base(message, inner)
    {
        ErrorId = errorId;
        Kind = kind;
        Target = target;
    }

    public string ErrorId { get; }
    public WhErrorKind Kind { get; }
    public object? Target { get; }
}
