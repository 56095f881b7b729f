"""Live AWS source: reads security groups, their VPCs and prefix lists with boto3.

The only package (with ``deliver.securityhub``) that imports boto3/botocore.  Import it only on a
live path (the CLI does so lazily), so snapshot runs never pay for loading boto3.

Per account and region it makes exactly: paginated ``DescribeSecurityGroups`` (1,000 a page,
server-side ``tag:`` / ``group-id`` filters where the selection allows), one ``DescribeVpcs``
for the VPCs of the selected groups, and ``GetManagedPrefixListEntries`` per referenced prefix
list.  Nothing per group; a ``read`` told which groups will show rule ids (``rule_ids_for``)
then reads ``DescribeSecurityGroupRules`` for those, in the same job (``rule_ids``).  Accounts x
regions run in a bounded thread pool.  Whatever cannot be read becomes a ``ScanError`` (fail
closed); only a total lack of credentials raises.

The modules, in the order a scan uses them: ``clients`` (retries, timeouts, deadlines),
``sessions`` (targets and credentials), ``org`` (organization discovery), ``regions`` (one
account/region read and normalised), ``schedule`` and ``source`` (the orchestration),
``rule_ids`` (ids of drifted rules, read as the scan goes), ``failures`` (what a failed call becomes).
"""

from __future__ import annotations

import boto3

from sgaudit.sources.aws.clients import (
    CALL_DEADLINE,
    CONNECT_TIMEOUT,
    MAX_ATTEMPTS,
    READ_TIMEOUT,
    SCAN_TIMEOUT,
    ClientHook,
    client_config,
    install_deadlines,
)
from sgaudit.sources.aws.failures import AWS_FAILURES, MalformedAnswer, answer_items, error_of
from sgaudit.sources.aws.org import ORGANIZATION, OrgScope, discover, org_scope, parse_account_list, summarize
from sgaudit.sources.aws.regions import (
    PAGE_SIZE,
    RegionScan,
    group_filters,
    merge_snapshots,
    scan_region,
    to_snapshot,
)
from sgaudit.sources.aws.sessions import (
    CREDENTIALS_HELP,
    AwsTarget,
    Sessions,
    check_endpoint_url,
    ec2_client,
    parse_regions,
    targets_from_options,
)
from sgaudit.sources.aws.source import MAX_WORKERS, PER_ACCOUNT, AwsSource

__all__ = [
    "AWS_FAILURES",
    "CALL_DEADLINE",
    "CONNECT_TIMEOUT",
    "CREDENTIALS_HELP",
    "MAX_ATTEMPTS",
    "MAX_WORKERS",
    "ORGANIZATION",
    "PAGE_SIZE",
    "PER_ACCOUNT",
    "READ_TIMEOUT",
    "SCAN_TIMEOUT",
    "AwsSource",
    "AwsTarget",
    "ClientHook",
    "MalformedAnswer",
    "OrgScope",
    "RegionScan",
    "Sessions",
    "answer_items",
    "boto3",
    "check_endpoint_url",
    "client_config",
    "discover",
    "ec2_client",
    "error_of",
    "group_filters",
    "install_deadlines",
    "merge_snapshots",
    "org_scope",
    "parse_account_list",
    "parse_regions",
    "scan_region",
    "summarize",
    "targets_from_options",
    "to_snapshot",
]
