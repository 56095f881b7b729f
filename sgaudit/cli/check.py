"""``sgaudit check``: audit, accept (waivers, baseline, history), report; ``--fix`` repairs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import click
from rich_click import RichCommand

from sgaudit.cli.common import (
    check_history_server,
    choose_format,
    exit_code,
    history_option,
    load_policy_with_warnings,
    now_utc,
    policy_option,
    read_source,
    refuse_unwritable,
    say,
    set_quiet,
    snapshot_account_option,
    snapshot_option,
    snapshot_region_option,
    summary_line,
    warn,
    warn_unknown_keys,
    what_if,
    write_output,
)
from sgaudit.cli.fix import FixOptions, fix_options
from sgaudit.cli.gcp_options import GcpOptions, gcp_options, wants_aws
from sgaudit.cli.help import EXAMPLES
from sgaudit.cli.live_options import LiveOptions, live_options
from sgaudit.cli.notices import notify_options, plan_notices, send_notices
from sgaudit.cli.securityhub import securityhub_option
from sgaudit.errors import UsageError
from sgaudit.model import Policy, Report, Snapshot
from sgaudit.report import FORMATS, ReportFormat, format_for_path, render_chunks, renderer
from sgaudit.scheduled.accept import accept, read_baselines


@click.command(cls=RichCommand, epilog=EXAMPLES["check"])
@policy_option
@snapshot_option
@click.option("-f", "--format", "fmt", type=click.Choice(FORMATS),
              help="Report format (default: from -o's extension, else table).")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Write the report here: a file atomically (through a symlink, its target); "
                   "a device or FIFO directly; '-' for stdout.")
@click.option("--report", "reports", multiple=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="Also write the report here, in the format of FILE's extension (.sarif, .md, "
                   ".asff, ...); repeatable: one scan, several reports (CI uploads one, shows another).")
@click.option("--fail-on-drift", is_flag=True, help="Exit 1 when there is active drift.")
@click.option("--allow-partial", is_flag=True,
              help="Report what could be read and exit 0/1 even if some of it could not.")
@click.option("-q", "--quiet", is_flag=True,
              help="No progress display, summary line or warnings (errors are still shown).")
@click.option("--baseline", "baseline_path", type=click.Path(dir_okay=False),
              help="Findings listed in this baseline are known: reported apart, not active.")
@click.option("--update-baseline", "update_baseline", type=click.Path(dir_okay=False),
              help="Write this scan's unwaived findings as the baseline (keeps the entries of "
                   "account/regions this scan did not read completely).")
@history_option(help="Record this scan in this history (created if absent): a SQLite file or a "
                     "postgresql://USER@HOST[:PORT]/DB URL; findings get first_seen, reports a "
                     "trend. Default: $SGAUDIT_HISTORY.")
@snapshot_region_option
@snapshot_account_option
@click.option("--record-what-if", is_flag=True,
              help="With --history and SGAUDIT_NOW: record this what-if scan too (by default a "
                   "scan with a fixed clock is not recorded).")
@notify_options
@live_options
@click.option("--no-rule-ids", "no_rule_ids", is_flag=True,
              help="Live AWS scan: do not read the rule ids (sgr-...) of drifted groups' extra "
                   "findings (one DescribeSecurityGroupRules series per drifted region). Without "
                   "it they are read only when a report (json, html, sarif, junit, asff, ocsf), "
                   "--notify or --securityhub shows them.")
@gcp_options
@fix_options
@securityhub_option
def check(policy_path: str | None, snapshots: tuple[str, ...], fmt: str | None, output: str | None,
          fail_on_drift: bool, allow_partial: bool, quiet: bool, baseline_path: str | None = None,
          update_baseline: str | None = None, history_path: str | None = None,
          snapshot_region: str | None = None, snapshot_account: str | None = None,
          record_what_if: bool = False, live: LiveOptions | None = None,
          fixing: FixOptions | None = None, gcp: GcpOptions | None = None,
          notify: tuple[str, ...] = (), notify_on: str | None = None,
          securityhub: bool = False, reports: tuple[str, ...] = (), no_rule_ids: bool = False) -> None:
    """Compare security groups with their desired state and report drift (--fix: and repair it)."""
    from sgaudit.cli import securityhub as hub
    from sgaudit.engine.audit import audit

    fixing = fixing or FixOptions()
    set_quiet(quiet)
    _refuse_before_reading(fixing, snapshots, fmt, output, update_baseline, history_path, live, gcp)
    if record_what_if and not history_path:
        raise UsageError("--record-what-if only applies with --history (it records a what-if scan)")
    if no_rule_ids and snapshots:
        raise UsageError("--no-rule-ids applies to a live AWS scan (snapshots carry the ids they "
                         "hold); it cannot be used with --snapshot")
    hub.refuse(securityhub, fixing.fix, gcp is not None and gcp.given)
    also = _more_reports(reports, output)
    fmt_given = fmt is not None
    fmt = choose_format(fmt, output)
    renderer(fmt)  # an unknown format is refused before reading
    policy = load_policy_with_warnings(policy_path)
    notices = plan_notices(notify, notify_on, policy, history_path, baseline_path)
    now = now_utc()
    baselines = read_baselines(baseline_path, update_baseline, policy, warn)
    check_history_server(history_path, recorded=record_what_if or not what_if())
    ids_shown = not no_rule_ids and not snapshots and _rule_ids_shown(
        [fmt, *(f for _, f in also)], notices is not None or securityhub)
    live = live or LiveOptions()
    if ids_shown:
        live.read_rule_ids_early(_drifted_groups(policy, now))
    snapshot = read_source(policy, snapshots, quiet, live, gcp, snapshot_region, snapshot_account)
    warn_unknown_keys(snapshot, baseline_path, update_baseline, history_path)
    if securityhub:
        hub.require_places(snapshot)
    report = _with_scan_details(audit(policy, snapshot, now), snapshot, live if ids_shown else None)
    shown = set(policy.warnings)
    for message in (w for w in report.warnings if w not in shown):
        warn(message)
    accepted = accept(report, policy, now, baselines, update_baseline, history_path, warn,
                      what_if=what_if(), record_what_if=record_what_if,
                      info=None if quiet else say, compare=notices is not None)
    report = accepted.report
    if securityhub:
        report = hub.deliver(report, None if snapshots else live, quiet)
    if fixing.fix:
        write_reports(report, (output, fmt) if output else None, also, quiet)
        send_notices(notices, accepted, quiet)
        if not quiet:
            click.echo(summary_line(report), err=True)
        raise SystemExit(fixing.run(report, snapshot, live, now=now,
                                    policy_path=policy_path, allow_partial=allow_partial, quiet=quiet,
                                    as_json=fmt == "json" and not output, gcp=gcp))
    # --update-baseline alone: no table on stdout
    write_reports(report, (output, fmt) if output or fmt_given or not update_baseline else None,
                  also, quiet)
    send_notices(notices, accepted, quiet)
    if not quiet:
        click.echo(summary_line(report), err=True)
    raise SystemExit(exit_code(report, fail_on_drift, allow_partial))


def _refuse_before_reading(fixing: FixOptions, snapshots: tuple[str, ...], fmt: str | None,
                           output: str | None, update_baseline: str | None, history_path: str | None,
                           live: LiveOptions | None, gcp: GcpOptions | None) -> None:
    """Every combination that cannot work, refused before anything is read (exit 2)."""
    fixing.refuse(snapshots, fmt, output)
    gcp_given = gcp is not None and gcp.given
    fixing.refuse_clouds(gcp_given, live.org_role if live is not None else None,
                         aws_too=gcp_given and live is not None and wants_aws(live, gcp))
    refuse_stdout_twice(output, update_baseline, fmt is not None)
    refuse_unwritable(output=(output, "report"), update_baseline=(update_baseline, "baseline"),
                      history=(history_path, "history database"))


def _more_reports(reports: tuple[str, ...], output: str | None) -> list[tuple[str, str]]:
    """--report FILE...: (path, format from its extension), refused before reading when a path
    names no format, is stdout, repeats, or cannot be written."""
    seen = {output} if output else set()
    out = []
    for path in reports:
        if path == "-" or path in seen:
            raise UsageError(f"--report {path}: " + ("stdout is -o's (use -o -)" if path == "-"
                                                     else "given twice"))
        seen.add(path)
        fmt = format_for_path(path)
        if fmt is None:
            known = ", ".join(e for f in ReportFormat for e in f.extensions)
            raise UsageError(f"--report {path}: no report format has its extension (known: {known})")
        refuse_unwritable(report=(path, "report"))
        out.append((path, fmt))
    return out


def _with_scan_details(report: Report, snapshot: Snapshot, live: LiveOptions | None) -> Report:
    """What the source knows beyond groups: an organization scan's account summary (live or
    replayed), and for a live AWS scan the rule ids of the drifted groups."""
    if snapshot.accounts is not None:
        report = replace(report, accounts=snapshot.accounts)
    return live.with_rule_ids(report, warn) if live is not None else report


def _drifted_groups(policy: Policy, now: str) -> Callable[[Snapshot], list[str]]:
    """The groups of one account/region with extra findings, by the audit of that part alone
    (the same policy and clock as the whole audit): their rule ids are read while the other
    regions are still being read.  A group this misses is read after the whole audit."""
    from sgaudit.engine.audit import audit

    def drifted(part: Snapshot) -> list[str]:
        return [r.group.group_id for r in audit(policy, part, now).results
                if any(f.kind == "extra" for f in r.findings)]

    return drifted


#: the report formats that print rule ids (table and markdown do not)
RULE_ID_FORMATS = frozenset({ReportFormat.JSON, ReportFormat.HTML, ReportFormat.SARIF,
                             ReportFormat.JUNIT, ReportFormat.ASFF, ReportFormat.OCSF})


def _rule_ids_shown(formats: list[str], delivered: bool) -> bool:
    """Whether anything this scan writes or sends shows rule ids: only then are they read
    (``DescribeSecurityGroupRules`` per drifted region). Notices and Security Hub show them."""
    return delivered or any(ReportFormat(f) in RULE_ID_FORMATS for f in formats)


def write_reports(report: Report, main: tuple[str | None, str] | None,
                  also: list[tuple[str, str]], quiet: bool) -> None:
    """The report (-o, or stdout when ``main`` names no file), then every --report file."""
    for output, fmt in ([main] if main is not None else []) + list(also):
        write_report(render_chunks(fmt, report), output, fmt, quiet)


def write_report(text: str | Iterator[str], output: str | None, fmt: str, quiet: bool) -> None:
    """Write the report; with -o, say where it went (unless -q)."""
    write_output(text, output)
    if output and output != "-" and not quiet:
        say(f"{fmt} report written to {output}")


def refuse_stdout_twice(output: str | None, update_baseline: str | None, fmt_given: bool) -> None:
    """Two documents on stdout would be one unreadable stream."""
    if update_baseline == "-" and (output == "-" or (output is None and fmt_given)):
        raise UsageError("--update-baseline -: stdout would carry both the baseline and the "
                         "report; write the report with -o FILE")
