"""``check --gcp-project … --fix`` and the rollback of its backup on Google Cloud: the plan, the
calls and the text the fix sequence (``fix_sequence``, the same steps as for AWS) asks of this
cloud: the engine's check after the fix, and the rollback.

Imported only when a fix or a rollback runs (``sgaudit.remediate`` is not loaded by a ``check``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sgaudit.cli.fix import _err, _out, _warn, confirm
from sgaudit.errors import EXIT_DRIFT, EXIT_INCOMPLETE, EXIT_OK
from sgaudit.model import GcpState, Report, Snapshot
from sgaudit.remediate import gcp as fixgcp
from sgaudit.text import clean

if TYPE_CHECKING:
    from sgaudit.cli.gcp_options import GcpOptions
    from sgaudit.cli.live_options import LiveOptions
    from sgaudit.sources.gcp_firewalls import FirewallApi


def api_for(endpoint_url: str | None) -> FirewallApi:
    from sgaudit.sources.gcp import ComputeFirewalls

    return ComputeFirewalls(endpoint_url)


def read_projects(api: FirewallApi, projects: Sequence[str]) -> dict[str, list[dict[str, Any]] | str]:
    """Each project's VPC firewall rules now, whole, or why they could not be read."""
    from sgaudit.sources.gcp_firewalls import CallError

    out: dict[str, list[dict[str, Any]] | str] = {}
    for project in projects:
        try:
            out[project] = api.list(project)
        except CallError as exc:
            out[project] = f"{exc.code}: {exc.message}"
    return out


@dataclass(frozen=True, slots=True)
class GcpFix:
    """The VPC firewall rules of the scanned projects, through ``api``."""

    api: FirewallApi
    state: GcpState
    now: str
    name: str = "Google Cloud"

    @classmethod
    def of(cls, snapshot: Snapshot, live: LiveOptions, gcp: GcpOptions, now: str) -> GcpFix:
        from sgaudit.cli.gcp_options import gcp_endpoint

        assert snapshot.gcp is not None  # a GCP fix runs on a GCP scan
        return cls(api_for(gcp_endpoint(live, gcp)), snapshot.gcp, now)

    def new_record(self) -> fixgcp.GcpFixRecord:
        return fixgcp.GcpFixRecord()

    def plan(self, report: Report) -> fixgcp.GcpPlan:
        return fixgcp.plan_gcp_fix(report.results, self.state,
                                   read_projects(self.api, self._projects(report)), self.now)

    def _projects(self, report: Report) -> list[str]:
        return sorted({r.group.account for r in fixgcp.candidates(report.results)})

    def render_plan(self, plan: fixgcp.GcpPlan) -> str:
        return fixgcp.render_plan(plan)

    def left_alone(self, plan: fixgcp.GcpPlan) -> bool:
        return bool(plan.skipped or plan.refused)

    def nothing_to_change(self, plan: fixgcp.GcpPlan) -> str:
        return ("Nothing to change." if not self.left_alone(plan) else
                "Nothing that sgaudit can change safely; the refused parts are listed above.")

    def backup_writer(self, path: str, plan: fixgcp.GcpPlan,
                      meta: dict[str, Any]) -> fixgcp.GcpBackupWriter:
        return fixgcp.GcpBackupWriter(path, plan, meta)

    def apply(self, plan: fixgcp.GcpPlan, writer: fixgcp.GcpBackupWriter,
              on_outcome: Callable[[fixgcp.GcpOutcome], None]) -> list[fixgcp.GcpOutcome]:
        return fixgcp.apply_plan(plan, self.api, writer, on_outcome)

    def progress(self, outcome: fixgcp.GcpOutcome) -> None:
        _progress(outcome)

    def verify(self, plan: fixgcp.GcpPlan, report: Report, record: fixgcp.GcpFixRecord) -> list[str]:
        problems = record.problems = fixgcp.verify_fix(
            plan, report.results, self.state, read_projects(self.api, self._projects(report)))
        return problems

    def show_results(self, echo: Callable[..., None], plan: fixgcp.GcpPlan,
                     outcomes: Sequence[fixgcp.GcpOutcome], checks: Sequence[str], path: str,
                     quiet: bool) -> None:
        echo("")
        echo(fixgcp.render_outcomes(outcomes), nl=False)
        echo("\nAfter the fix (the engine, on the rules read again):")
        echo(fixgcp.render_check(checks, "every fixed tag is compliant (but for the refused "
                                         "parts) and no other target's effective ingress changed"),
             nl=False)
        if not _everything(outcomes, checks):
            echo(f"To undo what was applied: sgaudit rollback {path}")
        echo(_summary(outcomes, plan, checks))

    def exit_code(self, plan: fixgcp.GcpPlan, outcomes: Sequence[fixgcp.GcpOutcome],
                  checks: Sequence[str], complete: bool, allow_partial: bool) -> int:
        if not complete and not allow_partial:
            return EXIT_INCOMPLETE
        fixed = _everything(outcomes, checks) and not self.left_alone(plan)
        return EXIT_OK if fixed else EXIT_DRIFT

    def render_json(self, record: fixgcp.GcpFixRecord, report: Report, *, now: str, dry_run: bool,
                    exit_code: int) -> str:
        return fixgcp.render_json(record, report, now=now, dry_run=dry_run, exit_code=exit_code)


