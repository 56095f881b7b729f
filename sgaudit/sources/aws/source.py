"""The orchestration of a scan: targets or an organization, every account's regions, one snapshot."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from botocore.exceptions import (
    NoCredentialsError,
)

from sgaudit.errors import CredentialsError, UsageError
from sgaudit.model import AccountSummary, GroupResult, Matcher, ScanError, Snapshot

if TYPE_CHECKING:
    from botocore.client import BaseClient

from sgaudit.sources.aws.clients import SCAN_TIMEOUT, ClientHook
from sgaudit.sources.aws.failures import AWS_FAILURES, answer_items, error_of
from sgaudit.sources.aws.org import Org, OrgScope, discover, summarize
from sgaudit.sources.aws.regions import RegionScan, merge_snapshots, scan_region, to_snapshot
from sgaudit.sources.aws.rule_ids import EarlyRuleIds, WantedIds, read_rule_ids
from sgaudit.sources.aws.schedule import Account, ScanRun, ThenHook, errors_of
from sgaudit.sources.aws.sessions import CREDENTIALS_HELP, AwsTarget, Sessions

#: progress callback: (finished region scans, all region scans known so far, groups read);
#: organization scans add accounts_done=, accounts_total= and errors=
ProgressHook = Callable[..., None]
#: threads across accounts x regions (--max-workers); see bench/bench_org.py and docs/aws.md
MAX_WORKERS = 16
#: no account sees more than this many calls at once (its API rate limits are its own)
PER_ACCOUNT = 4


class AwsSource:
    """Scans every target account (or every account of an organization) in every requested
    region.

    ``regions``: None (each account's configured region), "all" (each account's enabled
    regions, from DescribeRegions), or explicit names.  ``client_hook`` sees every client made
    (tests and the benchmark count API calls with botocore's event hooks).  ``timeout`` bounds
    the scan: what is not read by then is an error of its account/region; ``spent`` seconds of
    it went to another cloud's scan before this one (the bound is the whole command's).
    ``rule_ids_for``: which groups of each account/region ``read`` will want rule ids of;
    they are read as soon as that region is read (see ``rule_ids``)."""

    def __init__(self, targets: Sequence[AwsTarget] = (AwsTarget(),),
                 regions: Sequence[str] | str | None = None, endpoint_url: str | None = None,
                 *, max_workers: int = MAX_WORKERS, client_hook: ClientHook | None = None,
                 progress: ProgressHook | None = None, sessions: Sessions | None = None,
                 org: OrgScope | None = None, timeout: float = SCAN_TIMEOUT,
                 per_account: int = PER_ACCOUNT, spent: float = 0.0,
                 rule_ids_for: WantedIds | None = None) -> None:
        self.targets = tuple(targets) or (AwsTarget(),)
        self.regions = regions
        if sessions is not None and sessions.endpoint_url != endpoint_url:
            raise ValueError("endpoint_url differs from the given sessions' endpoint_url")
        self.sessions = sessions if sessions is not None else Sessions(endpoint_url)
        self.max_workers = max(1, max_workers)
        self.client_hook = client_hook
        self.progress = progress
        self.org = org
        self.timeout = timeout
        self.spent = spent
        self.per_account = max(1, per_account)
        #: the organization's account summary, after a scan with ``org``
        self.accounts: AccountSummary | None = None
        self.rule_ids_for = rule_ids_for
        #: the rule ids ``read`` read as it went (with ``rule_ids_for``)
        self.early: EarlyRuleIds | None = None
        #: account id -> target, for reading rule ids after the audit
        self._by_account: dict[str, AwsTarget] = {}
        self._org: Org | None = None

    def read(self, select: Matcher) -> Snapshot:
        """Read and normalise as it goes: each account/region's raw answers are dropped once
        parsed, so memory holds the groups, not the AWS JSON.  With ``rule_ids_for``, each
        region's job then reads the rule ids of the groups it names."""
        self.early = EarlyRuleIds(self.rule_ids_for) if self.rule_ids_for is not None else None
        parts = self._run(select, lambda scan: to_snapshot([scan], select),
                          self.early.read if self.early is not None else None)
        snapshot = merge_snapshots(parts, self.accounts)
        if self.org is not None:  # one line for the report header, not one per account/region
            places = len(snapshot.read)
            snapshot = replace(snapshot, scanned=(
                f"aws organization, role {self.org.role}: {places} account/region(s)",))
        return snapshot

    def scan(self, select: Matcher) -> list[RegionScan]:
        """The raw shapes per account and region, in target order then region order."""
        return self._run(select, lambda scan: scan)

    def _run(self, select: Matcher, consume: Callable[[RegionScan], Any],
             then: ThenHook | None = None) -> list[Any]:
        self.sessions.scan_deadline = time.monotonic() + self.timeout - self.spent
        self.sessions.scan_timeout = self.timeout
        try:
            targets, before = self._targets()
            out = ScanRun(self, select, consume, targets, then).run()
        finally:
            self.sessions.scan_deadline = None
        parts = [consume(RegionScan(e.account, e.region, errors=[e])) for e in before] + out
        if self._org is not None:
            self.accounts = summarize(self._org, (e for p in out for e in errors_of(p)))
        return parts

    def _targets(self) -> tuple[list[AwsTarget], list[ScanError]]:
        """The accounts to read, and errors found before reading any (organization scans)."""
        if self.org is None:
            for target in self.targets:
                self.sessions.require_credentials(target)
            return list(self.targets), []
        base = AwsTarget(self.org.profile)
        self.sessions.require_credentials(base)
        self._org = discover(self.sessions, self.org, self._home_region(base), self.client_hook)
        return self._org.targets, self._org.errors

    def _home_region(self, target: AwsTarget) -> str:
        """Where account-level calls (STS, DescribeRegions) go."""
        if isinstance(self.regions, tuple | list) and self.regions:
            return self.regions[0]
        region = self.sessions.default_region(target.profile)
        if region:
            return region
        if self.regions == "all":
            return "us-east-1"
        raise UsageError("no AWS region configured: pass --regions REGION[,REGION...] (or 'all'), "
                         "or set AWS_REGION")

    def _account(self, target: AwsTarget, home: str) -> Account:
        """Who the target is and which regions to scan; a failure is recorded, not raised."""
        account = Account(target, target.role_account or target.label)
        operation = "AssumeRole" if target.role_arn else "GetCallerIdentity"
        try:
            if target.role_arn:
                self.sessions.assume(target, home, self.client_hook)
            else:
                account.account = self.sessions.account(target, home, self.client_hook)
            if self.regions == "all":
                operation = "DescribeRegions"
                ec2 = self._client(target, home)
                answer = ec2.describe_regions(AllRegions=False)
                # regions not opted in are not the account's: skipped, not errors
                account.regions = tuple(sorted(
                    r["RegionName"] for r in answer_items(answer, "Regions")
                    if r.get("OptInStatus", "opt-in-not-required") in ("opt-in-not-required", "opted-in")))
            elif self.regions:
                account.regions = tuple(self.regions)
            else:
                account.regions = (home,)
        except NoCredentialsError:
            raise CredentialsError(CREDENTIALS_HELP) from None
        except AWS_FAILURES as exc:
            account.error = error_of(exc, account.account, home, operation)
        return account

    def _client(self, target: AwsTarget, region: str) -> BaseClient:
        """Organization scans do not keep clients: an account's are dropped when it is done."""
        return self.sessions.client("ec2", target, region, self.client_hook, cache=self.org is None)

    def _region(self, account: Account, region: str,
                select: Matcher) -> tuple[RegionScan, BaseClient | None]:
        """One account/region read, and the client that read it (None if none could be made)."""
        try:
            ec2 = self._client(account.target, region)
        except AWS_FAILURES as exc:
            return RegionScan(account.account, region,
                              errors=[error_of(exc, account.account, region, "AssumeRole")]), None
        return scan_region(ec2, account.account, region, select), ec2

    def with_rule_ids(self, results: Sequence[GroupResult]) -> tuple[tuple[GroupResult, ...], list[str]]:
        """The results with the rule ids of their extra findings (see ``rule_ids``): those read
        during the scan, and the rest read now."""
        return read_rule_ids(self, results, self.early)

    def client_for(self, account: str, region: str) -> BaseClient:
        """The scan's EC2 client of a scanned account and region."""
        return self._client(self._target_of(account), region)

    def client_of(self, service: str, account: str, region: str) -> BaseClient:
        """A client for ``service`` with the identity that scanned ``account`` (its profile, or
        the role assumed in it): for what a command does in the scanned accounts afterwards
        (Security Hub).  ValueError when no credentials of the scan reach the account."""
        return self.sessions.client(service, self._target_of(account), region, cache=self.org is None)

    def _target_of(self, account: str) -> AwsTarget:
        if not self._by_account:
            for target in (self._org.targets if self._org is not None else self.targets):
                key = target.role_account or self.sessions.account(target, self._home_region(target))
                self._by_account[key] = target
        try:
            return self._by_account[account]
        except KeyError:
            raise ValueError(f"no credentials of account {account} in this scan") from None


