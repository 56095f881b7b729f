"""``--fix`` repairs AWS security groups of one account at a time: a Google Cloud scan or a whole
organization is refused with one line (exit 2), before anything is read."""

from __future__ import annotations

import pytest

from sgaudit.cli.fix import FixOptions
from sgaudit.errors import UsageError


def _options(fix: bool) -> FixOptions:
    return FixOptions(fix=fix, dry_run=False, yes=False, backup=None, max_changes=50)


@pytest.mark.parametrize(("gcp_given", "org_role", "message"), [
    (True, None, "--fix repairs AWS security groups only; it cannot be used with --gcp-project"),
    (False, "sgaudit-read", "--fix does not combine with --org-role: fix an account with --role-arn"),
])
def test_fix_refuses_google_cloud_and_whole_organizations(gcp_given: bool, org_role: str | None,
                                                           message: str) -> None:
    with pytest.raises(UsageError) as caught:
        _options(True).refuse_clouds(gcp_given, org_role)
    assert str(caught.value) == message
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(("fix", "gcp_given", "org_role"), [
    (True, False, None), (False, True, None), (False, False, "sgaudit-read")])
def test_fix_of_one_aws_account_and_scans_without_fix_go_on(fix: bool, gcp_given: bool,
                                                             org_role: str | None) -> None:
    _options(fix).refuse_clouds(gcp_given, org_role)
