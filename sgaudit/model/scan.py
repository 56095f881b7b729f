"""What a source read as a whole: the snapshot, what could not be read, and the accounts an
organization-wide scan covered."""

from __future__ import annotations

from dataclasses import dataclass, field

from sgaudit.model.gcp import GcpState
from sgaudit.model.groups import Group, Vpc


@dataclass(frozen=True, slots=True)
class ScanError:
    """Something that could not be read; any one of these makes the scan incomplete."""

    account: str
    region: str
    operation: str
    message: str
    code: str = ""


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """What an organization-wide scan (``--org-role``) covered: so a report can never read as
    complete for accounts it did not look at."""

    #: accounts ListAccounts returned (every status)
    discovered: int
    #: accounts in scope and read without an error
    read: int
    #: accounts in scope with at least one error (unassumable, suspended, not listed, a region
    #: unreadable); their ids in ``failed_ids``
    failed: int
    #: accounts left out by --accounts / --exclude-accounts (or the policy's keys)
    excluded: int
    failed_ids: tuple[str, ...] = ()
    #: account id -> name, as ListAccounts gave them (for readers of the report)
    names: tuple[tuple[str, str], ...] = ()
    #: accounts asked for (--accounts) that ListAccounts did not return (counted in ``failed``
    #: too): discovered + not_listed = read + failed + excluded
    not_listed: int = 0

    def as_dict(self) -> dict[str, object]:
        """As the JSON report (key ``accounts``) and an org snapshot (``organization``) hold it."""
        return {"discovered": self.discovered, "read": self.read, "failed": self.failed,
                "excluded": self.excluded, "not_listed": self.not_listed,
                "failed_accounts": list(self.failed_ids), "names": dict(self.names)}

    def adds_up(self) -> bool:
        """Every account discovered or asked for is read, failed or excluded, once."""
        return (self.discovered + self.not_listed == self.read + self.failed + self.excluded
                and len(self.failed_ids) == self.failed)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a source read: groups, the VPCs and prefix lists they need, and what failed."""

    groups: tuple[Group, ...]
    #: (region, vpc-id) -> Vpc
    vpcs: dict[tuple[str, str], Vpc] = field(default_factory=dict)
    #: (region, pl-id) -> canonical CIDRs; absent when the entries could not be read
    prefix_lists: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    errors: tuple[ScanError, ...] = ()
    #: the files or accounts/regions that were read, for the report header
    scanned: tuple[str, ...] = ()
    #: (account, region) of every AWS place the source read, groups or not: a region read
    #: whole with no selected group left is evidence that its old findings are gone (Google
    #: Cloud's are networks: ``GcpState.read``)
    read: tuple[tuple[str, str], ...] = ()
    #: what a Google Cloud source read (firewall rules, policies, subnets, instances), if any
    gcp: GcpState | None = None
    #: the accounts an organization-wide scan covered (None: not an org scan)
    accounts: AccountSummary | None = None
