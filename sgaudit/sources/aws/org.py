"""Organization discovery: the accounts ListAccounts gives, narrowed and turned into role targets."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import (
    NoCredentialsError,
)

from sgaudit.errors import CredentialsError, UsageError
from sgaudit.model import AccountSummary, ScanError

if TYPE_CHECKING:
    from botocore.client import BaseClient
from sgaudit.sources.aws.clients import ClientHook
from sgaudit.sources.aws.failures import AWS_FAILURES, MalformedAnswer, answer_items, error_of, one_line
from sgaudit.sources.aws.sessions import _EXTERNAL_ID_RE, CREDENTIALS_HELP, AwsTarget, Sessions

_ROLE_NAME_RE = re.compile(r"^(?!arn:)[A-Za-z0-9+=,.@_/-]{1,576}$")
_ACCOUNT_ID_RE = re.compile(r"^[0-9]{12}$")
#: what the report calls a failure of the organization's own API
ORGANIZATION = "organization"


@dataclass(frozen=True, slots=True)
class OrgScope:
    """``--org-role NAME``: every ACTIVE account that ``organizations:ListAccounts`` returns to
    the caller (``profile`` or the standard chain), narrowed by ``accounts`` (only these, when
    given) and ``exclude``; each read through ``arn:PARTITION:iam::ID:role/ROLE``."""

    role: str
    external_id: str | None = None
    accounts: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    profile: str | None = None


def org_scope(role: str, external_id: str | None, accounts: Sequence[str], exclude: Sequence[str],
              profiles: Sequence[str], role_arns: Sequence[str]) -> OrgScope:
    """Validate the organization options (one line, exit 2 on a bad value)."""
    if role_arns:
        raise UsageError("--org-role and --role-arn do not combine: --org-role assumes the named "
                         "role in every account of the organization")
    if len(profiles) > 1:
        raise UsageError("with --org-role, give at most one --profile (the credentials that list "
                         "the organization's accounts and assume the roles)")
    if not _ROLE_NAME_RE.match(role):
        raise UsageError(f"--org-role {role!r}: expected a role name such as sgaudit-read "
                         "(the name, not an ARN)")
    if external_id is not None and not _EXTERNAL_ID_RE.match(external_id):
        raise UsageError(f"--external-id {external_id!r}: expected 2-1224 characters of letters, "
                         "digits and +=,.@:/-_ (as sts:AssumeRole requires)")
    if accounts and set(accounts) <= set(exclude):
        raise UsageError(f"every account asked for ({', '.join(dict.fromkeys(accounts))}: --accounts "
                         "or the policy's accounts) is also excluded (--exclude-accounts or "
                         "exclude_accounts): nothing would be read")
    return OrgScope(role.strip("/"), external_id, tuple(dict.fromkeys(accounts)),
                    tuple(dict.fromkeys(exclude)), profiles[0] if profiles else None)


def parse_account_list(text: str | None, option: str) -> tuple[str, ...]:
    """``--accounts`` / ``--exclude-accounts``: comma-separated 12-digit account ids."""
    if text is None:
        return ()
    ids = tuple(dict.fromkeys(a.strip() for a in text.split(",") if a.strip()))
    bad = next((a for a in ids if not _ACCOUNT_ID_RE.match(a)), None)
    if bad is not None or not ids:
        raise UsageError(f"{option} {text!r}: expected 12-digit AWS account ids separated by commas"
                         + (f" (bad: {bad!r})" if bad is not None else ""))
    return ids


@dataclass(slots=True)
class Org:
    """What discovery found: the accounts to read and what the summary needs."""

    targets: list[AwsTarget] = field(default_factory=list)
    discovered: int = 0
    excluded: int = 0
    #: accounts asked for (--accounts) that ListAccounts did not return: failed, not discovered
    not_listed: int = 0
    errors: list[ScanError] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)


def discover(sessions: Sessions, scope: OrgScope, home: str, hook: ClientHook | None = None) -> Org:
    """List the organization's accounts (paginated) and decide which to read.

    Fails closed: a failure of the listing itself is one error for the whole organization (the
    scan is incomplete: never "0 accounts, no drift"); an account in scope that is not ACTIVE,
    or that was asked for but not listed, is an error of that account."""
    base = AwsTarget(scope.profile)
    org = Org()
    operation = "GetCallerIdentity"
    try:
        identity = sessions.client("sts", base, home, hook).get_caller_identity()
        arn = identity.get("Arn")
        if not isinstance(arn, str) or arn.count(":") < 5:
            raise MalformedAnswer("GetCallerIdentity answered without an Arn: not an AWS answer")
        partition = arn.split(":")[1]
        operation = "ListAccounts"
        listed = _list_accounts(sessions.client("organizations", base, home, hook))
    except NoCredentialsError:
        raise CredentialsError(CREDENTIALS_HELP) from None
    except AWS_FAILURES as exc:
        org.errors.append(error_of(exc, ORGANIZATION, home, operation))
        return org
    problem = _listing_problem(listed)
    if problem:
        org.errors.append(ScanError(ORGANIZATION, home, "ListAccounts", *problem))
        return org
    _choose(org, scope, listed, partition, home)
    if not org.targets and not org.errors:
        raise UsageError(f"every account of the organization ({org.discovered} listed) is excluded "
                         "(--accounts, --exclude-accounts or the policy's keys): nothing would be read")
    return org


def _list_accounts(client: BaseClient) -> list[Any]:
    """Every page of ListAccounts.  botocore reads an answer item that is not an object with
    ``.get`` and fails with AttributeError/TypeError: that is a malformed answer (an error of
    the organization, exit 3), not a bug of sgaudit."""
    listed: list[Any] = []
    try:
        for page in client.get_paginator("list_accounts").paginate():
            listed.extend(answer_items(page, "Accounts"))
    except (AttributeError, TypeError) as exc:
        raise MalformedAnswer(f"ListAccounts answered in a shape that is not an organization's "
                              f"(botocore: {type(exc).__name__}: {exc})") from None
    return listed


def _listing_problem(listed: Sequence[Any]) -> tuple[str, str] | None:
    """Why a ListAccounts answer is not an organization's, and the error code (None: it is)."""
    if not listed:  # an organization always lists its management account
        return ("ListAccounts returned no account at all (an organization lists at least its "
                "management account): not an organization's answer", "NoAccounts")
    bad = next((i for i, raw in enumerate(listed) if not isinstance(raw, Mapping)), None)
    if bad is not None:
        return (f"ListAccounts gave Accounts[{bad}] = {one_line(repr(listed[bad]), 60)}, not an "
                "account object: not an organization's answer", MalformedAnswer.__name__)
    return None


