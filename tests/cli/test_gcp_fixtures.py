"""The Google Cloud example of fixtures/gcp/ end to end: exactly the seeded drift, from the gcloud
files and from a live scan of the compute fake serving the same files.

The expectations are reasoned from the issue's semantics (policy: enable_public_ssh false, so
8786 and 8787 are required from 0.0.0.0/0 and 22 is permitted only from inside the network),
not copied from output:

- coiled-etl: `coiled-etl-ssh-world` opens 22 to 0.0.0.0/0 -> extra, critical (an admin port
  from the world);
- coiled-ml: `coiled-ml-jobs-world` (9000-9100 from 0.0.0.0/0) is blocked by the higher-priority
  deny `coiled-ml-jobs-deny` (900 < 1000) -> not reported; `coiled-ml-rdp-world` is disabled ->
  not reported; `coiled-ml-ssh-internal-v6` is 22 from the network's own IPv6 subnet prefix ->
  permitted; so ok;
- coiled-batch: its scheduler port 8786 is taken away by the hierarchical policy rule
  org-baseline/1000 (deny tcp:8786 from 0.0.0.0/0 for the service account its instance runs
  as) -> missing 8786 from 0.0.0.0/0, medium, the reason naming org-baseline/1000;
- coiled-ok: compliant -> ok;
- coiled-gpu: `coiled-gpu-dask-v6` opens 8786-8787 to ::/0 (IPv6 is never public by the
  options) -> extra, high; `notebook-sa-world` opens 8888 to 0.0.0.0/0 for the service account
  its instance runs as -> extra, high;
- web (`web-allow-http`) is not a coiled* tag -> not audited; the egress rule is ignored.

These pass once the gcp-engine branch (targets, effective evaluation) is merged.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from conftest import FIXTURES, Run
from gcp_fake import ComputeFake, gcp_fake  # noqa: F401 - fixture

GCP = FIXTURES / "gcp"
POLICY = GCP / "policy.yaml"
FILES = [GCP / n for n in ("firewall-rules.json", "subnets.json", "networks.json",
                           "effective-firewalls-coiled-net.json", "instances.json")]


#: (group_id, kind, severity, protocol, from_port, to_port, source, rule_ids)
EXPECTED = sorted([
    ("coiled-etl", "extra", "critical", "tcp", 22, 22, "0.0.0.0/0", ["coiled-etl-ssh-world"]),
    ("coiled-batch", "missing", "medium", "tcp", 8786, 8786, "0.0.0.0/0", []),
    ("coiled-gpu", "extra", "high", "tcp", 8786, 8787, "::/0", ["coiled-gpu-dask-v6"]),
    ("coiled-gpu", "extra", "high", "tcp", 8888, 8888, "0.0.0.0/0", ["notebook-sa-world"]),
])
STATUS = {"coiled-batch": "drift", "coiled-etl": "drift", "coiled-gpu": "drift", "coiled-ml": "ok",
          "coiled-ok": "ok"}


def _check(report: dict[str, Any]) -> None:
    assert report["complete"] is True and report["errors"] == []
    groups = {g["group_id"]: g for g in report["groups"]}
    assert {k: g["status"] for k, g in groups.items()} == STATUS
    for group in groups.values():
        assert (group["vpc_id"], group["account"], group["region"], group["cloud"]) == (
            "coiled-net", "coiled-demo", "global", "gcp")
    got = sorted((f["group_id"], f["kind"], f["severity"], f["protocol"], f["from_port"], f["to_port"],
                  f["source"], f["rule_ids"] if f["kind"] == "extra" else []) for f in report["findings"])
    assert got == EXPECTED
    [missing] = [f for f in report["findings"] if f["kind"] == "missing"]
    assert "org-baseline/1000" in missing["reason"]
    assert not any(f["rule_ids"] and f["rule_ids"][0] in ("coiled-ml-jobs-world", "coiled-ml-rdp-world")
                   for f in report["findings"])


def test_fixture_files_report_exactly_the_seeded_drift(sgaudit: Callable[..., Run]) -> None:
    args = ["check", "--policy", POLICY, "-f", "json", "--fail-on-drift"]
    for path in FILES:
        args += ["--snapshot", path]
    run = sgaudit(*args)
    assert run.code == 1, run.err
    _check(json.loads(run.out))


def test_live_scan_of_the_fake_reports_the_same(sgaudit: Callable[..., Run],
                                                gcp_fake: ComputeFake) -> None:  # noqa: F811
    gcp_fake.load_gcloud("coiled-demo", GCP)
    run = sgaudit("check", "--policy", POLICY, "--gcp-project", "coiled-demo", "-f", "json",
                  "--fail-on-drift")
    assert run.code == 1, run.err
    _check(json.loads(run.out))


def test_the_readme_example_reads_every_fixture_file(sgaudit: Callable[..., Run]) -> None:
    """Independent of the engine: the README's command runs, is complete, and exits 0 or 1."""
    args = ["check", "--policy", POLICY, "-f", "json"]
    for path in FILES:
        args += ["--snapshot", path]
    run = sgaudit(*args)
    assert run.code == 0, run.err
    report = json.loads(run.out)
    assert report["complete"] is True and report["errors"] == []
