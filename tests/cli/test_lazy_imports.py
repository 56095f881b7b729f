"""A JSON report of AWS snapshot files loads only what it uses: no cloud SDK, no templates, no
fix plan, no history database, no Google Cloud engine (each costs start-up time on every run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
NOT_NEEDED = ("boto3", "botocore", "jinja2", "sqlite3", "sgaudit.remediate",
              "sgaudit.scheduled.history", "sgaudit.scheduled.baseline",
              "sgaudit.engine.gcp_effective", "sgaudit.engine.gcp_findings")


def test_a_json_check_of_aws_snapshots_loads_none_of_what_it_does_not_use(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    code = ("import sys\nfrom sgaudit.cli import main\n"
            "try:\n    main(['check', '-q', '--format', 'json', '-o', sys.argv[3], "
            "'--snapshot', sys.argv[1], '--snapshot', sys.argv[2]])\n"
            "except SystemExit:\n    pass\n"
            f"print(sorted(m for m in sys.modules if m.startswith({NOT_NEEDED!r})))")
    done = subprocess.run([sys.executable, "-c", code, str(FIXTURES / "security-groups.json"),
                           str(FIXTURES / "vpcs.json"), str(out)],
                          capture_output=True, text=True, check=True)
    assert out.read_text().startswith("{")
    assert done.stdout.splitlines()[-1] == "[]"
