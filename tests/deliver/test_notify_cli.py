"""``check --notify`` end to end, as a new user would run it: three nights with a SQLite history
and a receiver on 127.0.0.1, the refusals (exit 2, before anything is read), the policy's
``notify:`` key, and notices that cannot be delivered (exit code and history unchanged)."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from notify_receiver import HANG, running

from sgaudit.deliver import notify_http

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
R = "111122223333|us-east-1"
DB_RULE = f"extra|{R}|sg-0a11ce0000000006|tcp|5432|5432|sg-0badbeef00000099"
DEMO_KEYS = [  # worst first, then by key
    f"extra|{R}|sg-0a11ce0000000002|tcp|22|22|0.0.0.0/0",
    f"extra|{R}|sg-0a11ce0000000003|-1|-1|-1|0.0.0.0/0",
    f"extra|{R}|sg-0a11ce0000000005|tcp|8787|8787|::/0",
    f"extra|{R}|sg-0a11ce0000000005|tcp|8786|8787|10.0.0.0/8",
    DB_RULE,
    f"missing|{R}|sg-0a11ce0000000002|tcp|8787|8787|0.0.0.0/0",
]


def snapshot(tmp_path: Path, *, drop_5432: bool = False) -> Path:
    data: dict[str, Any] = json.loads((FIXTURES / "security-groups.json").read_text())
    if drop_5432:
        for g in data["SecurityGroups"]:
            g["IpPermissions"] = [p for p in g["IpPermissions"] if p.get("FromPort") != 5432]
    path = tmp_path / f"sg-{int(drop_5432)}.json"
    path.write_text(json.dumps(data))
    return path


def check(sgaudit, snap: Path, *args: object) -> Any:
    return sgaudit("check", "--policy", FIXTURES / "policy.yaml", "--snapshot", snap,
                   "--snapshot", FIXTURES / "vpcs.json", "--region", "us-east-1", "-o",
                   snap.parent / "report.json", *args)


@pytest.fixture
def quick(monkeypatch) -> None:
    """Delivery limits a test can wait for."""
    monkeypatch.setattr(notify_http, "TIMEOUT_S", 1.0)
    monkeypatch.setattr(notify_http, "ATTEMPTS", 2)
    monkeypatch.setattr(notify_http, "MAX_WAIT_S", 2.0)
    monkeypatch.setattr(notify_http, "DEADLINE_S", 10.0)


def test_three_nights_new_then_nothing_then_resolved(sgaudit, tmp_path: Path, monkeypatch,
                                                     history_target: str) -> None:
    """The README's nightly loop, with the history in SQLite and in PostgreSQL alike."""
    db = history_target
    with running() as receiver:
        hook = receiver.url("slack")
        nights = [snapshot(tmp_path), snapshot(tmp_path), snapshot(tmp_path, drop_5432=True)]
        codes, sent = [], []
        for day, (snap, on) in enumerate(zip(nights, ("new", "new", "changed"), strict=True), 1):
            monkeypatch.setenv("SGAUDIT_NOW", f"2026-03-0{day}T02:00:00Z")
            run = check(sgaudit, snap, "--history", db, "--record-what-if", "--notify", hook,
                        "--notify-on", on, "--fail-on-drift")
            codes.append(run.code)
            sent.append([line for line in run.err_lines if "notice" in line])
            assert "s3cr3t" not in run.err
        requests = list(receiver.requests)
    assert codes == [1, 1, 1]
    shown = f"slack+http://127.0.0.1:{receiver.port}/…"
    assert sent == [[f"sgaudit: notice sent to {shown}"], [], [f"sgaudit: notice sent to {shown}"]]
    assert [r.path for r in requests] == ["/hook/T0/B0/s3cr3t"] * 2
    night1, night3 = (r.json for r in requests)
    assert night1["text"].splitlines()[0] == ("sgaudit: 6 new finding(s) (2 critical, 1 high, "
                                              "3 medium), 0 resolved; 6 active in all")
    listed = [b["text"]["text"] for b in night1["blocks"] if b["type"] == "section"]
    assert listed[0] == "New (6):"
    assert [t.splitlines()[0] for t in listed[1:]] == [
        "critical extra: tcp 22 from 0.0.0.0/0 on sg-0a11ce0000000002 (coiled-dask-prod-2), "
        "111122223333 us-east-1",
        "critical extra: all traffic from 0.0.0.0/0 on sg-0a11ce0000000003 (coiled-dask-scratch), "
        "111122223333 us-east-1",
        "high extra: tcp 8787 from ::/0 on sg-0a11ce0000000005 (coiled-dask-analytics), "
        "111122223333 us-east-1",
        "medium extra: tcp 8786-8787 from 10.0.0.0/8 on sg-0a11ce0000000005 (coiled-dask-analytics), "
        "111122223333 us-east-1",
        "medium extra: tcp 5432 from sg-0badbeef00000099 on sg-0a11ce0000000006 "
        "(coiled-dask-reporting), 111122223333 us-east-1",
        "medium missing: tcp 8787 from 0.0.0.0/0 on sg-0a11ce0000000002 (coiled-dask-prod-2), "
        "111122223333 us-east-1",
    ]
    assert night3["text"] == (
        "sgaudit: 0 new finding(s), 1 resolved; 5 active in all\n"
        "resolved: medium extra: tcp 5432 from sg-0badbeef00000099 on sg-0a11ce0000000006, "
        "111122223333 us-east-1")
    run = sgaudit("history", "--history", db, "--format", "json")
    doc = json.loads(run.out)
    assert [(s["scanned_at"], len(s["opened"]), len(s["resolved"])) for s in doc["scans"]] == [
        ("2026-03-01T02:00:00Z", 6, 0), ("2026-03-02T02:00:00Z", 0, 0), ("2026-03-03T02:00:00Z", 0, 1)]


