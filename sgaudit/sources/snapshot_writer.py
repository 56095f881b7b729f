"""``sgaudit snapshot``: what a live scan read, saved as evidence that ``check --snapshot`` replays.

The file holds AWS's own JSON shapes per account and region (as ``aws ec2 describe-*`` prints
them), plus what could not be read, so a replay is exactly as complete as the scan was.  The
reader is sgaudit/sources/snapshot.py.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sgaudit import __version__
from sgaudit.fileio.files import atomic_write
from sgaudit.sources.snapshot import AWS_ONLY_VERSION, FORMAT

if TYPE_CHECKING:
    from sgaudit.model import AccountSummary, Matcher
    from sgaudit.sources.aws import RegionScan
    from sgaudit.sources.gcpjson import ProjectData



def snapshot_document(scans: Sequence[RegionScan], taken_at: str,
                      select: Matcher | None = None,
                      gcp: Sequence[ProjectData] = (),
                      accounts: AccountSummary | None = None) -> dict[str, Any]:
    document = {
        FORMAT.key: FORMAT.version if gcp else AWS_ONLY_VERSION,
        "taken_at": taken_at,
        "sgaudit_version": __version__,
        # the server-side filters of the scan: a replay under a wider selection is incomplete
        "select": {"tags": dict(select.tags) if select else {},
                   "group_ids": list(select.group_ids) if select else []},
        "scans": [{
            "Account": scan.account,
            "Region": scan.region,
            "SecurityGroups": scan.security_groups,
            "Vpcs": scan.vpcs,
            "PrefixLists": [{"PrefixListId": pl_id, "Entries": entries}
                            for pl_id, entries in scan.prefix_lists.items()],
            "Errors": [{"account": e.account, "region": e.region, "operation": e.operation,
                        "code": e.code, "message": e.message} for e in scan.errors],
        } for scan in scans],
    }
    if gcp:
        document["gcp"] = [gcp_document(data) for data in gcp]
    if accounts is not None:  # an organization scan: what it covered, replayed with the rest
        # with the number of sections, so a replay notices one removed
        document["organization"] = {**accounts.as_dict(), "sections": len(scans)}
    return document


def gcp_document(data: ProjectData) -> dict[str, Any]:
    """One project as the compute API answered (null: that call was not made or failed)."""
    return {
        "Project": data.project,
        "Networks": data.networks,
        "Firewalls": data.firewalls,
        "Subnetworks": data.subnetworks,
        "EffectiveFirewalls": data.effective,
        "RegionalEffectiveFirewalls": data.regional,
        "Instances": data.instances,
        "Errors": [{"account": e.account, "region": e.region, "operation": e.operation,
                    "code": e.code, "message": e.message} for e in data.errors],
    }


def render_snapshot(scans: Sequence[RegionScan], taken_at: str, select: Matcher | None = None,
                    gcp: Sequence[ProjectData] = (), accounts: AccountSummary | None = None) -> str:
    # default=str: a timestamp in an AWS answer must not abort the evidence file
    return json.dumps(snapshot_document(scans, taken_at, select, gcp, accounts), indent=1,
                      default=str) + "\n"


def write_snapshot(path: str, scans: Sequence[RegionScan], taken_at: str,
                   select: Matcher | None = None, gcp: Sequence[ProjectData] = (),
                   accounts: AccountSummary | None = None) -> None:
    """Write atomically: an archived snapshot is either whole or absent."""
    atomic_write(path, render_snapshot(scans, taken_at, select, gcp, accounts), label="snapshot")
