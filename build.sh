#!/usr/bin/env bash
# From bash, with no pwsh installed: restores the pinned pwsh (.config/dotnet-tools.json), then runs ./build.ps1 <Task>.
#   ./build.sh Demo    the quickstart against a throwaway sandbox
#   ./build.sh Test    every test: xUnit, then Pester; the last line is the totals
# Needs only the .NET 10 SDK; build.ps1 installs the Debian packages the task needs (and says which and why).
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v dotnet >/dev/null 2>&1; then
  echo "build.sh: the .NET 10 SDK is missing (dotnet is not on PATH): https://learn.microsoft.com/dotnet/core/install/linux-debian" >&2
  exit 1
fi
dotnet tool restore >/dev/null || { echo "build.sh: 'dotnet tool restore' failed: pwsh 7.6.9 (.config/dotnet-tools.json) could not be restored" >&2; exit 1; }
exec dotnet pwsh -NoLogo -NoProfile -NonInteractive -File ./build.ps1 "$@"