def test_a_signed_webhook_from_an_environment_variable(sgaudit, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SGAUDIT_NOW", "2026-03-01T02:00:00Z")
    monkeypatch.setenv("SGAUDIT_WEBHOOK_SECRET", "k3y")
    with running((200, {})) as receiver:
        monkeypatch.setenv("HOOK", receiver.url("webhook"))
        run = check(sgaudit, snapshot(tmp_path), "--baseline", _baseline(tmp_path), "--notify",
                    "env:HOOK")
    assert run.code == 0
    assert f"sgaudit: notice sent to env:HOOK (webhook+http://127.0.0.1:{receiver.port}/…)" in run.err_lines
    (request,) = receiver.requests
    expected = hmac.new(b"k3y", request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Sgaudit-Signature"] == f"sha256={expected}"
    doc = request.json
    assert (doc["schema"], doc["scanned_at"], doc["complete"], doc["compared_with"]) == (
        "sgaudit.notice/v1", "2026-03-01T02:00:00Z", True, "baseline")
    # only the database rule is missing from the baseline: the one new finding
    assert [f["key"] for f in doc["new"]] == [DB_RULE]
    assert doc["new"][0] | {"reason": ""} == {
        "key": DB_RULE, "severity": "medium", "kind": "extra", "cloud": "aws",
        "group": "sg-0a11ce0000000006", "group_name": "coiled-dask-reporting",
        "network": "vpc-0c0ffee0000000001", "account": "111122223333", "region": "us-east-1",
        "protocol": "tcp", "ports": "5432", "source": "sg-0badbeef00000099", "rule": "",
        "reason": "", "status": "active"}
    assert doc["counts"]["new"] == 1 and doc["counts"]["baselined"] == 5


def _baseline(tmp_path: Path) -> Path:
    """A baseline of the demo's findings but the database rule."""
    keys = [k for k in DEMO_KEYS if k != DB_RULE]
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({
        "sgaudit_baseline": 1, "written_at": "2026-02-01T00:00:00Z", "policy_sha256": "",
        "scope": [{"account": "111122223333", "region": "us-east-1"}],
        "findings": [{"key": k, "account": "111122223333", "region": "us-east-1",
                      "group_id": k.split("|")[3], "kind": k.split("|")[0], "severity": "high"}
                     for k in keys]}))
    return path


@pytest.mark.parametrize(("args", "message"), [
    (("--notify", "slack+https://hooks.slack.com/services/T0/B0/s3cr3t"),
     "notices on 'new' findings need --history (or --baseline) to tell what is new; give one, "
     "or --notify-on always"),
    (("--notify", "teams+https://x.example/w/s3cr3t", "--notify-on", "changed", "--history", "h.db"),
     None),  # fine: shown by the next case's snapshot error instead
    (("--notify", "slack+http://hooks.slack.com/services/T0/B0/s3cr3t", "--notify-on", "always"),
     "--notify slack+http://hooks.slack.com/…: plain http would send the notice (and the URL's key) "
     "in clear text; use slack+https:// (http is only for 127.0.0.1 and localhost)"),
    (("--notify", "https://hooks.slack.com/services/T0/B0/s3cr3t", "--notify-on", "always"),
     "--notify https://hooks.slack.com/…: say where it goes: slack+https://…, teams+https://… or "
     "webhook+https://… (or env:NAME holding one)"),
    (("--notify", "env:NO_SUCH_HOOK", "--notify-on", "always"),
     "--notify env:NO_SUCH_HOOK: the environment variable NO_SUCH_HOOK is not set or empty"),
    (("--notify", "slack+https://user:s3cr3t@hooks.slack.com:99999/x", "--notify-on", "always"),
     "--notify a URL of 49 characters: not a URL with a valid host and port"),
    (("--notify", "slack+http://evil.example\\@127.0.0.1/s3cr3t", "--notify-on", "always"),
     "--notify slack+http://127.0.0.1/…: the URL holds spaces, backslashes, control or non-ASCII "
     "characters (percent-encode them)"),
    (("--notify-on", "changed", "--history", "h.db"),
     "--notify-on changed: no --notify URL (nor notify.urls in the policy) to send notices to"),
])
def test_refused_before_anything_is_read(sgaudit, tmp_path: Path, monkeypatch, args, message) -> None:
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "no-such-snapshot.json"  # reading it would be another error
    run = sgaudit("check", "--snapshot", missing, *args)
    assert "s3cr3t" not in run.err
    if message is None:
        assert run.code == 2 and "no-such-snapshot.json" in run.err
        return
    assert (run.code, run.err_lines) == (2, [f"sgaudit: error: {message}"])
    assert not (tmp_path / "h.db").exists()


def test_an_undeliverable_notice_changes_neither_the_exit_code_nor_the_history(
        sgaudit, tmp_path: Path, monkeypatch, quick) -> None:
    db = tmp_path / "h.db"
    monkeypatch.setenv("SGAUDIT_NOW", "2026-03-01T02:00:00Z")
    with running((500, {})) as failing, running(HANG) as silent:
        run = check(sgaudit, snapshot(tmp_path), "--history", db, "--record-what-if",
                    "--fail-on-drift", "--notify", failing.url("slack"), "--notify",
                    silent.url("teams"))
    assert run.code == 1  # the drift's exit code, as without notices
    warnings = [line for line in run.err_lines if "not delivered" in line]
    assert warnings[0] == (f"sgaudit: warning: notice to slack+http://127.0.0.1:{failing.port}/… "
                           "not delivered after 2 attempt(s): HTTP 500")
    assert warnings[1] in (
        f"sgaudit: warning: notice to teams+http://127.0.0.1:{silent.port}/… not delivered "
        f"after 1 attempt(s): {why}" for why in ("no answer in time", "no answer within 1 s"))
    assert len(warnings) == 2 and len(failing.requests) == 2 and len(silent.requests) == 1
    doc = json.loads(sgaudit("history", "--history", db, "--format", "json").out)
    assert [(s["scanned_at"], len(s["opened"])) for s in doc["scans"]] == [("2026-03-01T02:00:00Z", 6)]


def test_the_policy_notify_key_and_the_command_line_winning(sgaudit, tmp_path: Path,
                                                            monkeypatch) -> None:
    monkeypatch.delenv("SGAUDIT_NOW", raising=False)
    with running() as by_policy, running() as by_cli:
        monkeypatch.setenv("POLICY_HOOK", by_policy.url("webhook"))
        policy = tmp_path / "policy.yaml"
        policy.write_text((FIXTURES / "policy.yaml").read_text()
                          + "notify:\n  urls: [env:POLICY_HOOK]\n  on: always\n")
        run = sgaudit("check", "--policy", policy, "--snapshot", FIXTURES / "security-groups.json",
                      "--snapshot", FIXTURES / "vpcs.json", "--region", "us-east-1", "-q")
        assert (run.code, len(by_policy.requests)) == (0, 1)
        doc = by_policy.requests[0].json
        assert doc["compared_with"] is None  # always, and nothing to compare with
        assert doc["summary"] == "sgaudit: 6 active finding(s) (2 critical, 1 high, 3 medium)"
        run = sgaudit("check", "--policy", policy, "--snapshot", FIXTURES / "security-groups.json",
                      "--snapshot", FIXTURES / "vpcs.json", "--region", "us-east-1", "-q",
                      "--notify", by_cli.url("webhook"))
        assert (run.code, len(by_policy.requests), len(by_cli.requests)) == (0, 1, 1)


@pytest.mark.parametrize(("notify", "message"), [
    ("notify: {on: sometimes}\n",
     "policy.yaml:21: notify.on: expected new, changed, always, got 'sometimes'"),
    ('notify: "https://hooks.slack.com/services/T0/B0/s3cr3t"\n',
     "policy.yaml:21: notify: expected a mapping {urls: [...], on: new}, got a string"),
    ("notify:\n  urls: [{https://hooks.slack.com/services/T0/B0/s3cr3t: 1}]\n",
     "policy.yaml:22: notify.urls[0]: expected a URL or env:NAME, got a mapping"),
    ("notify:\n  urls: [slack+https://hooks.slack.com]\n  bogus: 1\n",
     None),
    ("notify:\n  urls: ['slack+ftp://hooks.slack.com/services/T0/B0/s3cr3t']\n  on: always\n",
     "policy.yaml:22: notify.urls[0] slack+ftp://hooks.slack.com/…: expected slack+https://HOST/…"),
])
def test_bad_notify_keys_in_the_policy(sgaudit, tmp_path: Path, monkeypatch, notify, message) -> None:
    monkeypatch.chdir(tmp_path)
    policy = tmp_path / "policy.yaml"
    policy.write_text((FIXTURES / "policy.yaml").read_text() + notify)
    run = sgaudit("check", "--policy", "policy.yaml", "--snapshot", FIXTURES / "security-groups.json")
    assert run.code == 2 and "s3cr3t" not in run.err
    if message is None:
        assert "notify.bogus" in run.err
        return
    assert run.err_lines[-1] == f"sgaudit: error: {message}"  # after any warning


def test_a_literal_url_in_the_policy_is_warned_about(sgaudit, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "policy.yaml").write_text(
        "notify:\n  urls: ['slack+https://hooks.slack.com/services/T0/B0/s3cr3t']\n  on: always\n")
    run = sgaudit("check", "--policy", "policy.yaml", "--snapshot", tmp_path / "missing.json")
    assert "s3cr3t" not in run.err
    assert run.err_lines[0] == (
        "sgaudit: warning: policy.yaml:2: notify.urls[0]: a webhook URL written in the policy file "
        "is a secret kept with it; prefer env:NAME (the URL in an environment variable)")


def test_an_unrecorded_what_if_scan_sends_no_new_notice(sgaudit, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SGAUDIT_NOW", "2026-03-01T02:00:00Z")
    with running() as receiver:
        run = check(sgaudit, snapshot(tmp_path), "--history", tmp_path / "h.db", "--notify",
                    receiver.url("slack"))
        assert receiver.requests == []
        assert ("sgaudit: warning: no notice: this what-if scan is not recorded in the history, so "
                "nothing is new or resolved (--record-what-if records it)") in run.err_lines
        run = check(sgaudit, snapshot(tmp_path), "--history", tmp_path / "h.db", "--notify",
                    receiver.url("slack"), "--notify-on", "always")
        (request,) = receiver.requests
    assert run.code == 0
    doc = request.json
    assert doc["text"] == "sgaudit: 6 active finding(s) (2 critical, 1 high, 3 medium)"
    assert doc["blocks"][1]["elements"][0]["text"] == (
        "scan 2026-03-01T02:00:00Z (what-if); policy " + str(FIXTURES / "policy.yaml")
        + "; new and resolved not computed (a what-if scan is not recorded)")


def test_google_cloud_findings_name_tag_project_network_and_rule(sgaudit, tmp_path: Path,
                                                                 monkeypatch) -> None:
    gcp = FIXTURES / "gcp"
    rules = json.loads((gcp / "firewall-rules.json").read_text())
    fixed = tmp_path / "firewall-rules.json"
    fixed.write_text(json.dumps([r for r in rules if r["name"] != "coiled-etl-ssh-world"]))
    effective = json.loads((gcp / "effective-firewalls-coiled-net.json").read_text())
    effective["firewalls"] = [r for r in effective["firewalls"] if r["name"] != "coiled-etl-ssh-world"]
    fixed_effective = tmp_path / "effective-firewalls-coiled-net.json"
    fixed_effective.write_text(json.dumps(effective))  # the rule is gone from both answers
    others = [gcp / n for n in ("subnets.json", "networks.json", "instances.json")]
    with running() as receiver:
        for day, firewalls, answer in ((1, gcp / "firewall-rules.json",
                                        gcp / "effective-firewalls-coiled-net.json"),
                                       (2, fixed, fixed_effective)):
            monkeypatch.setenv("SGAUDIT_NOW", f"2026-03-0{day}T02:00:00Z")
            args: list[object] = ["check", "--policy", gcp / "policy.yaml", "--snapshot", firewalls,
                                  "--snapshot", answer]
            for path in others:
                args += ["--snapshot", path]
            run = sgaudit(*args, "--history", tmp_path / "h.db", "--record-what-if", "-q",
                          "--notify", receiver.url("webhook"), "--notify-on", "changed")
            assert run.code == 0, run.err
        night1, night2 = (r.json for r in receiver.requests)
    assert [(f["group"], f["severity"], f["ports"]) for f in night1["new"]] == [
        ("coiled-etl", "critical", "22"), ("coiled-gpu", "high", "8786-8787"),
        ("coiled-gpu", "high", "8888"), ("coiled-batch", "medium", "8786")]
    etl = night1["new"][0]
    assert (etl["cloud"], etl["account"], etl["network"], etl["region"], etl["rule"]) == (
        "gcp", "coiled-demo", "coiled-net", "global", "coiled-etl-ssh-world")
    assert night2["new"] == []
    assert night2["resolved"] == [{
        "key": etl["key"], "severity": "critical", "kind": "extra", "cloud": "gcp",
        "group": "coiled-etl", "group_name": "", "network": "coiled-net", "account": "coiled-demo",
        "region": "global", "protocol": "tcp", "ports": "22", "source": "0.0.0.0/0",
        "rule": "coiled-etl-ssh-world", "reason": "no longer found", "status": "active"}]


def test_a_check_without_notices_loads_none_of_them(tmp_path: Path) -> None:
    code = ("import sys\nfrom sgaudit.cli import main\n"
            "try:\n    main(['check', '-q', '-o', sys.argv[1], '--snapshot', sys.argv[2]])\n"
            "except SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith(('sgaudit.deliver.', "
            "'sgaudit.scheduled.changes', 'urllib.request', 'hmac'))))")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "r.json"),
                           str(FIXTURES / "security-groups.json")],
                          capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "[]"
