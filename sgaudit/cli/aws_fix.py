"""``check --fix`` and ``rollback`` on AWS: the plan, the calls and the text the fix sequence
(``fix_sequence``) asks of this cloud, the rollback, and EC2 clients with the scan's credentials.

Imported only when a fix or a rollback runs (``sgaudit.remediate`` is not loaded by a ``check``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sgaudit.cli.fix import _err, _out, confirm
from sgaudit.cli.fix_sequence import one_terminal
from sgaudit.errors import EXIT_DRIFT, EXIT_OK, OutputError, UsageError
from sgaudit.model import Report
from sgaudit.remediate import aws as fixaws
from sgaudit.text import clean

if TYPE_CHECKING:
    from sgaudit.cli.live_options import LiveOptions


@dataclass(frozen=True, slots=True)
class AwsFix:
    """The security groups of the scanned accounts, through ``client_for``."""

    client_for: fixaws.ClientFor
    prefix_lists: Mapping[tuple[str, str], tuple[str, ...]]
    name: str = "AWS"

    def new_record(self) -> fixaws.FixRecord:
        return fixaws.FixRecord()

    def plan(self, report: Report) -> fixaws.Plan:
        refs = [(r.group.account, r.group.region, r.group.group_id)
                for r in fixaws.candidates(report.results)]
        return fixaws.plan_fix(report.results, fixaws.read_groups(refs, self.client_for),
                               self.prefix_lists)

    def render_plan(self, plan: fixaws.Plan) -> str:
        return fixaws.render_plan(plan)

    def left_alone(self, plan: fixaws.Plan) -> bool:
        return bool(plan.skipped)

    def nothing_to_change(self, plan: fixaws.Plan) -> str:
        return "Nothing to change."

    def backup_writer(self, path: str, plan: fixaws.Plan, meta: dict[str, Any]) -> fixaws.BackupWriter:
        return fixaws.BackupWriter(path, plan, meta)

    def apply(self, plan: fixaws.Plan, writer: fixaws.BackupWriter,
              on_outcome: Callable[[fixaws.Outcome], None]) -> list[fixaws.Outcome]:
        return fixaws.apply_plan(plan, self.client_for, writer, on_outcome)

    def progress(self, outcome: fixaws.Outcome) -> None:
        _progress(outcome)

    def verify(self, plan: fixaws.Plan, report: Report,
               record: fixaws.FixRecord) -> list[fixaws.Verification]:
        checks = record.checks = fixaws.verify_fix(plan, report.results, self.client_for,
                                                   self.prefix_lists)
        return checks

    def show_results(self, echo: Callable[..., None], plan: fixaws.Plan,
                     outcomes: Sequence[fixaws.Outcome], checks: Sequence[fixaws.Verification],
                     path: str, quiet: bool) -> None:
        echo("")
        if quiet or not one_terminal():
            echo(fixaws.render_outcomes(outcomes, plan), nl=False)
        else:  # each result was printed as it came, on the same terminal
            echo("Each change's result is listed above.")
        if checks:
            echo("\nAfter the fix:")
            echo(fixaws.render_verification(checks), nl=False)
        echo(_summary(outcomes, plan, checks))

    def exit_code(self, plan: fixaws.Plan, outcomes: Sequence[fixaws.Outcome],
                  checks: Sequence[fixaws.Verification], complete: bool, allow_partial: bool) -> int:
        return fixaws.fix_exit_code(plan, outcomes, checks, complete, allow_partial)

    def render_json(self, record: fixaws.FixRecord, report: Report, *, now: str, dry_run: bool,
                    exit_code: int) -> str:
        return fixaws.render_json(record, report, now=now, dry_run=dry_run, exit_code=exit_code)


def _progress(outcome: fixaws.Outcome) -> None:
    c = outcome.change
    rule = fixaws.describe_rule(c.rule, with_id=True)
    _err(clean(f"  #{c.seq} {c.action} {rule} on {c.group_id}: {outcome.text}"))


def run_rollback(record: fixaws.BackupRecord, client_for: fixaws.ClientFor, *, dry_run: bool,
                 yes: bool) -> int:
    """Undo exactly what a fix did, by its checked backup; returns the exit code."""
    refs = list(dict.fromkeys(r.change.ref for r in record.changes))
    plan = fixaws.plan_rollback(record, fixaws.read_groups(refs, client_for))
    _out(fixaws.render_plan(plan, title="Rollback plan"), nl=False)
    if not plan.changes:
        _out("Nothing to roll back.")
        return EXIT_DRIFT if plan.skipped else EXIT_OK
    if not confirm(plan, dry_run=dry_run, yes=yes, verb="roll back"):
        if dry_run:
            return EXIT_OK
        _out("Declined: nothing was changed.")
        return EXIT_DRIFT
    outcomes = fixaws.apply_plan(plan, client_for, None, _progress)
    checks = fixaws.verify_rollback(record, plan, client_for)
    try:
        _out("")
        _out(fixaws.render_outcomes(outcomes, plan), nl=False)
        _out("\nAfter the rollback:")
        _out(fixaws.render_verification(checks), nl=False)
        _out(_summary(outcomes, plan, checks))
    except OutputError as exc:
        raise OutputError(f"{exc}; the rollback was applied") from None
    return fixaws.fix_exit_code(plan, outcomes, checks, complete=True)


def _summary(outcomes: Sequence[fixaws.Outcome], plan: fixaws.Plan,
             checks: Sequence[fixaws.Verification]) -> str:
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.result] = counts.get(o.result, 0) + 1
    parts = [f"{n} {result}" for result, n in counts.items()]
    if plan.skipped:
        parts.append(f"{len(plan.skipped)} group(s) skipped")
    bad = [c for c in checks if not c.ok]
    parts.append(f"{len(checks) - len(bad)} of {len(checks)} group(s) verified")
    return "sgaudit: " + "; ".join(parts)


# -- clients ----------------------------------------------------------------------------------
def aws_client_for(live: LiveOptions) -> fixaws.ClientFor:
    """(account, region) -> EC2 client, with the credentials that scanned that account, from
    the command's sessions (so a fix reuses the scan's sessions, roles, account ids and clients).

    One credential set serves every account; with several, a role's account is in its ARN and
    a profile's is asked of STS once."""
    from sgaudit.sources import aws

    targets = aws.targets_from_options(live.profiles, live.role_arns, live.external_id)
    sessions = live.sessions()

    def target_for(account: str, region: str) -> aws.AwsTarget:
        if len(targets) == 1:
            return targets[0]
        for target in targets:
            if target.role_account == account:
                return target
        for target in targets:
            if not target.role_arn and sessions.account(target, region) == account:
                return target
        raise UsageError(f"no --profile or --role-arn gives access to account {account}")

    def client_for(account: str, region: str) -> Any:
        return aws.ec2_client(sessions, target_for(account, region), region)

    return client_for
