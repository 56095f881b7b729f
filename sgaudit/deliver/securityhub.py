"""``check --securityhub``: the scan's active findings into AWS Security Hub (BatchImportFindings,
ASFF), each into the account and region it belongs to, and what sgaudit imported earlier and
this scan no longer has re-imported as resolved (Compliance PASSED, RecordState ARCHIVED).

Rules, each for a reason:
- ids come from the stable key (report.asff), so a second import updates, never duplicates;
- only places (account/region) this scan read completely are archived: a region whose scan
  failed says nothing about its old findings;
- what sgaudit selects to archive is chosen here, on the client: GetFindings is asked with
  filters (product, generator, account, record state), but a finding is archived only when its
  own fields say it is sgaudit's, in this account and region, and still ACTIVE (moto ignores
  the filters; a hub is shared with other products and people);
- ``Workflow``, ``Note`` and ``UserDefinedFields`` are never written (they belong to people);
- at most 100 findings and 6 MB a call; throttling is retried with backoff;
- every failure (Security Hub not enabled, AccessDenied, a finding in ``FailedFindings``) is an
  error of its account/region, so the report never claims a finding is in Security Hub when
  it is not, and the exit code says the delivery was incomplete.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from sgaudit.model import Report, ScanError
from sgaudit.report import asff
from sgaudit.report.security_findings import ID_PREFIX
from sgaudit.scheduled.scope import complete_scope
from sgaudit.sources.aws import AWS_FAILURES, error_of

#: (account, region) -> a Security Hub client with that account's identity (may raise)
ClientFor = Callable[[str, str], Any]
Place = tuple[str, str]

BATCH = 100
BATCH_BYTES = 6 * 1024 * 1024
#: our own retries on throttling, after botocore's (which give up after 3 attempts)
ATTEMPTS = 5
BACKOFF_S = 1.0
THROTTLED = ("TooManyRequestsException", "ThrottlingException", "Throttling", "LimitExceededException")
#: the ASFF fields sgaudit wrote and writes again when it archives (never Workflow, Note,
#: UserDefinedFields, nor what Security Hub adds itself)
OWN_FIELDS = ("SchemaVersion", "Id", "ProductArn", "ProductName", "CompanyName", "GeneratorId",
              "AwsAccountId", "Region", "Types", "CreatedAt", "Title", "Description", "Remediation",
              "Resources", "FindingProviderFields")
IMPORT, GET = "BatchImportFindings", "GetFindings"


@dataclass(frozen=True, slots=True)
class Delivery:
    """What reached Security Hub: counts of findings it accepted, and every failure."""

    imported: int = 0
    archived: int = 0
    places: int = 0
    errors: tuple[ScanError, ...] = ()

    def line(self) -> str:
        failed = f"; {len(self.errors)} error(s)" if self.errors else ""
        return (f"Security Hub: {self.imported} active finding(s) imported, {self.archived} "
                f"resolved finding(s) archived in {self.places} account/region(s){failed}")


def deliver(report: Report, client_for: ClientFor, *,
            sleep: Callable[[float], None] = time.sleep) -> Delivery:
    """Import the report's active AWS findings, then archive, per account/region."""
    active: dict[Place, list[dict[str, Any]]] = {}
    for finding in asff.findings(report):
        active.setdefault((finding["AwsAccountId"], finding["Region"]), []).append(finding)
    scope = {(account, region) for account, region, network in complete_scope(report)
             if not network}  # a GCP place names its network; Security Hub holds AWS findings
    imported = archived = 0
    errors: list[ScanError] = []
    places = sorted(set(active) | {p for p in scope if _is_aws(report, p)})
    for place in places:
        hub = _Hub(place, client_for, sleep)
        done, place_errors = hub.import_all(active.get(place, []))
        imported += done
        if not place_errors and place in scope:
            done, place_errors = hub.archive_gone({f["Id"] for f in active.get(place, [])},
                                                  report.generated_at)
            archived += done
        errors += place_errors
    return Delivery(imported, archived, len(places), tuple(errors))


def _is_aws(report: Report, place: Place) -> bool:
    """A place read completely where sgaudit may have imported before: an AWS account/region."""
    gcp = {(r.group.account, r.group.region) for r in report.results if r.group.cloud == "gcp"}
    return place not in gcp and place[0].isdigit() and len(place[0]) == 12


