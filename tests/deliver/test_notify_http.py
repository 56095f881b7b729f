"""Delivery against real receivers on 127.0.0.1: retries on 5xx and 429 (Retry-After honoured
and bounded), a receiver that never answers, and answers that are final."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from notify_receiver import HANG, running

from sgaudit.deliver.notify_http import Limits, post

BODY = b'{"text":"hi"}'
QUICK = Limits(timeout=2.0, attempts=3, max_wait=5.0, deadline=20.0)


def url(receiver, path: str = "/hook") -> str:
    return f"http://127.0.0.1:{receiver.port}{path}"


def test_a_500_then_a_200_is_delivered_on_the_second_attempt_with_the_same_body() -> None:
    waits: list[float] = []
    with running((500, {}), (200, {})) as receiver:
        result = post(url(receiver), BODY, {"X-Test": "1"}, QUICK, sleep=waits.append)
    assert (result.delivered, result.attempts, result.problem) == (True, 2, "")
    assert [r.body for r in receiver.requests] == [BODY, BODY]
    assert receiver.requests[0].headers["Content-Type"] == "application/json; charset=utf-8"
    assert receiver.requests[0].headers["X-Test"] == "1"
    assert waits == [1.0]  # no Retry-After: 1 s, then 2 s, ...


def test_429_with_retry_after_in_seconds_waits_that_long() -> None:
    with running((429, {"Retry-After": "2"}), (200, {})) as receiver:
        result = post(url(receiver), BODY, {}, QUICK)
    assert (result.delivered, result.attempts) == (True, 2)
    first, second = receiver.requests
    assert 1.9 <= second.at - first.at < 4.0


def test_429_with_retry_after_as_an_http_date() -> None:
    waits: list[float] = []
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=3), usegmt=True)
    with running((429, {"Retry-After": when}), (200, {})) as receiver:
        result = post(url(receiver), BODY, {}, QUICK, sleep=waits.append)
    assert result.delivered
    assert len(waits) == 1 and 1.0 <= waits[0] <= 3.0


def test_a_retry_after_longer_than_the_cap_ends_at_once_without_sending_early() -> None:
    waits: list[float] = []
    with running((429, {"Retry-After": "3600"}), (200, {})) as receiver:
        result = post(url(receiver), BODY, {}, QUICK, sleep=waits.append)
    assert (result.delivered, result.attempts) == (False, 1)
    assert result.problem == "HTTP 429; asked to retry after 3600 s, longer than the 5 s sgaudit waits"
    assert len(receiver.requests) == 1 and waits == []


def test_always_500_gives_up_after_the_attempts() -> None:
    waits: list[float] = []
    with running((503, {})) as receiver:
        result = post(url(receiver), BODY, {}, QUICK, sleep=waits.append)
    assert (result.delivered, result.attempts, result.problem) == (False, 3, "HTTP 503")
    assert len(receiver.requests) == 3 and waits == [1.0, 2.0]


def test_a_client_error_is_final() -> None:
    with running((404, {})) as receiver:
        result = post(url(receiver), BODY, {}, QUICK, sleep=lambda _s: None)
    assert (result.delivered, result.attempts, result.problem) == (False, 1, "HTTP 404")


def test_a_redirect_is_not_followed() -> None:
    with running((302, {"Location": "http://127.0.0.1:9/elsewhere"})) as receiver:
        result = post(url(receiver), BODY, {}, QUICK, sleep=lambda _s: None)
    assert (result.delivered, result.problem) == (False, "HTTP 302")
    assert len(receiver.requests) == 1


def test_a_receiver_that_never_answers_costs_one_timeout_and_is_not_retried() -> None:
    with running(HANG) as receiver:
        started = time.monotonic()
        result = post(url(receiver), BODY, {}, Limits(timeout=1.0, attempts=3, max_wait=5.0,
                                                      deadline=20.0))
        took = time.monotonic() - started
    assert (result.delivered, result.attempts) == (False, 1)
    assert result.problem in ("no answer in time", "no answer within 1 s")
    assert took < 3.0


def test_the_deadline_bounds_all_attempts() -> None:
    waits: list[float] = []
    limits = Limits(timeout=2.0, attempts=5, max_wait=5.0, deadline=5.5)
    with running((500, {"Retry-After": "4"})) as receiver:
        result = post(url(receiver), BODY, {}, limits, sleep=waits.append)
    # after the first 500: waiting 4 s and another 2 s attempt would pass the 5.5 s deadline
    assert result.problem == "HTTP 500; no time left to retry"
    assert len(receiver.requests) == 1 and waits == []


def test_nothing_listening_is_a_connection_failure_naming_no_url() -> None:
    with running() as receiver:
        port = receiver.port
    result = post(f"http://127.0.0.1:{port}/T0/secret", BODY, {}, QUICK, sleep=lambda _s: None)
    assert not result.delivered
    assert result.problem.startswith("connection failed: ")
    assert "secret" not in result.problem and str(port) not in result.problem
