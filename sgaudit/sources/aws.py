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
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import boto3
from botocore.awsrequest import (
    AWSHTTPConnection,
    AWSHTTPConnectionPool,
    AWSHTTPSConnection,
    AWSHTTPSConnectionPool,
)
from botocore.config import Config
from botocore.credentials import RefreshableCredentials, create_assume_role_refresher
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    ProfileNotFound,
)
from botocore.parsers import ResponseParserError

from sgaudit.errors import CredentialsError, UsageError
from sgaudit.model import AccountSummary, Group, GroupResult, Matcher, Rule, ScanError, Snapshot, Vpc
from sgaudit.sources.awsjson import (
    ShapeError,
    aws_error,
    chunks,
    group_selected,
    parse_group,
    parse_vpc,
    prefix_list_cidrs,
    read_ingress,
)
from sgaudit.sources.deadlines import WATCHDOG as _WATCHDOG
from sgaudit.sources.deadlines import Call, DeadlineExceeded, start_call

if TYPE_CHECKING:
    from botocore.client import BaseClient

#: retries are bounded (a throttled region gives up in seconds, not minutes) and adaptive
#: (the client slows itself down when AWS says so, rather than hammering production)
MAX_ATTEMPTS = 3
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 30
#: threads across accounts x regions (--max-workers); see bench/bench_org.py and the README
MAX_WORKERS = 16
#: no account sees more than this many calls at once (its API rate limits are its own)
PER_ACCOUNT = 4
#: every API call (retries included) ends within this many seconds, answered or not
CALL_DEADLINE = 60.0
#: the whole scan ends within this many seconds (--timeout); what is unread by then is an error
SCAN_TIMEOUT = 3600.0
PAGE_SIZE = 1000
#: AWS accepts at most 200 values in one filter

CREDENTIALS_HELP = ("no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID and "
                    "AWS_SECRET_ACCESS_KEY, run `aws configure` or `aws sso login`, or pass --profile NAME")
_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
_ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::([0-9]{12}):role/.+$")
_EXTERNAL_ID_RE = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
_ROLE_NAME_RE = re.compile(r"^(?!arn:)[A-Za-z0-9+=,.@_/-]{1,576}$")
_ACCOUNT_ID_RE = re.compile(r"^[0-9]{12}$")
#: what the report calls a failure of the organization's own API
ORGANIZATION = "organization"

ClientHook = Callable[["BaseClient"], None]


def client_config() -> Config:
    return Config(retries={"mode": "adaptive", "total_max_attempts": MAX_ATTEMPTS},
                  connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT,
                  user_agent_extra="sgaudit")


# -- deadlines ------------------------------------------------------------------------------

_local = threading.local()


def _arm(conn: Any) -> None:
    """Called as a request goes out: the thread's current call now waits on ``conn``."""
    call: Call | None = getattr(_local, "call", None)
    if call is not None:
        call.wait_on(conn)


