"""The per-region scan with botocore's Stubber: pagination (moto never paginates), filters, and
what a failure in each call leaves behind.  No network at all."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from sgaudit.model import Matcher, ScanError
from sgaudit.sources import aws

COILED = Matcher(tags=(("owner", "coiled"),))
TAG_FILTER = [{"Name": "tag:owner", "Values": ["coiled"]}]


@pytest.fixture
def client() -> Any:
    # a loopback endpoint and fake keys, though the Stubber answers before anything is sent
    return boto3.client("ec2", region_name="eu-west-1", endpoint_url="http://127.0.0.1:9",
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=aws.client_config())


def group(n: int, vpc: str = "vpc-a", tagged: bool = True, **extra: Any) -> dict[str, Any]:
    tags = [{"Key": "owner", "Value": "coiled"}] if tagged else []
    rule = {"IpProtocol": "tcp", "FromPort": 8786, "ToPort": 8787, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    return {"GroupId": f"sg-{n:017x}", "GroupName": f"coiled-{n}", "VpcId": vpc,
            "OwnerId": "111122223333", "Description": "d", "Tags": tags, "IpPermissions": [rule],
            **extra}


def vpc(vpc_id: str, cidr: str) -> dict[str, Any]:
    return {"VpcId": vpc_id, "CidrBlock": cidr, "OwnerId": "111122223333", "State": "available",
            "CidrBlockAssociationSet": [{"CidrBlock": cidr, "CidrBlockState": {"State": "associated"}}]}


def test_one_page_per_thousand_groups_then_one_describe_vpcs(client: Any) -> None:
    pages = [[group(i, vpc="vpc-a" if i % 2 else "vpc-b") for i in range(s, min(s + 1000, 2005))]
             for s in range(0, 2005, 1000)]
    with Stubber(client) as stub:
        stub.add_response("describe_security_groups", {"SecurityGroups": pages[0], "NextToken": "t1"},
                          {"Filters": TAG_FILTER, "MaxResults": 1000})
        stub.add_response("describe_security_groups", {"SecurityGroups": pages[1], "NextToken": "t2"},
                          {"Filters": TAG_FILTER, "MaxResults": 1000, "NextToken": "t1"})
        stub.add_response("describe_security_groups", {"SecurityGroups": pages[2]},
                          {"Filters": TAG_FILTER, "MaxResults": 1000, "NextToken": "t2"})
        stub.add_response("describe_vpcs",
                          {"Vpcs": [vpc("vpc-b", "10.0.0.0/16"), vpc("vpc-a", "10.1.0.0/16")]},
                          {"Filters": [{"Name": "vpc-id", "Values": ["vpc-b", "vpc-a"]}]})
        scan = aws.scan_region(client, "111122223333", "eu-west-1", COILED)
        stub.assert_no_pending_responses()
    assert len(scan.security_groups) == 2005
    assert [v["VpcId"] for v in scan.vpcs] == ["vpc-b", "vpc-a"]
    assert scan.prefix_lists == {} and scan.errors == []
    snapshot = aws.to_snapshot([scan], COILED)
    assert len(snapshot.groups) == 2005
    assert {g.account for g in snapshot.groups} == {"111122223333"}
    assert set(snapshot.vpcs) == {("eu-west-1", "vpc-a"), ("eu-west-1", "vpc-b")}
    assert snapshot.scanned == ("aws 111122223333/eu-west-1",)


def test_referenced_prefix_lists_are_read_once_each(client: Any) -> None:
    pl_ref = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
              "PrefixListIds": [{"PrefixListId": "pl-1"}, {"PrefixListId": "pl-2"}]}
    groups = [group(1, IpPermissions=[pl_ref]), group(2, IpPermissions=[pl_ref]),
              group(3, tagged=False, IpPermissions=[{**pl_ref, "PrefixListIds": [{"PrefixListId": "pl-9"}]}])]
    with Stubber(client) as stub:
        stub.add_response("describe_security_groups", {"SecurityGroups": groups})
        stub.add_response("describe_vpcs", {"Vpcs": [vpc("vpc-a", "10.0.0.0/16")]})
        stub.add_response("get_managed_prefix_list_entries", {"Entries": [{"Cidr": "0.0.0.0/0"}]},
                          {"PrefixListId": "pl-1"})
        stub.add_client_error("get_managed_prefix_list_entries", "UnauthorizedOperation", "denied",
                              403, expected_params={"PrefixListId": "pl-2"})
        scan = aws.scan_region(client, "111122223333", "eu-west-1", COILED)
        stub.assert_no_pending_responses()
    # pl-9 belongs to an unselected group (tolerated by the server filter): never read
    assert scan.prefix_lists == {"pl-1": [{"Cidr": "0.0.0.0/0"}]}
    assert scan.errors == [ScanError("111122223333", "eu-west-1", "GetManagedPrefixListEntries pl-2",
                                     "denied", "UnauthorizedOperation")]
    snapshot = aws.to_snapshot([scan], COILED)
    assert snapshot.prefix_lists == {("eu-west-1", "pl-1"): ("0.0.0.0/0",)}
    assert [g.group_id for g in snapshot.groups] == [group(1)["GroupId"], group(2)["GroupId"]]


def test_a_failed_page_discards_the_region(client: Any) -> None:
    with Stubber(client) as stub:
        stub.add_response("describe_security_groups",
                          {"SecurityGroups": [group(1)], "NextToken": "t1"})
        stub.add_client_error("describe_security_groups", "UnauthorizedOperation",
                              "You are not authorized to perform this operation.", 403)
        scan = aws.scan_region(client, "111122223333", "eu-west-1", COILED)
    assert scan.security_groups == [] and scan.vpcs == []
    assert scan.errors == [ScanError("111122223333", "eu-west-1", "DescribeSecurityGroups",
                                     "You are not authorized to perform this operation.",
                                     "UnauthorizedOperation")]


def test_describe_vpcs_denied_keeps_the_groups(client: Any) -> None:
    with Stubber(client) as stub:
        stub.add_response("describe_security_groups", {"SecurityGroups": [group(1)]})
        stub.add_client_error("describe_vpcs", "UnauthorizedOperation", "no", 403)
        scan = aws.scan_region(client, "111122223333", "eu-west-1", COILED)
    assert len(scan.security_groups) == 1 and scan.vpcs == []
    assert [(e.operation, e.code) for e in scan.errors] == [("DescribeVpcs", "UnauthorizedOperation")]


def test_no_selected_group_no_describe_vpcs(client: Any) -> None:
    with Stubber(client) as stub:
        stub.add_response("describe_security_groups", {"SecurityGroups": [group(1, tagged=False)]})
        scan = aws.scan_region(client, "111122223333", "eu-west-1", COILED)
        stub.assert_no_pending_responses()
    assert scan.vpcs == [] and scan.errors == []


@pytest.mark.parametrize(("select", "expected"), [
    (Matcher(), [[]]),
    (COILED, [TAG_FILTER]),
    # names are globs AWS cannot evaluate exactly: filtered client-side only
    (Matcher(names=("coiled-*",)), [[]]),
    (Matcher(tags=(("owner", "coiled"), ("team", ""))),
     [[*TAG_FILTER, {"Name": "tag-key", "Values": ["team"]}]]),
    (Matcher(tags=(("owner", "coiled"),), group_ids=("sg-2", "sg-1")),
     [[*TAG_FILTER, {"Name": "group-id", "Values": ["sg-1", "sg-2"]}]]),
])
def test_server_side_filters(select: Matcher, expected: list[list[dict[str, Any]]]) -> None:
    assert aws.group_filters(select) == expected


def test_many_group_ids_are_split_into_filters_of_200() -> None:
    ids = tuple(f"sg-{i:04d}" for i in range(450))
    filters = aws.group_filters(Matcher(group_ids=ids))
    assert [len(f[0]["Values"]) for f in filters] == [200, 200, 50]


def test_group_id_selection_uses_the_filter(client: Any) -> None:
    select = Matcher(group_ids=(group(1)["GroupId"],))
    with Stubber(client) as stub:
        stub.add_response("describe_security_groups", {"SecurityGroups": [group(1)]},
                          {"Filters": [{"Name": "group-id", "Values": [group(1)["GroupId"]]}],
                           "MaxResults": 1000})
        stub.add_response("describe_vpcs", {"Vpcs": []})
        aws.scan_region(client, "111122223333", "eu-west-1", select)
        stub.assert_no_pending_responses()


@pytest.mark.parametrize(("profiles", "roles", "external", "expected"), [
    ((), (), None, [aws.AwsTarget()]),
    (("a", "b", "a"), (), None, [aws.AwsTarget("a"), aws.AwsTarget("b")]),
    (("base",), ("arn:aws:iam::111111111111:role/r", "arn:aws:iam::222222222222:role/r"), "ext-1",
     [aws.AwsTarget("base", "arn:aws:iam::111111111111:role/r", "ext-1"),
      aws.AwsTarget("base", "arn:aws:iam::222222222222:role/r", "ext-1")]),
])
def test_targets(profiles: tuple[str, ...], roles: tuple[str, ...], external: str | None,
                 expected: list[aws.AwsTarget]) -> None:
    assert list(aws.targets_from_options(profiles, roles, external)) == expected


def test_target_labels() -> None:
    assert aws.AwsTarget().label == "default credentials"
    assert aws.AwsTarget("prod").label == "profile prod"
    assert aws.AwsTarget(None, "arn:aws:iam::111111111111:role/audit").label == "111111111111"


@pytest.mark.parametrize(("text", "expected"), [
    (None, None), ("all", "all"), ("us-east-1", ("us-east-1",)),
    (" us-east-1, eu-west-1 ,us-east-1", ("us-east-1", "eu-west-1")),
    ("us-gov-west-1", ("us-gov-west-1",)),
])
def test_parse_regions(text: str | None, expected: object) -> None:
    assert aws.parse_regions(text) == expected
