"""The digest and its three renderings: order, the 20-item cap, counts, the incomplete-scan
warning on top, and hostile names that must not format a Slack message or a Teams card."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from sgaudit.deliver import notify_slack, notify_teams, notify_webhook
from sgaudit.deliver.notify_digest import FIELD_CHARS, digest
from sgaudit.model import DesiredState, Finding, Group, GroupResult, Report, ScanError
from sgaudit.scheduled.changes import HISTORY, ResolvedChange, ScanChanges

ACCOUNT = "111122223333"
HOSTILE = ("<!channel> & <https://evil.example|click> *bold* [x](https://evil.example) "
           "{{DATE(2017-02-14T06:08:39Z,SHORT)}}")


def finding(port: int, severity: str = "high", group: str = "sg-1", name: str = "prod",
            kind: str = "extra", region: str = "us-east-1") -> Finding:
    key = f"{kind}|{ACCOUNT}|{region}|{group}|tcp|{port}|{port}|0.0.0.0/0"
    return Finding(key=key, kind=kind, severity=severity, account=ACCOUNT, region=region,  # type: ignore[arg-type]
                   group_id=group, group_name=name, protocol="tcp", from_port=port, to_port=port,
                   source="0.0.0.0/0", rule_ids=(f"sgr-{port}",), reason=f"outside the envelope: tcp {port}")


def report_of(*findings: Finding, errors: tuple[ScanError, ...] = ()) -> Report:
    groups: dict[str, list[Finding]] = {}
    for f in findings:
        groups.setdefault(f.group_id, []).append(f)
    results = tuple(GroupResult(Group(gid, fs[0].group_name, "vpc-1", fs[0].region, ACCOUNT),
                                DesiredState((), ()), tuple(fs)) for gid, fs in groups.items())
    return Report(complete=not errors, errors=errors, results=results, warnings=(),
                  generated_at="2026-03-02T02:00:00Z", policy_path="policy.yaml", scanned=("s",))


def changes(new: tuple[Finding, ...], resolved: tuple[ResolvedChange, ...] = ()) -> ScanChanges:
    return ScanChanges(HISTORY, new, resolved)


def texts(node: Any) -> list[str]:
    """Every "text" value of a payload, depth first."""
    if isinstance(node, dict):
        return [*([node["text"]] if isinstance(node.get("text"), str) else []),
                *(t for v in node.values() for t in texts(v))]
    if isinstance(node, list):
        return [t for v in node for t in texts(v)]
    return []


def test_digest_lists_worst_first_then_by_key_and_counts_the_rest() -> None:
    severities = ["low", "critical", "medium", "high"]
    new = tuple(finding(1000 + i, severities[i % 4]) for i in range(25))
    resolved = (ResolvedChange(f"extra|{ACCOUNT}|us-east-1|sg-2|tcp|22|22|0.0.0.0/0", "critical", "active"),)
    d = digest(report_of(*new), changes(new, resolved))
    assert (d.new_total, len(d.new), d.more_new) == (25, 20, 5)
    assert (d.resolved_total, len(d.resolved), d.more_resolved) == (1, 0, 1)
    ranks = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    expected = sorted(new, key=lambda f: (ranks[f.severity], f.key))[:20]
    assert [i.key for i in d.new] == [f.key for f in expected]
    assert d.headline == "sgaudit: 25 new finding(s), 1 resolved; 25 active in all"


def test_slack_blocks_and_fallback_for_a_small_digest() -> None:
    a, b = finding(22, "critical"), finding(80, "medium", group="sg-2", name="web")
    gone = ResolvedChange(f"extra|{ACCOUNT}|us-east-1|sg-3|tcp|443|443|10.0.0.0/8", "low", "waived")
    payload = notify_slack.render(digest(report_of(a, b), changes((b, a), (gone,))))
    header = "sgaudit: 2 new finding(s) (1 critical, 1 medium), 1 resolved; 2 active in all"
    assert payload["text"] == "\n".join([
        header,
        f"new: critical extra: tcp 22 from 0.0.0.0/0 on sg-1 (prod), {ACCOUNT} us-east-1",
        f"new: medium extra: tcp 80 from 0.0.0.0/0 on sg-2 (web), {ACCOUNT} us-east-1",
        f"resolved: low extra: tcp 443 from 10.0.0.0/8 on sg-3, {ACCOUNT} us-east-1"])
    assert (payload["mrkdwn"], payload["unfurl_links"], payload["unfurl_media"]) == (False, False, False)

    def plain(text: str) -> dict[str, Any]:
        return {"type": "plain_text", "text": text, "emoji": False}

    assert payload["blocks"] == [
        {"type": "header", "text": plain(header)},
        {"type": "context", "elements": [plain("scan 2026-03-02T02:00:00Z; policy policy.yaml; "
                                               "compared with the history")]},
        {"type": "section", "text": plain("New (2):")},
        {"type": "section", "text": plain(f"critical extra: tcp 22 from 0.0.0.0/0 on sg-1 (prod), "
                                          f"{ACCOUNT} us-east-1\noutside the envelope: tcp 22")},
        {"type": "section", "text": plain(f"medium extra: tcp 80 from 0.0.0.0/0 on sg-2 (web), "
                                          f"{ACCOUNT} us-east-1\noutside the envelope: tcp 80")},
        {"type": "section", "text": plain("Resolved (1):")},
        {"type": "section", "text": plain(f"low extra: tcp 443 from 10.0.0.0/8 on sg-3, {ACCOUNT} "
                                          "us-east-1\nno longer found")},
        {"type": "context", "elements": [plain("2 active (1 critical, 1 medium); 0 waived; "
                                               "0 baselined; 2 group(s) audited")]},
    ]


def test_slack_escapes_mentions_links_and_ampersands_from_cloud_names() -> None:
    bad = finding(22, name=HOSTILE)
    payload = notify_slack.render(digest(report_of(bad), changes((bad,))))
    every = texts(payload)
    assert not any("<" in t or ">" in t for t in every)
    escaped = ("&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt; *bold* "
               "[x](https://evil.example) {{DATE(2017-02-14T06:08:39Z,SHORT)}}")
    assert f"on sg-1 ({escaped})" in payload["text"]
    assert any(f"on sg-1 ({escaped})" in t for t in texts(payload["blocks"]))
    # no mrkdwn text object anywhere: nothing from the cloud is read as markup
    assert "mrkdwn" not in json.dumps(payload["blocks"])


def test_slack_texts_stay_within_slacks_limits_after_escaping() -> None:
    bad = finding(22, name="<" * 5000)
    d = digest(report_of(bad), changes((bad,)))
    assert len(d.new[0].group_name) == FIELD_CHARS
    for block in notify_slack.render(d)["blocks"]:
        for text in texts(block):
            assert len(text) <= (150 if block["type"] == "header" else 3000)
    assert notify_slack.fit("a<b", 6) == "a&lt;…"  # never half an entity


def test_teams_card_is_text_runs_only_and_shows_markdown_as_written() -> None:
    bad = finding(22, name=HOSTILE)
    payload = notify_teams.render(digest(report_of(bad), changes((bad,))))
    assert payload["type"] == "message"
    (attachment,) = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert {b["type"] for b in card["body"]} == {"RichTextBlock"}
    assert {r["type"] for b in card["body"] for r in b["inlines"]} == {"TextRun"}
    lines = [r["text"] for b in card["body"] for r in b["inlines"]]
    assert lines[0] == "sgaudit: 1 new finding(s) (1 high), 0 resolved; 1 active in all"
    shown = ("<!channel> & <https://evil.example|click> *bold* [x](https://evil.example) "
             "{\u200b{DATE(2017-02-14T06:08:39Z,SHORT)}}")
    assert f"high extra: tcp 22 from 0.0.0.0/0 on sg-1 ({shown}), {ACCOUNT} us-east-1\n" in lines


def test_an_incomplete_scan_says_so_first_in_every_channel() -> None:
    a = finding(22)
    report = report_of(a, errors=(ScanError(ACCOUNT, "eu-west-1", "DescribeSecurityGroups", "denied"),))
    d = digest(report, changes((a,)))
    warning = "INCOMPLETE SCAN: 1 error(s); what could not be read is neither new nor resolved"
    assert d.warning == warning
    assert d.headline == "sgaudit (INCOMPLETE scan): 1 new finding(s) (1 high), 0 resolved; 1 active in all"
    assert notify_slack.render(d)["text"].splitlines()[0] == d.headline
    assert notify_slack.render(d)["blocks"][1] == {
        "type": "section", "text": {"type": "plain_text", "text": warning, "emoji": False}}
    assert notify_slack.render(d)["text"].splitlines()[1] == warning
    assert notify_teams.render(d)["attachments"][0]["content"]["body"][1]["inlines"][0]["text"] == warning
    payload = notify_webhook.render(d)
    assert (payload["complete"], payload["errors"], payload["warning"]) == (False, 1, warning)


def test_webhook_document_exactly() -> None:
    a = finding(22, "critical")
    gone = ResolvedChange("extra|my-project|global|default/coiled-sched|tcp|8786|8787|0.0.0.0/0|allow-dask",
                    "high", "active")
    payload = notify_webhook.render(digest(report_of(a), changes((a,), (gone,))))
    assert payload == {
        "schema": "sgaudit.notice/v1", "scanned_at": "2026-03-02T02:00:00Z", "policy": "policy.yaml",
        "complete": True, "errors": 0, "what_if": False, "compared_with": "history",
        "summary": "sgaudit: 1 new finding(s) (1 critical), 1 resolved; 1 active in all",
        "warning": None,
        "counts": {"groups": 1, "active": 1, "waived": 0, "baselined": 0,
                   "by_severity": {"critical": 1, "high": 0, "medium": 0, "low": 0},
                   "new": 1, "resolved": 1},
        "new": [{"key": a.key, "severity": "critical", "kind": "extra", "cloud": "aws", "group": "sg-1",
                 "group_name": "prod", "network": "vpc-1", "account": ACCOUNT, "region": "us-east-1",
                 "protocol": "tcp", "ports": "22", "source": "0.0.0.0/0", "rule": "sgr-22",
                 "reason": "outside the envelope: tcp 22", "status": "active"}],
        "resolved": [{"key": gone.key, "severity": "high", "kind": "extra", "cloud": "gcp",
                      "group": "coiled-sched", "group_name": "", "network": "default",
                      "account": "my-project", "region": "global", "protocol": "tcp",
                      "ports": "8786-8787", "source": "0.0.0.0/0", "rule": "allow-dask",
                      "reason": "no longer found", "status": "active"}],
        "more": {"new": 0, "resolved": 0},
    }


def test_a_key_that_does_not_parse_is_shown_as_the_key_alone() -> None:
    odd = ResolvedChange("extra|a|b|sg|x|tcp|１|2|0.0.0.0/0", "medium", "active")  # fullwidth digit
    (item,) = digest(report_of(), changes((), (odd,))).resolved
    assert (item.key, item.ports, item.group, item.reason) == (odd.key, "", "", "no longer found")


def test_signature_is_the_hmac_of_the_exact_body() -> None:
    body = notify_webhook.encode({"a": "é"})
    assert body == '{"a":"é"}'.encode()
    expected = hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert notify_webhook.signature(body, "k") == f"sha256={expected}"


def test_huge_hostile_input_stays_within_every_channels_limits() -> None:
    long = "<&>" * 3000
    new = tuple(finding(1000 + i, name=long)._replace(reason=long, source=long) for i in range(40))
    gone = tuple(ResolvedChange(f"extra|{ACCOUNT}|us-east-1|{long}|tcp|22|22|0.0.0.0/0", "low", "active")
                 for _ in range(40))
    d = digest(report_of(*new), changes(new, gone))
    slack = notify_slack.render(d)
    assert len(slack["blocks"]) <= 50 and len(slack["text"]) <= 4000
    assert all(len(t) <= 3000 for t in texts(slack["blocks"]))
    assert len(json.dumps(notify_teams.render(d))) < 28_000  # Teams' message size limit
    assert (d.more_new, d.more_resolved) == (20, 40)
    assert len(notify_webhook.encode(notify_webhook.render(d))) < 100_000
