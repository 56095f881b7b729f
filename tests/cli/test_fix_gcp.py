"""``--fix`` is for AWS only: a scan that read Google Cloud is refused with one line (exit 2)."""

from __future__ import annotations

import pytest

from sgaudit.cli.fix import FixOptions
from sgaudit.errors import UsageError
from sgaudit.model import GcpState, Snapshot


def _options(fix: bool) -> FixOptions:
    return FixOptions(fix=fix, dry_run=False, yes=False, backup=None, max_changes=50)


def test_fix_refuses_a_scan_that_read_google_cloud() -> None:
    with pytest.raises(UsageError) as caught:
        _options(True).refuse_gcp(Snapshot(groups=(), gcp=GcpState()))
    assert str(caught.value) == ("--fix changes AWS security groups only; it cannot fix Google "
                                 "Cloud firewall rules yet: run the GCP scan without --fix")
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(("fix", "gcp"), [(True, None), (False, GcpState())])
def test_fix_of_aws_only_and_a_gcp_scan_without_fix_go_on(fix: bool, gcp: GcpState | None) -> None:
    _options(fix).refuse_gcp(Snapshot(groups=(), gcp=gcp))
