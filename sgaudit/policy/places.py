"""Where a waiver or an ``allow`` entry applies (``account``, ``region``, ``network``), and the
GCP rule sources they can name.

A network tag is a name within one network of one project, so a waiver written for staging's
``coiled-etl`` must be able to say it is staging's.  Each key says which cloud it is for (a
12-digit account or an AWS region: AWS; a project id, region ``global`` or a network: Google
Cloud); keys that contradict each other, or the waiver's target, are refused in one line.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from sgaudit.model import UNKNOWN, Place
from sgaudit.net import addresses
from sgaudit.policy.options import Where, expect_rule_source, show

PLACE_KEYS = ("account", "region", "network")
AWS, GCP = "AWS", "Google Cloud"
#: ASCII only (``re.ASCII`` and explicit classes): "１１１…" is not an account id
_ACCOUNT = re.compile(r"[0-9]{12}", re.ASCII)
#: a project id as findings carry it (from the resources' URLs): lower-case letters, digits and
#: hyphens, starting with a letter, optionally "domain:"-scoped; looser than the 6-30 characters
#: of a new project, so that every project a report names can be named here
_PROJECT = re.compile(r"(?:[a-z0-9.-]+:)?[a-z][a-z0-9-]{0,62}", re.ASCII)
_AWS_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}", re.ASCII)
#: every GCP target is global (a network tag spans the network's regions)
GCP_REGION = "global"
#: a network name, and a network tag: RFC 1035 labels
_NAME = re.compile(r"[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?", re.ASCII)
#: a source's value after its kind: printable, no spaces (a report prints it as one word)
_TOKEN_VALUE = re.compile(r"[!-~]{1,1024}", re.ASCII)
_EMAIL = re.compile(r"[!-?A-~]{1,256}@[!-?A-~]{1,256}", re.ASCII)  # printable, one "@"


def parse_place(fields: Mapping[str, tuple[Any, Where]], target: str | None) -> Place:
    """The ``account``/``region``/``network`` of an entry; ``target`` is a waiver's group_id
    (None for an ``allow`` entry, which may be for either cloud)."""
    cloud, why = (None, "") if target is None else (
        (AWS, f"group_id {target} is an AWS security group") if target.startswith("sg-")
        else (GCP, f"group_id {target} is a Google Cloud network tag"))
    values: dict[str, str] = {}
    for key in PLACE_KEYS:
        if key not in fields:
            continue
        value, where = fields[key]
        text, its_cloud = _place_value(key, value, where)
        if cloud is not None and its_cloud != cloud:
            raise where.fail(f"{show(value)} is for {its_cloud}, but {why}")
        cloud, why = its_cloud, f"{key} {show(value)} is for {its_cloud}"
        values[key] = text
    return Place(account=values.get("account"), region=values.get("region"),
                 network=values.get("network"))


def _place_value(key: str, value: object, where: Where) -> tuple[str, str]:
    """The value as text and the cloud it is for; anything else is one line, exit 2."""
    if key == "account":
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if isinstance(text, str) and _ACCOUNT.fullmatch(text):
            return text, AWS
        if isinstance(value, str) and _PROJECT.fullmatch(value):
            return value, GCP
        hint = (" (quote it: YAML reads a number with a leading 0 differently)"
                if isinstance(value, int) and not isinstance(value, bool) else "")
        raise where.fail(f"expected a 12-digit AWS account id or a Google Cloud project id, "
                         f"got {show(value)}{hint}")
    if key == "region":
        if value == GCP_REGION:
            return value, GCP
        if isinstance(value, str) and (_AWS_REGION.fullmatch(value) or value == UNKNOWN):
            return value, AWS  # "unknown": an AWS CLI file read without a --region label
        raise where.fail(f"expected an AWS region such as us-east-1, or global (every Google Cloud "
                         f"target's region), got {show(value)}")
    if isinstance(value, str) and _NAME.fullmatch(value):
        return value, GCP
    raise where.fail(f"expected a Google Cloud network name (lower-case letters, digits and "
                     f"hyphens), got {show(value)}")


def expect_source(value: object, where: Where, warnings: list[str], target: str | None = None) -> str:
    """A source as reports print it: a CIDR, sg-…, pl-…, a GCP ``tag:``, ``sa:`` or policy
    token, or (for a waiver of a GCP target) the target's own tag, which is how a finding
    names a rule whose source tag is its own target."""
    if isinstance(value, str):
        if addresses.is_gcp_token(value):
            return expect_gcp_source(value, where)
        if target is not None and value == target and not target.startswith("sg-"):
            return value
        if not value.startswith(("sg-", "pl-")):
            try:
                addresses.parse_cidr(value)
            except addresses.CidrError:
                hint = unknown_source_kind(value)
                if hint:
                    raise where.fail(hint) from None
    return expect_rule_source(value, where, warnings)


def expect_gcp_source(value: str, where: Where) -> str:
    """``tag:NAME``, ``sa:EMAIL`` or ``KIND:VALUE`` (a policy rule's other sources and
    conditions), exactly as a finding prints it."""
    kind, _, rest = value.partition(":")
    if kind == "tag" and not _NAME.fullmatch(rest):
        raise where.fail(f"expected tag:NAME with a network tag (lower-case letters, digits and "
                         f"hyphens), got {show(value)}")
    if kind == "sa" and not _EMAIL.fullmatch(rest):
        raise where.fail(f"expected sa:EMAIL with a service account's email, got {show(value)}")
    if not _TOKEN_VALUE.fullmatch(rest):
        raise where.fail(f"expected {kind}:VALUE with a value of printable characters and no "
                         f"spaces, got {show(value)}")
    return value


def unknown_source_kind(value: str) -> str | None:
    """For a source that is not a CIDR but reads "word:…": a hint naming the known kinds."""
    kind, colon, _ = value.partition(":")
    if not colon or not kind.isascii() or not kind.isalpha():
        return None
    guess = difflib.get_close_matches(kind, addresses.GCP_SOURCE_KINDS, n=1, cutoff=0.6)
    known = ", ".join(f"{k}:" for k in addresses.GCP_SOURCE_KINDS)
    return f"unknown source kind {kind!r}{f'; did you mean {guess[0]!r}?' if guess else ''} " \
           f"(a CIDR, sg-…, pl-…, or one of {known})"