def _everything(outcomes: Sequence[fixgcp.GcpOutcome], problems: Sequence[str]) -> bool:
    """Every change applied and nothing the engine finds wrong after them."""
    return all(o.ok for o in outcomes) and not problems


def _summary(outcomes: Sequence[fixgcp.GcpOutcome], plan: fixgcp.GcpPlan, problems: Sequence[str]) -> str:
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.result] = counts.get(o.result, 0) + 1
    parts = [f"{n} {result}" for result, n in counts.items()]
    if plan.refused:
        parts.append(f"{len(plan.refused)} part(s) refused")
    if plan.skipped:
        parts.append(f"{len(plan.skipped)} network(s) skipped")
    parts.append("verified" if not problems else f"{len(problems)} problem(s) after the fix")
    return "sgaudit: " + "; ".join(parts)


def _progress(outcome: fixgcp.GcpOutcome) -> None:
    c = outcome.change
    _err(clean(f"  #{c.seq} {c.action} {outcome.name or c.name} [{c.tag}]: {outcome.text}"))


# -- rollback ---------------------------------------------------------------------------------
def run_gcp_rollback(path: str, endpoint_url: str | None, *, dry_run: bool, yes: bool,
                     api: FirewallApi | None = None, unsigned_ok: bool = False) -> int:
    """Undo a GCP fix by its backup; returns the exit code."""
    backup = fixgcp.load_gcp_backup(path, unsigned_ok=unsigned_ok, warn=_warn)
    api = api or api_for(endpoint_url)
    projects = sorted({r.change.project for r in backup.changes})
    plan = fixgcp.plan_rollback(backup, read_projects(api, projects))
    _out(fixgcp.render_plan(plan, title="Rollback plan"), nl=False)
    if not plan.changes:
        _out("Nothing to roll back.")
        return EXIT_DRIFT if plan.skipped or plan.refused else EXIT_OK
    if not confirm(plan, dry_run=dry_run, yes=yes, verb="roll back"):
        if dry_run:
            return EXIT_OK
        _out("Declined: nothing was changed.")
        return EXIT_DRIFT
    outcomes = fixgcp.apply_plan(plan, api, None, _progress)
    problems = fixgcp.rollback_problems(backup, plan, read_projects(api, projects))
    _out("")
    _out(fixgcp.render_outcomes(outcomes), nl=False)
    _out("\nAfter the rollback:")
    _out(fixgcp.render_check(problems, "every rule is as the backup holds it, and the rules "
                                       "sgaudit inserted are gone"), nl=False)
    _out(_summary(outcomes, plan, problems))
    ok = all(o.ok for o in outcomes) and not problems and not plan.skipped and not plan.refused
    return EXIT_OK if ok else EXIT_DRIFT