def _choose(org: Org, scope: OrgScope, listed: Sequence[Mapping[str, Any]], partition: str,
            home: str) -> None:
    wanted, excluded = set(scope.accounts), set(scope.exclude)
    seen: set[str] = set()
    for raw in listed:
        account, status = str(raw.get("Id", "")), str(raw.get("Status", ""))
        if account in seen:
            continue
        seen.add(account)
        org.discovered += 1
        org.names[account] = str(raw.get("Name", ""))
        if account in excluded or (wanted and account not in wanted):
            org.excluded += 1
        elif not _ACCOUNT_ID_RE.match(account):
            org.errors.append(ScanError(account or "?", home, "ListAccounts",
                                        f"ListAccounts gave an account id {account!r} that is not "
                                        "12 digits; not read", "MalformedResponse"))
        elif status != "ACTIVE":
            org.errors.append(ScanError(account, home, "ListAccounts",
                                        f"the account is {status or 'of unknown status'}, not "
                                        "ACTIVE: not read (exclude it to accept that)",
                                        "AccountNotActive"))
        else:
            org.targets.append(AwsTarget(scope.profile, f"arn:{partition}:iam::{account}:role/"
                                                        f"{scope.role}", scope.external_id))
    for account in sorted(wanted - seen - excluded):
        org.not_listed += 1
        org.errors.append(ScanError(account, home, "ListAccounts",
                                    "not among the accounts ListAccounts returned: not read",
                                    "AccountNotListed"))


def summarize(org: Org, errors: Iterable[ScanError]) -> AccountSummary:
    """Accounts discovered, read, failed and excluded (failed: any error of the account)."""
    in_scope = {t.role_account or t.label for t in org.targets}
    failed = sorted({e.account for e in errors if e.account != ORGANIZATION}
                    | {e.account for e in org.errors if e.account != ORGANIZATION})
    return AccountSummary(discovered=org.discovered, read=len(in_scope - set(failed)),
                          failed=len(failed), excluded=org.excluded, failed_ids=tuple(failed),
                          names=tuple(sorted(org.names.items())), not_listed=org.not_listed)


# -- the source --------------------------------------------------------------------------


