# The freshness picture in a DBA's pwsh (issue 29, item 11): every example Get-Help shows for Export-WhFreshnessReport
# runs as printed against a sandbox with a missing day, writes its page and returns the file; the page opens in
# Debian's headless Chromium. (The pixels of the page's colours are checked in xUnit: FreshnessReportTests.)
BeforeAll {
    . $PSScriptRoot/TestHelpers.ps1
    Import-Module $ModuleManifest -Force
    $sandbox = Start-WhSandbox -TenantCount 2 -Days 5
    $sandbox.Tenants | New-WhTenant -SourceCredential $sandbox.SourceCredential | Out-Null
    Get-WhTenant | Invoke-WhMvBackfill -Template foodlogstats -From ([datetime]::Today.AddDays(-4)) | Out-Null
    $removed = [datetime]::Today.AddDays(-2)
    Remove-WhMv -Tenant north_campus -Template foodlogstats -Date $removed -Confirm:$false
    $work = New-Item -ItemType Directory -Path (Join-Path ([System.IO.Path]::GetTempPath()) "freshness-report-$PID")
    $examples = @((Get-Help -Name Export-WhFreshnessReport -Examples).examples.example | Where-Object { $_ })
}

AfterAll {
    if ($sandbox) { Stop-WhSandbox -Sandbox $sandbox }
    if ($work) { Remove-Item -Recurse -Force $work }
}

Describe 'Get-Help Export-WhFreshnessReport -Examples, run as printed' {
    It 'has examples' {
        $examples.Count | Should -BeGreaterOrEqual 2
    }

    It 'writes the page of example <_>' -ForEach 1, 2, 3 {
        $example = $examples[$_ - 1]
        Push-Location $work
        try {
            Get-ChildItem $work -Filter *.html | Remove-Item
            $file = & ([scriptblock]::Create($example.code)) | Select-Object -Last 1
        } finally {
            Pop-Location
        }
        $file | Should -BeOfType ([System.IO.FileInfo])
        $file.Directory.FullName | Should -Be $work.FullName
        $html = Get-Content -Raw $file.FullName
        $html | Should -Match '^<!DOCTYPE html>'
        $html | Should -Not -Match '<script'
        # Example 1 and 3 show north_campus's removed day; example 2 only north_* tenants.
        $html | Should -Match ('class="s-missing" title="north_campus / foodlogstats&#10;' + $removed.ToString('yyyy-MM-dd'))
        if ($_ -eq 2) { $html | Should -Not -Match 'city_hospital' }
    }

    It 'refuses to replace the page without -Force, and a folder that does not exist' {
        $page = Join-Path $work 'again.html'
        Export-WhFreshnessReport -Path $page -Days 7 | Should -BeOfType ([System.IO.FileInfo])
        { Export-WhFreshnessReport -Path $page -Days 7 -ErrorAction Stop } | Should -Throw -ErrorId 'ReportFileExists,PhoodWarehouse.PowerShell.Commands.DailyViews.ExportWhFreshnessReportCommand'
        { Export-WhFreshnessReport -Path (Join-Path $work 'no/such/page.html') -ErrorAction Stop } | Should -Throw '*does not exist*'
        Test-Path (Join-Path $work 'no') | Should -BeFalse
    }

    It 'opens in headless Chromium' {
        $page = Join-Path $work 'shot.html'
        Get-WhMvFreshness -Days 7 | Export-WhFreshnessReport -Path $page | Out-Null
        $png = Join-Path $work 'shot.png'
        $userData = Join-Path $work 'chromium-profile'
        & /usr/bin/chromium --headless --no-sandbox --disable-gpu --hide-scrollbars "--user-data-dir=$userData" "--screenshot=$png" '--window-size=600,200' ([System.Uri]::new($page)).AbsoluteUri 2>$null | Out-Null
        $LASTEXITCODE | Should -Be 0
        (Get-Item $png).Length | Should -BeGreaterThan 1000
    }
}
