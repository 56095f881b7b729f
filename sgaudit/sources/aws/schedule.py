"""Scheduling of one scan: accounts assumed, then their regions read, in a pool fair to each account."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sgaudit.model import Matcher, ScanError
from sgaudit.sources.aws.regions import RegionScan
from sgaudit.sources.aws.sessions import AwsTarget

if TYPE_CHECKING:
    from botocore.client import BaseClient

    from sgaudit.sources.aws.source import AwsSource

#: what a region's job does next with what it read: (its client, account, region, the
#: consumed part); the rule reads of ``rule_ids.EarlyRuleIds``
ThenHook = Callable[["BaseClient", str, str, Any], None]


@dataclass(slots=True)
class Account:
    target: AwsTarget
    account: str
    regions: tuple[str, ...] = ()
    error: ScanError | None = None


def errors_of(part: Any) -> Iterable[ScanError]:
    return part.errors


class ScanRun:
    """One scan's scheduling: accounts are assumed, then their regions read, in a pool of
    ``max_workers`` threads; no account has more than ``per_account`` jobs at once, and an
    account's regions go before new accounts are started (so finished accounts free their
    credentials and clients early).  ``then``, if given, runs in a region's job after its part
    is consumed, within the same deadlines (the region counts as done when it returns)."""

    def __init__(self, source: AwsSource, select: Matcher, consume: Callable[[RegionScan], Any],
                 targets: Sequence[AwsTarget], then: ThenHook | None = None) -> None:
        self.source = source
        self.select = select
        self.consume = consume
        self.then = then
        self.targets = list(targets)
        self.home = {t: source._home_region(t) for t in dict.fromkeys(targets)}
        self.results: list[list[Any]] = [[] for _ in self.targets]
        self.waiting: deque[int] = deque(range(len(self.targets)))  # accounts not started
        self.ready: dict[int, deque[tuple[int, str]]] = {}  # account -> regions to read
        self.busy: dict[int, int] = {}
        self.left: dict[int, int] = {}
        self.counts = {"done": 0, "total": 0, "groups": 0, "accounts": 0, "errors": 0}
        self.account: dict[int, Account] = {}

    def run(self) -> list[Any]:
        inflight: dict[Future[Any], tuple[int, int | None]] = {}
        with ThreadPoolExecutor(max_workers=self.source.max_workers,
                                thread_name_prefix="sgaudit-aws") as pool:
            while True:
                while len(inflight) < self.source.max_workers:
                    job = self._next(pool)
                    if job is None:
                        break
                    inflight[job[0]] = job[1]
                if not inflight:
                    break
                done, _ = wait(inflight, return_when=FIRST_COMPLETED)
                for future in done:
                    self._finished(*inflight.pop(future), future.result())
        return [part for parts in self.results for part in parts]

    def _next(self, pool: ThreadPoolExecutor) -> tuple[Future[Any], tuple[int, int | None]] | None:
        for index, queue in self.ready.items():
            if queue and self.busy.get(index, 0) < self.source.per_account:
                slot, region = queue.popleft()
                self.busy[index] = self.busy.get(index, 0) + 1
                return pool.submit(self._region, index, region), (index, slot)
        if self.waiting:
            index = self.waiting.popleft()
            self.busy[index] = 1
            target = self.targets[index]
            return pool.submit(self.source._account, target, self.home[target]), (index, None)
        return None

    def _region(self, index: int, region: str) -> tuple[Any, int, int]:
        account = self.account[index]
        scan, client = self.source._region(account, region, self.select)
        groups, errors = len(scan.security_groups), len(scan.errors)
        part = self.consume(scan)
        if self.then is not None and client is not None:
            self.then(client, account.account, region, part)
        return part, groups, errors

    def _finished(self, index: int, slot: int | None, result: Any) -> None:
        self.busy[index] -= 1
        if slot is None:
            self._assumed(index, result)
            return
        part, groups, errors = result
        self.results[index][slot] = part
        self.counts["done"] += 1
        self.counts["groups"] += groups
        self.counts["errors"] += errors
        self.left[index] -= 1
        if self.left[index] == 0:
            self._account_done(index)
        self._report()

    def _assumed(self, index: int, account: Account) -> None:
        if account.error is not None:
            error = account.error
            self.results[index] = [self.consume(RegionScan(account.account, error.region,
                                                           errors=[error]))]
            self.counts["errors"] += 1
            self._account_done(index)
            self._report()
            return
        self.account[index] = account
        self.results[index] = [None] * len(account.regions)
        self.left[index] = len(account.regions)
        self.counts["total"] += len(account.regions)
        self.ready[index] = deque(enumerate(account.regions))
        if not account.regions:
            self._account_done(index)

    def _account_done(self, index: int) -> None:
        self.counts["accounts"] += 1
        self.ready.pop(index, None)
        # the account is read: its clients go (organization scans do not cache them); its
        # credentials (a few hundred bytes) stay for reading the rule ids of drifted groups
        self.account.pop(index, None)

    def _report(self) -> None:
        if self.source.progress is None:
            return
        c = self.counts
        if self.source.org is None:
            self.source.progress(c["done"], c["total"], c["groups"])
        else:
            self.source.progress(c["done"], c["total"], c["groups"], accounts_done=c["accounts"],
                                 accounts_total=len(self.targets), errors=c["errors"])