class _DeadlineHTTPConnection(AWSHTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> Any:
        _arm(self)
        return super().request(*args, **kwargs)


class _DeadlineHTTPSConnection(AWSHTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> Any:
        _arm(self)
        return super().request(*args, **kwargs)


class _DeadlineHTTPPool(AWSHTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _DeadlineHTTPSPool(AWSHTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


def install_deadlines(client: BaseClient, sessions: Sessions) -> None:
    """Every call of ``client`` gets a total deadline: ``sessions.call_deadline`` seconds from
    its start (retries included), never past ``sessions.scan_deadline``."""
    pools = client._endpoint.http_session._pool_classes_by_scheme
    pools.update({"http": _DeadlineHTTPPool, "https": _DeadlineHTTPSPool})

    def begin(**_: Any) -> None:
        _end()
        _local.timed_out = None
        call = start_call(sessions.call_deadline, sessions.scan_deadline, sessions.scan_timeout)
        _local.call = call
        _WATCHDOG.add(call)

    events = client.meta.events
    events.register("before-call.*.*", begin)
    events.register("after-call.*.*", lambda **_: _end())
    events.register("after-call-error.*.*", lambda **_: _end())


def _end() -> None:
    call: Call | None = getattr(_local, "call", None)
    if call is not None:
        _local.call = None
        _WATCHDOG.discard(call)
        if call.tripped:
            _local.timed_out = call.limit


def _take_timeout() -> str | None:
    """What ran out for this thread's last call, if it ran out of time (once)."""
    limit: str | None = getattr(_local, "timed_out", None)
    _local.timed_out = None
    return limit


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

    def __init__(self, endpoint_url: str | None = None, *,
                 clock: Callable[[], Any] | None = None) -> None:
        self.endpoint_url = endpoint_url
        #: seconds every call may take (see install_deadlines); the scan's end, while one runs
        self.call_deadline = CALL_DEADLINE
        self.scan_deadline: float | None = None
        self.scan_timeout = SCAN_TIMEOUT
        #: when assumed credentials count as expired (botocore's; tests move it forward)
        self.clock = clock
        self._lock = threading.RLock()
        self._sessions: dict[str | None, boto3.Session] = {}
        self._assumed: dict[tuple[str | None, str, str | None], RefreshableCredentials] = {}
        #: one STS client per base profile and region assumes (and renews) every role
        self._sts: dict[tuple[str | None, str], BaseClient] = {}
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
               hook: ClientHook | None = None, *, cache: bool = True) -> BaseClient:
        """A client for ``service`` in ``region`` with the target's (possibly assumed) identity.

        Made once and shared, unless ``hook`` is given (a hooked client is the caller's own) or
        ``cache`` is false (an organization scan drops each account's clients when it is done,
        so memory does not grow with the number of accounts).
        May raise ClientError/BotoCoreError while assuming the role."""
        key = (service, target, region)
        cache = cache and hook is None
        if cache:
            with self._lock:
                found = self._clients.get(key)
            if found is not None:
                return found
        credentials = self.assume(target, region, hook) if target.role_arn else None
        client = self._make(target.profile, service, region, credentials, hook)
        if cache:
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

    def _make(self, profile: str | None, service: str, region: str,
              credentials: RefreshableCredentials | None, hook: ClientHook | None) -> BaseClient:
        session = self.session(profile)
        keys: dict[str, str] = {}
        if credentials is not None:
            frozen = credentials.get_frozen_credentials()
            keys = {"aws_access_key_id": frozen.access_key, "aws_secret_access_key": frozen.secret_key,
                    "aws_session_token": frozen.token}
        with self._lock:
            client = session.client(service, region_name=region, endpoint_url=self.endpoint_url,
                                    config=client_config(), **keys)
        if credentials is not None:
            # sign with the refreshable credentials, not the frozen copy: a long scan renews
            # them before they expire (botocore's RefreshableCredentials, AssumeRole refresher)
            client._request_signer._credentials = credentials
        install_deadlines(client, self)
        if hook is not None:
            hook(client)
        return client

    def assume(self, target: AwsTarget, region: str,
               hook: ClientHook | None = None) -> RefreshableCredentials:
        """The target role's credentials, assumed once per role and renewed by botocore before
        they expire (15 minutes ahead, as for its own assume-role profiles)."""
        assert target.role_arn
        key = (target.profile, target.role_arn, target.external_id)
        with self._lock:
            found = self._assumed.get(key)
            sts = self._sts.get((target.profile, region))
        if found is not None:
            return found
        if sts is None:
            sts = self._make(target.profile, "sts", region, None, hook)
            with self._lock:
                sts = self._sts.setdefault((target.profile, region), sts)
        params: dict[str, Any] = {"RoleArn": target.role_arn, "RoleSessionName": "sgaudit"}
        if target.external_id:
            params["ExternalId"] = target.external_id
        refresh = create_assume_role_refresher(sts, params)
        found = RefreshableCredentials.create_from_metadata(refresh(), refresh, "assume-role")
        if self.clock is not None:
            found._time_fetcher = self.clock
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
AWS_FAILURES = (ClientError, BotoCoreError, ResponseParserError, MalformedAnswer, DeadlineExceeded)


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
    limit = _take_timeout()
    if limit is not None or isinstance(exc, DeadlineExceeded):
        why = str(exc) if isinstance(exc, DeadlineExceeded) else f"no complete answer within {limit}"
        return ScanError(account, region, operation, f"timed out: {why}", "Timeout")
    if isinstance(exc, ClientError):
        code, message = aws_error(exc) or ("", "")
        code, message = code or "ClientError", message or str(exc)
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
            for chunk in chunks(sorted(set(select.group_ids)))]


def scan_region(ec2: BaseClient, account: str, region: str, select: Matcher) -> RegionScan:
    """Read one account/region with ``ec2``.  Never raises for an AWS failure: it is recorded."""
    scan = RegionScan(account, region)
    try:
        _read_groups(ec2, scan, select)
    except AWS_FAILURES as exc:
        scan.security_groups.clear()  # a region is read whole or not at all
        scan.errors.append(error_of(exc, account, region, "DescribeSecurityGroups"))
        return scan
    vpc_ids, list_ids = _references(scan.security_groups, select)
    if vpc_ids:
        try:
            paginator = ec2.get_paginator("describe_vpcs")
            for chunk in chunks(vpc_ids):
                for page in paginator.paginate(Filters=[{"Name": "vpc-id", "Values": chunk}]):
                    scan.vpcs.extend(answer_items(page, "Vpcs"))
        except AWS_FAILURES as exc:
            scan.vpcs.clear()
            scan.errors.append(error_of(exc, account, region, "DescribeVpcs"))
    for list_id in list_ids:
        _read_prefix_list(ec2, scan, list_id)
    return scan


def _read_groups(ec2: BaseClient, scan: RegionScan, select: Matcher) -> None:
    paginator = ec2.get_paginator("describe_security_groups")
    for filters in group_filters(select):
        params: dict[str, Any] = {"PaginationConfig": {"PageSize": PAGE_SIZE}}
        if filters:
            params["Filters"] = filters
        for page in paginator.paginate(**params):
            scan.security_groups.extend(answer_items(page, "SecurityGroups"))


def _read_prefix_list(ec2: BaseClient, scan: RegionScan, list_id: str) -> None:
    try:
        entries: list[dict[str, Any]] = []
        paginator = ec2.get_paginator("get_managed_prefix_list_entries")
        for page in paginator.paginate(PrefixListId=list_id):
            entries.extend(answer_items(page, "Entries"))
        scan.prefix_lists[list_id] = entries
    except AWS_FAILURES as exc:
        scan.errors.append(error_of(exc, scan.account, scan.region,
                                    f"GetManagedPrefixListEntries {list_id}"))


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


def merge_snapshots(parts: Sequence[Snapshot], accounts: AccountSummary | None = None) -> Snapshot:
    """One snapshot from the per-account/region ones a streaming scan made (in their order)."""
    vpcs: dict[tuple[str, str], Any] = {}
    prefix_lists: dict[tuple[str, str], tuple[str, ...]] = {}
    for part in parts:
        vpcs.update(part.vpcs)
        prefix_lists.update(part.prefix_lists)
    return Snapshot(groups=tuple(g for p in parts for g in p.groups), vpcs=vpcs,
                    prefix_lists=prefix_lists, errors=tuple(e for p in parts for e in p.errors),
                    scanned=tuple(x for p in parts for x in p.scanned),
                    read=tuple(x for p in parts for x in p.read), accounts=accounts)


# -- organizations ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class OrgScope:
    """``--org-role NAME``: every ACTIVE account that ``organizations:ListAccounts`` returns to
    the caller (``profile`` or the standard chain), narrowed by ``accounts`` (only these, when
    given) and ``exclude``; each read through ``arn:PARTITION:iam::ID:role/ROLE``."""

    role: str
    external_id: str | None = None
    accounts: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    profile: str | None = None


def org_scope(role: str, external_id: str | None, accounts: Sequence[str], exclude: Sequence[str],
              profiles: Sequence[str], role_arns: Sequence[str]) -> OrgScope:
    """Validate the organization options (one line, exit 2 on a bad value)."""
    if role_arns:
        raise UsageError("--org-role and --role-arn do not combine: --org-role assumes the named "
                         "role in every account of the organization")
    if len(profiles) > 1:
        raise UsageError("with --org-role, give at most one --profile (the credentials that list "
                         "the organization's accounts and assume the roles)")
    if not _ROLE_NAME_RE.match(role):
        raise UsageError(f"--org-role {role!r}: expected a role name such as sgaudit-read "
                         "(the name, not an ARN)")
    if external_id is not None and not _EXTERNAL_ID_RE.match(external_id):
        raise UsageError(f"--external-id {external_id!r}: expected 2-1224 characters of letters, "
                         "digits and +=,.@:/-_ (as sts:AssumeRole requires)")
    if accounts and set(accounts) <= set(exclude):
        raise UsageError(f"every account asked for ({', '.join(dict.fromkeys(accounts))}: --accounts "
                         "or the policy's accounts) is also excluded (--exclude-accounts or "
                         "exclude_accounts): nothing would be read")
    return OrgScope(role.strip("/"), external_id, tuple(dict.fromkeys(accounts)),
                    tuple(dict.fromkeys(exclude)), profiles[0] if profiles else None)


def parse_account_list(text: str | None, option: str) -> tuple[str, ...]:
    """``--accounts`` / ``--exclude-accounts``: comma-separated 12-digit account ids."""
    if text is None:
        return ()
    ids = tuple(dict.fromkeys(a.strip() for a in text.split(",") if a.strip()))
    bad = next((a for a in ids if not _ACCOUNT_ID_RE.match(a)), None)
    if bad is not None or not ids:
        raise UsageError(f"{option} {text!r}: expected 12-digit AWS account ids separated by commas"
                         + (f" (bad: {bad!r})" if bad is not None else ""))
    return ids


@dataclass(slots=True)
class _Org:
    """What discovery found: the accounts to read and what the summary needs."""

    targets: list[AwsTarget] = field(default_factory=list)
    discovered: int = 0
    excluded: int = 0
    #: accounts asked for (--accounts) that ListAccounts did not return: failed, not discovered
    not_listed: int = 0
    errors: list[ScanError] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)


def discover(sessions: Sessions, scope: OrgScope, home: str, hook: ClientHook | None = None) -> _Org:
    """List the organization's accounts (paginated) and decide which to read.

    Fails closed: a failure of the listing itself is one error for the whole organization (the
    scan is incomplete: never "0 accounts, no drift"); an account in scope that is not ACTIVE,
    or that was asked for but not listed, is an error of that account."""
    base = AwsTarget(scope.profile)
    org = _Org()
    operation = "GetCallerIdentity"
    try:
        identity = sessions.client("sts", base, home, hook).get_caller_identity()
        arn = identity.get("Arn")
        if not isinstance(arn, str) or arn.count(":") < 5:
            raise MalformedAnswer("GetCallerIdentity answered without an Arn: not an AWS answer")
        partition = arn.split(":")[1]
        operation = "ListAccounts"
        listed = _list_accounts(sessions.client("organizations", base, home, hook))
    except NoCredentialsError:
        raise CredentialsError(CREDENTIALS_HELP) from None
    except AWS_FAILURES as exc:
        org.errors.append(error_of(exc, ORGANIZATION, home, operation))
        return org
    problem = _listing_problem(listed)
    if problem:
        org.errors.append(ScanError(ORGANIZATION, home, "ListAccounts", *problem))
        return org
    _choose(org, scope, listed, partition, home)
    if not org.targets and not org.errors:
        raise UsageError(f"every account of the organization ({org.discovered} listed) is excluded "
                         "(--accounts, --exclude-accounts or the policy's keys): nothing would be read")
    return org


def _list_accounts(client: BaseClient) -> list[Any]:
    """Every page of ListAccounts.  botocore reads an answer item that is not an object with
    ``.get`` and fails with AttributeError/TypeError: that is a malformed answer (an error of
    the organization, exit 3), not a bug of sgaudit."""
    listed: list[Any] = []
    try:
        for page in client.get_paginator("list_accounts").paginate():
            listed.extend(answer_items(page, "Accounts"))
    except (AttributeError, TypeError) as exc:
        raise MalformedAnswer(f"ListAccounts answered in a shape that is not an organization's "
                              f"(botocore: {type(exc).__name__}: {exc})") from None
    return listed


def _listing_problem(listed: Sequence[Any]) -> tuple[str, str] | None:
    """Why a ListAccounts answer is not an organization's, and the error code (None: it is)."""
    if not listed:  # an organization always lists its management account
        return ("ListAccounts returned no account at all (an organization lists at least its "
                "management account): not an organization's answer", "NoAccounts")
    bad = next((i for i, raw in enumerate(listed) if not isinstance(raw, Mapping)), None)
    if bad is not None:
        return (f"ListAccounts gave Accounts[{bad}] = {_one_line(repr(listed[bad]), 60)}, not an "
                "account object: not an organization's answer", MalformedAnswer.__name__)
    return None


def _choose(org: _Org, scope: OrgScope, listed: Sequence[Mapping[str, Any]], partition: str,
            home: str) -> None:
    wanted, excluded = set(scope.accounts), set(scope.exclude)
    seen: set[str] = set()
    for raw in listed:
        account, status = str(raw.get("Id", "")), str(raw.get("Status", ""))
        if account in seen:
            continue
        seen.add(account)
        org.discovered += 1
        org.names[account] = str(raw.get("Name", ""))
        if account in excluded or (wanted and account not in wanted):
            org.excluded += 1
        elif not _ACCOUNT_ID_RE.match(account):
            org.errors.append(ScanError(account or "?", home, "ListAccounts",
                                        f"ListAccounts gave an account id {account!r} that is not "
                                        "12 digits; not read", "MalformedResponse"))
        elif status != "ACTIVE":
            org.errors.append(ScanError(account, home, "ListAccounts",
                                        f"the account is {status or 'of unknown status'}, not "
                                        "ACTIVE: not read (exclude it to accept that)",
                                        "AccountNotActive"))
        else:
            org.targets.append(AwsTarget(scope.profile, f"arn:{partition}:iam::{account}:role/"
                                                        f"{scope.role}", scope.external_id))
    for account in sorted(wanted - seen - excluded):
        org.not_listed += 1
        org.errors.append(ScanError(account, home, "ListAccounts",
                                    "not among the accounts ListAccounts returned: not read",
                                    "AccountNotListed"))


def summarize(org: _Org, errors: Iterable[ScanError]) -> AccountSummary:
    """Accounts discovered, read, failed and excluded (failed: any error of the account)."""
    in_scope = {t.role_account or t.label for t in org.targets}
    failed = sorted({e.account for e in errors if e.account != ORGANIZATION}
                    | {e.account for e in org.errors if e.account != ORGANIZATION})
    return AccountSummary(discovered=org.discovered, read=len(in_scope - set(failed)),
                          failed=len(failed), excluded=org.excluded, failed_ids=tuple(failed),
                          names=tuple(sorted(org.names.items())), not_listed=org.not_listed)


# -- the source --------------------------------------------------------------------------

#: progress callback: (finished region scans, all region scans known so far, groups read);
#: organization scans add accounts_done=, accounts_total= and errors=
ProgressHook = Callable[..., None]


@dataclass(slots=True)
class _Account:
    target: AwsTarget
    account: str
    regions: tuple[str, ...] = ()
    error: ScanError | None = None


class AwsSource:
    """Scans every target account (or every account of an organization) in every requested
    region.

    ``regions``: None (each account's configured region), "all" (each account's enabled
    regions, from DescribeRegions), or explicit names.  ``client_hook`` sees every client made
    (tests and the benchmark count API calls with botocore's event hooks).  ``timeout`` bounds
    the scan: what is not read by then is an error of its account/region; ``spent`` seconds of
    it went to another cloud's scan before this one (the bound is the whole command's)."""

    def __init__(self, targets: Sequence[AwsTarget] = (AwsTarget(),),
                 regions: Sequence[str] | str | None = None, endpoint_url: str | None = None,
                 *, max_workers: int = MAX_WORKERS, client_hook: ClientHook | None = None,
                 progress: ProgressHook | None = None, sessions: Sessions | None = None,
                 org: OrgScope | None = None, timeout: float = SCAN_TIMEOUT,
                 per_account: int = PER_ACCOUNT, spent: float = 0.0) -> None:
        self.targets = tuple(targets) or (AwsTarget(),)
        self.regions = regions
        if sessions is not None and sessions.endpoint_url != endpoint_url:
            raise ValueError("endpoint_url differs from the given sessions' endpoint_url")
        self.sessions = sessions if sessions is not None else Sessions(endpoint_url)
        self.max_workers = max(1, max_workers)
        self.client_hook = client_hook
        self.progress = progress
        self.org = org
        self.timeout = timeout
        self.spent = spent
        self.per_account = max(1, per_account)
        #: the organization's account summary, after a scan with ``org``
        self.accounts: AccountSummary | None = None
        #: account id -> target, for reading rule ids after the audit
        self._by_account: dict[str, AwsTarget] = {}
        self._org: _Org | None = None

    def read(self, select: Matcher) -> Snapshot:
        """Read and normalise as it goes: each account/region's raw answers are dropped once
        parsed, so memory holds the groups, not the AWS JSON."""
        parts = self._run(select, lambda scan: to_snapshot([scan], select))
        snapshot = merge_snapshots(parts, self.accounts)
        if self.org is not None:  # one line for the report header, not one per account/region
            places = len(snapshot.read)
            snapshot = replace(snapshot, scanned=(
                f"aws organization, role {self.org.role}: {places} account/region(s)",))
        return snapshot

    def scan(self, select: Matcher) -> list[RegionScan]:
        """The raw shapes per account and region, in target order then region order."""
        return self._run(select, lambda scan: scan)

    def _run(self, select: Matcher, consume: Callable[[RegionScan], Any]) -> list[Any]:
        self.sessions.scan_deadline = time.monotonic() + self.timeout - self.spent
        self.sessions.scan_timeout = self.timeout
        try:
            targets, before = self._targets()
            out = _Run(self, select, consume, targets).run()
        finally:
            self.sessions.scan_deadline = None
        parts = [consume(RegionScan(e.account, e.region, errors=[e])) for e in before] + out
        if self._org is not None:
            self.accounts = summarize(self._org, (e for p in out for e in _errors_of(p)))
        return parts

    def _targets(self) -> tuple[list[AwsTarget], list[ScanError]]:
        """The accounts to read, and errors found before reading any (organization scans)."""
        if self.org is None:
            for target in self.targets:
                self.sessions.require_credentials(target)
            return list(self.targets), []
        base = AwsTarget(self.org.profile)
        self.sessions.require_credentials(base)
        self._org = discover(self.sessions, self.org, self._home_region(base), self.client_hook)
        return self._org.targets, self._org.errors

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
                ec2 = self._client(target, home)
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

    def _client(self, target: AwsTarget, region: str) -> BaseClient:
        """Organization scans do not keep clients: an account's are dropped when it is done."""
        return self.sessions.client("ec2", target, region, self.client_hook, cache=self.org is None)

    def _region(self, account: _Account, region: str, select: Matcher) -> RegionScan:
        try:
            ec2 = self._client(account.target, region)
        except AWS_FAILURES as exc:
            return RegionScan(account.account, region,
                              errors=[error_of(exc, account.account, region, "AssumeRole")])
        return scan_region(ec2, account.account, region, select)

    # -- rule ids of drifted groups --------------------------------------------------------

    def with_rule_ids(self, results: Sequence[GroupResult]) -> tuple[tuple[GroupResult, ...], list[str]]:
        """Fill in ``rule_ids`` of extra findings: ``DescribeSecurityGroupRules`` for the groups
        with such findings only (≤ 200 ids a call, one series per account/region), so
        compliant groups cost nothing more.  A failure leaves the ids empty and is a warning:
        the verdict does not depend on them."""
        places: dict[str, dict[str, list[str]]] = {}  # account -> region -> group ids
        for result in results:
            if any(f.kind == "extra" and not f.rule_ids for f in result.findings):
                group = result.group
                places.setdefault(group.account, {}).setdefault(group.region, []).append(group.group_id)
        if not places:
            return tuple(results), []
        warnings: list[str] = []
        found: dict[tuple[str, str, str], tuple[Rule, ...]] = {}

        def read(account: str) -> None:  # one account's regions in turn: paced as the scan
            for region, group_ids in places[account].items():
                try:
                    rules = read_ingress(self._client(self._target_of(account), region), group_ids)
                except (*AWS_FAILURES, ValueError) as exc:
                    why = error_of(exc, account, region, "DescribeSecurityGroupRules").message \
                        if isinstance(exc, AWS_FAILURES) else str(exc)
                    warnings.append(f"rule ids of {len(group_ids)} drifted group(s) in "
                                    f"{account}/{region} could not be read: {why}")
                    continue
                for gid, group_rules in rules.items():
                    found[(account, region, gid)] = group_rules

        self.sessions.scan_deadline = time.monotonic() + self.timeout
        try:
            with ThreadPoolExecutor(max_workers=min(self.max_workers, len(places))) as pool:
                list(pool.map(read, list(places)))
        finally:
            self.sessions.scan_deadline = None
        return tuple(_attach(r, found) for r in results), warnings

    def client_of(self, service: str, account: str, region: str) -> BaseClient:
        """A client for ``service`` with the identity that scanned ``account`` (its profile, or
        the role assumed in it): for what a command does in the scanned accounts afterwards
        (Security Hub).  ValueError when no credentials of the scan reach the account."""
        return self.sessions.client(service, self._target_of(account), region, cache=self.org is None)

    def _target_of(self, account: str) -> AwsTarget:
        if not self._by_account:
            for target in (self._org.targets if self._org is not None else self.targets):
                key = target.role_account or self.sessions.account(target, self._home_region(target))
                self._by_account[key] = target
        try:
            return self._by_account[account]
        except KeyError:
            raise ValueError(f"no credentials of account {account} in this scan") from None


def _attach(result: GroupResult, found: Mapping[tuple[str, str, str], tuple[Rule, ...]]) -> GroupResult:
    """An extra finding names one actual rule (protocol, ports, one source): its ids are those
    of the rules with exactly that shape."""
    group = result.group
    rules = found.get((group.account, group.region, group.group_id))
    if not rules:
        return result
    ids: dict[tuple[str, int, int, str], list[str]] = {}
    for rule in rules:
        if rule.rule_id:
            shape = (rule.protocol, rule.from_port, rule.to_port, rule.source)
            ids.setdefault(shape, []).append(rule.rule_id)
    findings = tuple(
        replace(f, rule_ids=tuple(sorted(ids.get((f.protocol, f.from_port, f.to_port, f.source), ()))))
        if f.kind == "extra" and not f.rule_ids else f
        for f in result.findings)
    return replace(result, findings=findings)


def _errors_of(part: Any) -> Iterable[ScanError]:
    return part.errors


class _Run:
    """One scan's scheduling: accounts are assumed, then their regions read, in a pool of
    ``max_workers`` threads; no account has more than ``per_account`` jobs at once, and an
    account's regions go before new accounts are started (so finished accounts free their
    credentials and clients early)."""

    def __init__(self, source: AwsSource, select: Matcher, consume: Callable[[RegionScan], Any],
                 targets: Sequence[AwsTarget]) -> None:
        self.source = source
        self.select = select
        self.consume = consume
        self.targets = list(targets)
        self.home = {t: source._home_region(t) for t in dict.fromkeys(targets)}
        self.results: list[list[Any]] = [[] for _ in self.targets]
        self.waiting: deque[int] = deque(range(len(self.targets)))  # accounts not started
        self.ready: dict[int, deque[tuple[int, str]]] = {}  # account -> regions to read
        self.busy: dict[int, int] = {}
        self.left: dict[int, int] = {}
        self.counts = {"done": 0, "total": 0, "groups": 0, "accounts": 0, "errors": 0}
        self.account: dict[int, _Account] = {}

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
        scan = self.source._region(self.account[index], region, self.select)
        groups, errors = len(scan.security_groups), len(scan.errors)
        return self.consume(scan), groups, errors

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

    def _assumed(self, index: int, account: _Account) -> None:
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


__all__ = [
    "AwsSource",
    "AwsTarget",
    "OrgScope",
    "RegionScan",
    "Sessions",
    "check_endpoint_url",
    "discover",
    "ec2_client",
    "merge_snapshots",
    "org_scope",
    "parse_account_list",
    "parse_regions",
    "scan_region",
    "targets_from_options",
    "to_snapshot",
]
