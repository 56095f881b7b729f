"""Live AWS source: reads security groups, their VPCs and prefix lists with boto3.

The only module that imports boto3/botocore.  Import it only on a live path (the CLI does so
lazily), so snapshot runs never pay for loading boto3.

Per account and region it makes exactly: paginated ``DescribeSecurityGroups`` (1,000 a page,
server-side ``tag:`` / ``group-id`` filters where the selection allows), one ``DescribeVpcs``
for the VPCs of the selected groups, and ``GetManagedPrefixListEntries`` per referenced prefix
list.  Nothing per group.  Accounts x regions run in a bounded thread pool.  Whatever cannot be
read becomes a ``ScanError`` (fail closed); only a total lack of credentials raises.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    ProfileNotFound,
)
from botocore.parsers import ResponseParserError

from sgaudit.errors import CredentialsError, UsageError
from sgaudit.model import Group, Matcher, ScanError, Snapshot, Vpc
from sgaudit.sources.awsjson import (
    ShapeError,
    group_selected,
    parse_group,
    parse_vpc,
    prefix_list_cidrs,
)

if TYPE_CHECKING:
    from botocore.client import BaseClient

#: retries are bounded (a throttled region gives up in seconds, not minutes) and adaptive
#: (the client slows itself down when AWS says so, rather than hammering production)
MAX_ATTEMPTS = 3
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 30
MAX_WORKERS = 16
PAGE_SIZE = 1000
#: AWS accepts at most 200 values in one filter
FILTER_VALUES = 200

CREDENTIALS_HELP = ("no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID and "
                    "AWS_SECRET_ACCESS_KEY, run `aws configure` or `aws sso login`, or pass --profile NAME")
_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/.+$")
_EXTERNAL_ID_RE = re.compile(r"^[\w+=,.@:/-]{2,1224}$")

ClientHook = Callable[["BaseClient"], None]


def client_config() -> Config:
    return Config(retries={"mode": "adaptive", "total_max_attempts": MAX_ATTEMPTS},
                  connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT,
                  user_agent_extra="sgaudit")


# -- accounts -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AwsTarget:
    """One account to scan: credentials from ``profile`` (None: the standard chain), then, if
    ``role_arn`` is given, an assumed role (with ``external_id`` when the role demands one)."""

    profile: str | None = None
    role_arn: str | None = None
    external_id: str | None = None

    @property
    def label(self) -> str:
        """What to call the account before its id is known (in errors)."""
        if self.role_arn:
            match = _ROLE_ARN_RE.match(self.role_arn)
            return match.group(1) if match else self.role_arn
        return f"profile {self.profile}" if self.profile else "default credentials"

    @property
    def role_account(self) -> str | None:
        match = _ROLE_ARN_RE.match(self.role_arn or "")
        return match.group(1) if match else None


def targets_from_options(profiles: Sequence[str], role_arns: Sequence[str],
                         external_id: str | None) -> tuple[AwsTarget, ...]:
    """``--profile`` x ``--role-arn`` -> accounts.

    Without roles, each profile is one account.  With roles, each role is one account, assumed
    from the single ``--profile`` (or the standard chain)."""
    for arn in role_arns:
        if not _ROLE_ARN_RE.match(arn):
            raise UsageError(f"--role-arn {arn!r}: expected arn:aws:iam::ACCOUNT_ID:role/NAME")
    if external_id is not None and not role_arns:
        raise UsageError("--external-id needs --role-arn")
    if external_id is not None and not _EXTERNAL_ID_RE.match(external_id):
        raise UsageError(f"--external-id {external_id!r}: expected 2-1224 characters of letters, "
                         "digits and +=,.@:/-_ (as sts:AssumeRole requires)")
    if role_arns:
        if len(profiles) > 1:
            raise UsageError("with --role-arn, give at most one --profile (the credentials that "
                             "assume the roles)")
        base = profiles[0] if profiles else None
        return tuple(AwsTarget(base, arn, external_id) for arn in dict.fromkeys(role_arns))
    if profiles:
        return tuple(AwsTarget(p) for p in dict.fromkeys(profiles))
    return (AwsTarget(),)


def parse_regions(text: str | None) -> tuple[str, ...] | str | None:
    """``--regions``: None (the configured region), "all", or a tuple of region names."""
    if text is None:
        return None
    if text.strip() == "all":
        return "all"
    regions = tuple(dict.fromkeys(r.strip() for r in text.split(",") if r.strip()))
    bad = [r for r in regions if not _REGION_RE.match(r)]
    if bad or not regions:
        raise UsageError(f"--regions {text!r}: expected region names like us-east-1,eu-west-1 or 'all'"
                         + (f" (bad: {bad[0]!r})" if bad else ""))
    return regions


def check_endpoint_url(url: str | None) -> str | None:
    if url is not None and not re.match(r"^https?://[^/\s]+", url):
        raise UsageError(f"--endpoint-url {url!r}: expected http(s)://HOST[:PORT]")
    return url


class Sessions:
    """boto3 sessions, assumed-role credentials, account ids and clients, made once per profile /
    role / (service, region).  One command makes one and hands it from its scan to its fix, so
    ``check --fix`` loads each service model and assumes each role once.

    boto3 sessions are not thread-safe; clients are.  So clients are created under a lock and
    shared by threads, and every client of one base session reuses its loaded service models."""

    def __init__(self, endpoint_url: str | None = None) -> None:
        self.endpoint_url = endpoint_url
        self._lock = threading.RLock()
        self._sessions: dict[str | None, boto3.Session] = {}
        self._assumed: dict[tuple[str | None, str, str | None], dict[str, str]] = {}
        self._clients: dict[tuple[str, AwsTarget, str], BaseClient] = {}
        self._accounts: dict[AwsTarget, str] = {}

    def session(self, profile: str | None) -> boto3.Session:
        with self._lock:
            found = self._sessions.get(profile)
            if found is None:
                try:
                    found = boto3.Session(profile_name=profile)
                except ProfileNotFound:
                    raise CredentialsError(f"AWS profile {profile!r} not found in the AWS config or "
                                           "credentials file") from None
                self._sessions[profile] = found
            return found

    def require_credentials(self, target: AwsTarget) -> None:
        """Raise CredentialsError when the target's base credentials are absent altogether."""
        session = self.session(target.profile)
        with self._lock:
            try:
                credentials = session.get_credentials()
            except BotoCoreError as exc:
                where = f"profile {target.profile!r}" if target.profile else "the default credentials"
                raise CredentialsError(f"cannot load AWS credentials for {where}: {exc}") from None
        if credentials is None:
            raise CredentialsError(CREDENTIALS_HELP)

    def default_region(self, profile: str | None) -> str | None:
        return self.session(profile).region_name

    def client(self, service: str, target: AwsTarget, region: str,
               hook: ClientHook | None = None) -> BaseClient:
        """A client for ``service`` in ``region`` with the target's (possibly assumed) identity.

        Made once and shared, unless ``hook`` is given (a hooked client is the caller's own).
        May raise ClientError/BotoCoreError while assuming the role."""
        key = (service, target, region)
        if hook is None:
            with self._lock:
                found = self._clients.get(key)
            if found is not None:
                return found
        credentials = self.assume(target, region, hook) if target.role_arn else {}
        client = self._make(target.profile, service, region, credentials, hook)
        if hook is None:
            with self._lock:
                client = self._clients.setdefault(key, client)
        return client

    def account(self, target: AwsTarget, region: str, hook: ClientHook | None = None) -> str:
        """The target's account id: from its role ARN, else asked of STS once.

        May raise ClientError/BotoCoreError (NoCredentialsError included)."""
        if target.role_account:
            return target.role_account
        with self._lock:
            found = self._accounts.get(target)
        if found is None:
            identity = self.client("sts", target, region, hook).get_caller_identity()
            if not isinstance(identity.get("Account"), str):
                raise MalformedAnswer("GetCallerIdentity answered without an Account: not an "
                                      "AWS answer; a proxy in the way?")
            found = identity["Account"]
            with self._lock:
                self._accounts[target] = found
        return found

    def _make(self, profile: str | None, service: str, region: str, credentials: Mapping[str, str],
              hook: ClientHook | None) -> BaseClient:
        session = self.session(profile)
        with self._lock:
            client = session.client(service, region_name=region, endpoint_url=self.endpoint_url,
                                    config=client_config(), **credentials)
        if hook is not None:
            hook(client)
        return client

    def assume(self, target: AwsTarget, region: str, hook: ClientHook | None = None) -> dict[str, str]:
        """The target role's temporary credentials (as client keyword arguments), once per role."""
        assert target.role_arn
        key = (target.profile, target.role_arn, target.external_id)
        with self._lock:
            found = self._assumed.get(key)
        if found is not None:
            return found
        sts = self._make(target.profile, "sts", region, {}, hook)
        params: dict[str, Any] = {"RoleArn": target.role_arn, "RoleSessionName": "sgaudit"}
        if target.external_id:
            params["ExternalId"] = target.external_id
        raw = sts.assume_role(**params)["Credentials"]
        found = {"aws_access_key_id": raw["AccessKeyId"], "aws_secret_access_key": raw["SecretAccessKey"],
                 "aws_session_token": raw["SessionToken"]}
        with self._lock:
            self._assumed[key] = found
        return found