class _Hub:
    """One account/region's Security Hub."""

    def __init__(self, place: Place, client_for: ClientFor, sleep: Callable[[float], None]) -> None:
        self.account, self.region = place
        self.client_for = client_for
        self.sleep = sleep
        self._client: Any = None

    def import_all(self, findings: Sequence[dict[str, Any]]) -> tuple[int, list[ScanError]]:
        """Every batch, even after one failed (each batch stands alone); the count is what
        Security Hub accepted."""
        accepted, errors = 0, []
        for batch in batches(findings):
            try:
                answer = self._call(IMPORT, Findings=batch)
            except (*AWS_FAILURES, ValueError) as exc:
                errors.append(self._error(exc, IMPORT, f" ({len(batch)} finding(s) not imported)"))
                continue
            failed = answer.get("FailedFindings") or []
            count = max(len(failed), int(answer.get("FailedCount") or 0))
            accepted += len(batch) - count
            if count:
                errors.append(rejected(self.account, self.region, failed, count, len(batch)))
        return accepted, errors

    def archive_gone(self, keep: set[str], now: str) -> tuple[int, list[ScanError]]:
        """Re-import sgaudit's ACTIVE findings of this place that are not in ``keep``, resolved."""
        try:
            gone = [archived(f, now) for f in self.sgaudit_findings() if f.get("Id") not in keep]
        except (*AWS_FAILURES, ValueError) as exc:
            return 0, [self._error(exc, GET, "; nothing archived")]
        count, errors = self.import_all(gone)
        return count, errors

    def sgaudit_findings(self) -> Iterator[Mapping[str, Any]]:
        """This place's ACTIVE sgaudit findings: asked with filters, chosen by their fields."""
        product = asff.product_arn(self.account, self.region)
        filters = {"ProductArn": [{"Value": product, "Comparison": "EQUALS"}],
                   "GeneratorId": [{"Value": asff.GENERATOR_PREFIX, "Comparison": "PREFIX"}],
                   "AwsAccountId": [{"Value": self.account, "Comparison": "EQUALS"}],
                   "RecordState": [{"Value": "ACTIVE", "Comparison": "EQUALS"}]}
        token: str | None = None
        while True:
            params: dict[str, Any] = {"Filters": filters, "MaxResults": 100}
            if token:
                params["NextToken"] = token
            answer = self._call(GET, **params)
            for found in answer.get("Findings") or []:
                if self._ours(found, product):
                    yield found
            token = answer.get("NextToken")
            if not token:
                return

    def _ours(self, found: Mapping[str, Any], product: str) -> bool:
        return (found.get("ProductArn") == product
                and str(found.get("GeneratorId", "")).startswith(asff.GENERATOR_PREFIX)
                and str(found.get("Id", "")).startswith(ID_PREFIX)
                and found.get("AwsAccountId") == self.account
                and found.get("Region", self.region) == self.region
                and found.get("RecordState") == "ACTIVE")

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        """One call, retried with backoff while Security Hub throttles."""
        if self._client is None:
            self._client = self.client_for(self.account, self.region)
        method = getattr(self._client, "batch_import_findings" if operation == IMPORT else "get_findings")
        for attempt in range(ATTEMPTS):
            try:
                answer: dict[str, Any] = method(**params)
                return answer
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in THROTTLED or attempt == ATTEMPTS - 1:
                    raise
                self.sleep(BACKOFF_S * 2 ** attempt)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _error(self, exc: Exception, operation: str, consequence: str) -> ScanError:
        if isinstance(exc, ValueError):  # no credentials of this account in the scan
            return ScanError(self.account, self.region, operation, f"{exc}{consequence}", "NoCredentials")
        e = error_of(exc, self.account, self.region, operation)
        return ScanError(e.account, e.region, e.operation, e.message + consequence, e.code)


def batches(findings: Sequence[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """At most BATCH findings and BATCH_BYTES of JSON a call."""
    batch: list[dict[str, Any]] = []
    size = 0
    for finding in findings:
        length = len(json.dumps(finding, ensure_ascii=False).encode("utf-8")) + 1
        if batch and (len(batch) == BATCH or size + length > BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(finding)
        size += length
    if batch:
        yield batch


def archived(found: Mapping[str, Any], now: str) -> dict[str, Any]:
    """A finding sgaudit imported earlier, as it is re-imported once resolved: its own fields
    only, ``UpdatedAt`` now, Compliance PASSED, RecordState ARCHIVED."""
    out = {k: found[k] for k in OWN_FIELDS if k in found}
    severity = found.get("Severity") or {}
    out["Severity"] = {k: severity[k] for k in ("Label", "Original") if k in severity} or {"Label": "LOW"}
    fields = found.get("ProductFields") or {}
    out["ProductFields"] = {k: v for k, v in fields.items() if k.startswith(asff.FIELD_PREFIX)}
    out.update(UpdatedAt=now, Compliance={"Status": "PASSED"}, RecordState="ARCHIVED")
    return out


def rejected(account: str, region: str, failed: Sequence[Mapping[str, Any]], count: int,
             total: int) -> ScanError:
    """FailedFindings as one error: how many, and the first few ids with AWS's reasons."""
    shown = "; ".join(f"{f.get('Id', '?')}: {f.get('ErrorCode', '')} {f.get('ErrorMessage', '')}".strip()
                      for f in failed[:3])
    more = f"; and {len(failed) - 3} more" if len(failed) > 3 else ""
    code = str(failed[0].get("ErrorCode", "")) if failed else ""
    return ScanError(account, region, IMPORT,
                     f"Security Hub rejected {count} of {total} finding(s): {shown}{more}", code)
