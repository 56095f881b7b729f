"""Regenerate docs/report.png, the README's picture: the bundled fixtures' HTML report, rendered
by sgaudit and photographed by headless Chromium (Debian's /usr/bin/chromium), so the picture is
the real report and not a drawing. Run from anywhere: `python scripts/screenshot.py`."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "report.png"
CHROMIUM = "/usr/bin/chromium"
WINDOW = "1280,960"
# Flags that keep a headless run offline and free of profile state: the page is a local file.
QUIET = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--disable-background-networking", "--no-first-run", "--disable-component-update",
         "--disable-sync", "--disable-default-apps", "--disable-extensions"]


def render(report: Path) -> None:
    """The README's demo command, writing the HTML report (exit 0: the report was written)."""
    sgaudit = Path(sys.executable).parent / "sgaudit"
    subprocess.run([str(sgaudit), "check", "--policy", "fixtures/policy.yaml",
                    "--snapshot", "fixtures/security-groups.json", "--snapshot", "fixtures/vpcs.json",
                    "-o", str(report)], cwd=ROOT, check=True, timeout=120)


def photograph(report: Path, profile: Path) -> None:
    """One PNG of the report's first screen, from a fresh Chromium profile."""
    subprocess.run([CHROMIUM, *QUIET, f"--user-data-dir={profile}", f"--window-size={WINDOW}",
                    f"--screenshot={OUT}", report.as_uri()],
                   check=True, timeout=120, capture_output=True)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.html"
        render(report)
        photograph(report, Path(tmp) / "profile")
    print(f"{OUT.relative_to(ROOT)}: {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main()