def ec2_client(sessions: Sessions, target: AwsTarget, region: str) -> BaseClient:
    """An EC2 client for one account and region, configured as the scanner's (adaptive bounded
    retries, timeouts) and shared with it when ``sessions`` are the scan's.  For ``check --fix``
    and ``rollback``.

    Raises CredentialsError when there are no credentials at all; ClientError/BotoCoreError when
    a role cannot be assumed."""
    sessions.require_credentials(target)
    return sessions.client("ec2", target, region)


# -- what one account/region gave ------------------------------------------------------------

@dataclass(slots=True)
class RegionScan:
    """The raw AWS shapes read in one account and region, and what failed there."""

    account: str
    region: str
    security_groups: list[dict[str, Any]] = field(default_factory=list)
    vpcs: list[dict[str, Any]] = field(default_factory=list)
    #: pl-id -> GetManagedPrefixListEntries Entries
    prefix_lists: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    errors: list[ScanError] = field(default_factory=list)


class MalformedAnswer(Exception):
    """An answer that is not AWS's: botocore parses an HTML page with status 200 (a captive
    portal, a proxy's error page) into an empty success, which would read as "no groups"."""


#: what an AWS call can fail with; a non-XML answer with an error status is a
#: ResponseParserError, which is not a BotoCoreError
AWS_FAILURES = (ClientError, BotoCoreError, ResponseParserError, MalformedAnswer)


