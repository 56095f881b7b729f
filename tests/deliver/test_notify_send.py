"""Sending: when a notice is due, one per receiver (the same one given twice gets one), receivers
in parallel, and what the operator is told."""

from __future__ import annotations

import time

import pytest
from notify_receiver import HANG, running
from test_notify_render import finding, report_of

from sgaudit.deliver.notify import NoticePlan, due, plan, send
from sgaudit.deliver.notify_http import Limits
from sgaudit.deliver.notify_targets import parse_target
from sgaudit.errors import UsageError
from sgaudit.model import NotifyConfig, Policy
from sgaudit.policy.loader import DEFAULT_SELECT
from sgaudit.scheduled.changes import HISTORY, ResolvedChange, ScanChanges

POLICY = Policy(path=None, sha256="", account_options={}, dask_options={}, select=DEFAULT_SELECT)
NEW = ScanChanges(HISTORY, (finding(22),), ())
RESOLVED = ScanChanges(HISTORY, (), (ResolvedChange("k", "high", "active"),))
NOTHING = ScanChanges(HISTORY, (), ())


@pytest.mark.parametrize(("on", "changes", "expected"), [
    ("new", NEW, True), ("new", RESOLVED, False), ("new", NOTHING, False), ("new", None, False),
    ("changed", NEW, True), ("changed", RESOLVED, True), ("changed", NOTHING, False),
    ("always", NOTHING, True), ("always", None, True),
])
def test_when_a_notice_is_due(on: str, changes: ScanChanges | None, expected: bool) -> None:
    assert due(on, changes) is expected


def test_the_command_line_wins_and_a_receiver_given_twice_is_one(monkeypatch) -> None:
    monkeypatch.setenv("HOOK", "slack+https://hooks.slack.com/services/T/B/x")
    policy = Policy(path=None, sha256="", account_options={}, dask_options={}, select=DEFAULT_SELECT,
                    notify=NotifyConfig(urls=(("teams+https://t.example/w", "p.yaml:2: notify.urls[0]"),),
                                        on="always"))
    got = plan(["env:HOOK", "slack+https://hooks.slack.com/services/T/B/x"], None, policy,
               history=None, baseline=None)
    assert got is not None and got.on == "always"  # the policy's "on" still applies
    assert [(t.channel, t.shown) for t in got.targets] == [
        ("slack", "env:HOOK (slack+https://hooks.slack.com/…)")]
    assert "/services/" not in repr(got.targets[0])  # the URL is kept out of repr
    got = plan([], None, policy, history=None, baseline=None)
    assert got is not None and [t.shown for t in got.targets] == ["teams+https://t.example/…"]
    with pytest.raises(UsageError, match=r"^notices on 'changed' findings need --history"):
        plan([], "changed", policy, history=None, baseline=None)
    assert plan([], None, POLICY, history=None, baseline=None) is None


def test_receivers_are_served_in_parallel_and_each_outcome_is_said(monkeypatch) -> None:
    monkeypatch.setenv("SGAUDIT_WEBHOOK_SECRET", "")
    warned: list[str] = []
    told: list[str] = []
    with running(HANG) as slow, running(HANG) as slower, running() as fine:
        targets = tuple(parse_target(r.url(c), "--notify")
                        for r, c in ((slow, "teams"), (slower, "slack"), (fine, "webhook")))
        started = time.monotonic()
        results = send(NoticePlan(targets, "new"), report_of(finding(22)), NEW, what_if=False,
                       warn=warned.append, info=told.append,
                       limits=Limits(timeout=1.0, attempts=2, max_wait=1.0, deadline=5.0))
        took = time.monotonic() - started
    assert took < 2.5  # two silent receivers cost one timeout, not two
    assert [r.delivered for r in results] == [False, False, True]
    assert "X-Sgaudit-Signature" not in fine.requests[0].headers
    assert warned[0] == "SGAUDIT_WEBHOOK_SECRET is set but empty: webhook notices are sent unsigned"
    assert [w.split(" not delivered")[0] for w in warned[1:]] == [
        f"notice to teams+http://127.0.0.1:{slow.port}/…", f"notice to slack+http://127.0.0.1:{slower.port}/…"]
    assert told == [f"notice sent to webhook+http://127.0.0.1:{fine.port}/…"]


def test_nothing_due_sends_nothing() -> None:
    with running() as receiver:
        notices = NoticePlan((parse_target(receiver.url("slack"), "--notify"),), "new")
        assert send(notices, report_of(), NOTHING, what_if=False, warn=print) == []
    assert receiver.requests == []
