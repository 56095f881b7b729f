"""Targets, sessions and credentials: who each scanned account is and the clients made for it."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.credentials import RefreshableCredentials, create_assume_role_refresher
from botocore.exceptions import (
    BotoCoreError,
    ProfileNotFound,
)

from sgaudit.errors import CredentialsError, UsageError

if TYPE_CHECKING:
    from botocore.client import BaseClient
from sgaudit.sources.aws.clients import (
    CALL_DEADLINE,
    SCAN_TIMEOUT,
    ClientHook,
    client_config,
    install_deadlines,
)
from sgaudit.sources.aws.failures import MalformedAnswer

CREDENTIALS_HELP = ("no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID and "
                    "AWS_SECRET_ACCESS_KEY, run `aws configure` or `aws sso login`, or pass --profile NAME")
_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")
_ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::([0-9]{12}):role/.+$")
_EXTERNAL_ID_RE = re.compile(r"^[\w+=,.@:/-]{2,1224}$")


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