def answer_items(answer: Mapping[str, Any], key: str) -> list[Any]:
    """The list an AWS answer must carry (empty when there is nothing), or MalformedAnswer."""
    items = answer.get(key)
    if not isinstance(items, list):
        content_type = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("content-type")
        raise MalformedAnswer(f"the answer has no {key} (content-type {content_type or 'unknown'}): "
                              "not an AWS answer; a proxy in the way?")
    return items


def error_of(exc: Exception, account: str, region: str, operation: str) -> ScanError:
    """A botocore failure -> ScanError with AWS's error code (or the exception's name)."""
    if isinstance(exc, ClientError):
        info = exc.response.get("Error", {})
        code = str(info.get("Code") or "ClientError")
        message = str(info.get("Message") or exc)
        attempts = exc.response.get("ResponseMetadata", {}).get("RetryAttempts")
        if attempts:
            message += f" (after {attempts + 1} attempts)"
        return ScanError(account, region, operation, message, code)
    return ScanError(account, region, operation, _one_line(str(exc)) or type(exc).__name__,
                     type(exc).__name__)


def _one_line(text: str, limit: int = 300) -> str:
    """Error texts may carry a whole HTML page; reports and terminals get one short line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def _chunks(values: Sequence[str], size: int = FILTER_VALUES) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield list(values[start:start + size])


def group_filters(select: Matcher) -> list[list[dict[str, Any]]]:
    """Server-side filters for DescribeSecurityGroups; one filter list per request series.

    Tag filters are exact here, since every tag of ``select`` must match; a value AWS would
    read as a wildcard only widens the answer, and the client re-checks every group."""
    base: list[dict[str, Any]] = []
    for key, value in select.tags:
        if value:
            base.append({"Name": f"tag:{key}", "Values": [value]})
        else:
            base.append({"Name": "tag-key", "Values": [key]})
    if not select.group_ids:
        return [base]
    return [[*base, {"Name": "group-id", "Values": chunk}]
            for chunk in _chunks(sorted(set(select.group_ids)))]


def scan_region(ec2: BaseClient, account: str, region: str, select: Matcher) -> RegionScan:
    """Read one account/region with ``ec2``.  Never raises for an AWS failure: it is recorded."""
    scan = RegionScan(account, region)
    try:
        paginator = ec2.get_paginator("describe_security_groups")
        for filters in group_filters(select):
            params: dict[str, Any] = {"PaginationConfig": {"PageSize": PAGE_SIZE}}
            if filters:
                params["Filters"] = filters
            for page in paginator.paginate(**params):
                scan.security_groups.extend(answer_items(page, "SecurityGroups"))
    except AWS_FAILURES as exc:
        scan.security_groups.clear()  # a region is read whole or not at all
        scan.errors.append(error_of(exc, account, region, "DescribeSecurityGroups"))
        return scan
    vpc_ids, list_ids = _references(scan.security_groups, select)
    if vpc_ids:
        try:
            paginator = ec2.get_paginator("describe_vpcs")
            for chunk in _chunks(vpc_ids):
                for page in paginator.paginate(Filters=[{"Name": "vpc-id", "Values": chunk}]):
                    scan.vpcs.extend(answer_items(page, "Vpcs"))
        except AWS_FAILURES as exc:
            scan.vpcs.clear()
            scan.errors.append(error_of(exc, account, region, "DescribeVpcs"))
    for list_id in list_ids:
        try:
            entries: list[dict[str, Any]] = []
            paginator = ec2.get_paginator("get_managed_prefix_list_entries")
            for page in paginator.paginate(PrefixListId=list_id):
                entries.extend(answer_items(page, "Entries"))
            scan.prefix_lists[list_id] = entries
        except AWS_FAILURES as exc:
            scan.errors.append(error_of(exc, account, region, f"GetManagedPrefixListEntries {list_id}"))
    return scan


def _references(raw_groups: Sequence[Mapping[str, Any]], select: Matcher) -> tuple[list[str], list[str]]:
    """The VPC ids and prefix-list ids that the selected groups need, in first-seen order."""
    vpcs: dict[str, None] = {}
    lists: dict[str, None] = {}
    for raw in raw_groups:
        try:
            if not group_selected(raw, select, "group"):
                continue
        except ShapeError:
            pass  # malformed: keep it, normalising will report it
        if not isinstance(raw, Mapping):
            continue
        if isinstance(raw.get("VpcId"), str):
            vpcs[raw["VpcId"]] = None
        for perm in raw.get("IpPermissions") or ():
            for ref in (perm.get("PrefixListIds") or ()) if isinstance(perm, Mapping) else ():
                if isinstance(ref, Mapping) and isinstance(ref.get("PrefixListId"), str):
                    lists[ref["PrefixListId"]] = None
    return list(vpcs), list(lists)


# -- raw scans -> model ------------------------------------------------------------------

def to_snapshot(scans: Sequence[RegionScan], select: Matcher) -> Snapshot:
    """Normalise exactly as the snapshot source does with the same shapes (awsjson)."""
    groups: dict[tuple[str, str, str], Group] = {}
    vpcs: dict[tuple[str, str], Vpc] = {}
    prefix_lists: dict[tuple[str, str], tuple[str, ...]] = {}
    errors: list[ScanError] = []
    for scan in scans:
        where = f"aws {scan.account}/{scan.region}"
        for i, raw in enumerate(scan.security_groups):
            path = f"{where} SecurityGroups[{i}]"
            try:
                if group_selected(raw, select, path):
                    group = parse_group(raw, path, scan.region, scan.account)
                    if select.matches(group):
                        groups[(group.account, group.region, group.group_id)] = group
            except ShapeError as exc:
                errors.append(ScanError(scan.account, scan.region, "DescribeSecurityGroups",
                                        f"unexpected answer: {exc}", "MalformedResponse"))
        for i, raw in enumerate(scan.vpcs):
            try:
                vpc = parse_vpc(raw, f"{where} Vpcs[{i}]", scan.region, scan.account)
            except ShapeError as exc:
                errors.append(ScanError(scan.account, scan.region, "DescribeVpcs",
                                        f"unexpected answer: {exc}", "MalformedResponse"))
                continue
            vpcs[(scan.region, vpc.vpc_id)] = vpc
        for list_id, entries in scan.prefix_lists.items():
            try:
                prefix_lists[(scan.region, list_id)] = prefix_list_cidrs(
                    entries, f"{where} PrefixLists[{list_id}].Entries")
            except ShapeError as exc:
                errors.append(ScanError(scan.account, scan.region, "GetManagedPrefixListEntries",
                                        f"unexpected answer: {exc}", "MalformedResponse"))
        errors.extend(scan.errors)
    return Snapshot(groups=tuple(groups.values()), vpcs=vpcs, prefix_lists=prefix_lists,
                    errors=tuple(errors),
                    scanned=tuple(f"aws {s.account}/{s.region}" for s in scans),
                    read=tuple((s.account, s.region) for s in scans))


# -- the source --------------------------------------------------------------------------

#: progress callback: (finished region scans, all region scans known so far, groups read)
ProgressHook = Callable[[int, int, int], None]


@dataclass(slots=True)
class _Account:
    target: AwsTarget
    account: str
    regions: tuple[str, ...] = ()
    error: ScanError | None = None


class AwsSource:
    """Scans every target account in every requested region.

    ``regions``: None (each account's configured region), "all" (each account's enabled
    regions, from DescribeRegions), or explicit names.  ``client_hook`` sees every client made
    (tests and the benchmark count API calls with botocore's event hooks)."""

    def __init__(self, targets: Sequence[AwsTarget] = (AwsTarget(),),
                 regions: Sequence[str] | str | None = None, endpoint_url: str | None = None,
                 *, max_workers: int = MAX_WORKERS, client_hook: ClientHook | None = None,
                 progress: ProgressHook | None = None, sessions: Sessions | None = None) -> None:
        self.targets = tuple(targets) or (AwsTarget(),)
        self.regions = regions
        if sessions is not None and sessions.endpoint_url != endpoint_url:
            raise ValueError("endpoint_url differs from the given sessions' endpoint_url")
        self.sessions = sessions if sessions is not None else Sessions(endpoint_url)
        self.max_workers = max_workers
        self.client_hook = client_hook
        self.progress = progress

    def read(self, select: Matcher) -> Snapshot:
        return to_snapshot(self.scan(select), select)

    def scan(self, select: Matcher) -> list[RegionScan]:
        """The raw shapes per account and region, in target order then region order."""
        for target in self.targets:
            self.sessions.require_credentials(target)
        home = {t: self._home_region(t) for t in self.targets}
        # threads start on demand: a one-region scan runs one, --regions all up to max_workers
        with ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="sgaudit-aws") as pool:
            accounts = list(pool.map(lambda t: self._account(t, home[t]), self.targets))
            jobs = [(a, r) for a in accounts if a.error is None for r in a.regions]
            counts = [0, 0]
            lock = threading.Lock()

            def run(job: tuple[_Account, str]) -> RegionScan:
                result = self._region(job[0], job[1], select)
                if self.progress is not None:
                    with lock:
                        counts[0] += 1
                        counts[1] += len(result.security_groups)
                        self.progress(counts[0], len(jobs), counts[1])
                return result

            results = iter(list(pool.map(run, jobs)))
        scans: list[RegionScan] = []
        for account in accounts:
            if account.error is not None:
                scans.append(RegionScan(account.account, account.error.region, errors=[account.error]))
            else:
                scans.extend(next(results) for _ in account.regions)
        return scans

    def _home_region(self, target: AwsTarget) -> str:
        """Where account-level calls (STS, DescribeRegions) go."""
        if isinstance(self.regions, tuple | list) and self.regions:
            return self.regions[0]
        region = self.sessions.default_region(target.profile)
        if region:
            return region
        if self.regions == "all":
            return "us-east-1"
        raise UsageError("no AWS region configured: pass --regions REGION[,REGION...] (or 'all'), "
                         "or set AWS_REGION")

    def _account(self, target: AwsTarget, home: str) -> _Account:
        """Who the target is and which regions to scan; a failure is recorded, not raised."""
        account = _Account(target, target.role_account or target.label)
        operation = "AssumeRole" if target.role_arn else "GetCallerIdentity"
        try:
            if target.role_arn:
                self.sessions.assume(target, home, self.client_hook)
            else:
                account.account = self.sessions.account(target, home, self.client_hook)
            if self.regions == "all":
                operation = "DescribeRegions"
                ec2 = self.sessions.client("ec2", target, home, self.client_hook)
                answer = ec2.describe_regions(AllRegions=False)
                # regions not opted in are not the account's: skipped, not errors
                account.regions = tuple(sorted(
                    r["RegionName"] for r in answer_items(answer, "Regions")
                    if r.get("OptInStatus", "opt-in-not-required") in ("opt-in-not-required", "opted-in")))
            elif self.regions:
                account.regions = tuple(self.regions)
            else:
                account.regions = (home,)
        except NoCredentialsError:
            raise CredentialsError(CREDENTIALS_HELP) from None
        except AWS_FAILURES as exc:
            account.error = error_of(exc, account.account, home, operation)
        return account

    def _region(self, account: _Account, region: str, select: Matcher) -> RegionScan:
        try:
            ec2 = self.sessions.client("ec2", account.target, region, self.client_hook)
        except AWS_FAILURES as exc:
            return RegionScan(account.account, region,
                              errors=[error_of(exc, account.account, region, "AssumeRole")])
        return scan_region(ec2, account.account, region, select)


__all__ = [
    "AwsSource",
    "AwsTarget",
    "RegionScan",
    "Sessions",
    "check_endpoint_url",
    "ec2_client",
    "parse_regions",
    "scan_region",
    "targets_from_options",
    "to_snapshot",
]
