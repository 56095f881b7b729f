"""Live Google Cloud scans: the real google-api-python-client talking HTTP to the compute fake on
127.0.0.1 (tests/gcp_fake.py).  Never any other address."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import FIXTURES, Run
from gcp_fake import TOKEN, ComputeFake, Fault, gcp_fake, network_url  # noqa: F401 - fixture
from moto_support import aws_env, closed_port_url, moto_url  # noqa: F401 - fixtures

from sgaudit.model import Matcher
from sgaudit.sources.gcp import limits
from sgaudit.sources.gcp.api import endpoint
from sgaudit.sources.gcp.source import GcpSource
from sgaudit.sources.snapshot import SnapshotSource

GCP = FIXTURES / "gcp"
PROJECT = "coiled-demo"
FILES = [str(GCP / n) for n in ("firewall-rules.json", "subnets.json", "networks.json",
                                "effective-firewalls-coiled-net.json", "instances.json")]


@pytest.fixture
def fake(gcp_fake: ComputeFake) -> ComputeFake:  # noqa: F811 - the fixture above
    gcp_fake.load_gcloud(PROJECT, GCP)
    return gcp_fake


def from_files() -> object:
    return SnapshotSource(FILES).read(Matcher()).gcp


def paths(fake: ComputeFake, project: str = PROJECT) -> list[str]:
    """The calls made, without the query string."""
    return [c.split("?")[0].removeprefix(f"projects/{project}/") for c in fake.calls(project)]


def test_live_scan_reads_what_the_gcloud_files_say(fake: ComputeFake) -> None:
    snap = GcpSource([PROJECT]).read()
    assert snap.errors == ()
    assert snap.gcp.read == ((PROJECT, "coiled-net"),)
    assert snap.scanned == (f"gcp:{PROJECT}",)
    assert snap.groups == ()
    assert snap.gcp == from_files()


def test_calls_per_project_pages_followed_nothing_per_rule(fake: ComputeFake) -> None:
    """14 rules at 2 per page: 7 firewall pages; one effective-firewalls call for the one network
    with rules, and one for the one region it has subnets in; instances because a rule targets a
    service account; the token on every call."""
    GcpSource([PROJECT]).read()
    assert paths(fake) == (["global/networks"] + ["global/firewalls"] * 7 + ["aggregated/subnetworks"]
                           + ["global/networks/coiled-net/getEffectiveFirewalls",
                              "regions/us-central1/firewallPolicies/getEffectiveFirewalls"]
                           + ["aggregated/instances"] * 3)
    assert [c for c in fake.calls() if "firewalls" in c and "pageToken" in c][-1].endswith("pageToken=12")
    assert {auth for _path, auth in fake.requests} == {f"Bearer {TOKEN}"}


def _drop_service_account_targets(fake: ComputeFake) -> None:
    """No rule or policy rule of the fake's project targets a service account."""
    state = fake.projects[PROJECT]
    state.firewalls = [r for r in state.firewalls if not r.get("targetServiceAccounts")]
    effective = state.effective["coiled-net"]
    effective["firewalls"] = state.firewalls
    for policy in effective["firewallPolicys"]:
        for rule in policy["rules"]:
            rule.pop("targetServiceAccounts", None)


def test_instances_are_read_only_when_a_rule_targets_service_accounts(fake: ComputeFake) -> None:
    _drop_service_account_targets(fake)
    snap = GcpSource([PROJECT]).read()
    assert "aggregated/instances" not in paths(fake)
    assert snap.gcp.instances == {}
    assert snap.errors == () and snap.gcp.read == ((PROJECT, "coiled-net"),)


def test_policy_rule_targeting_a_service_account_also_reads_instances(fake: ComputeFake) -> None:
    state = fake.projects[PROJECT]
    state.firewalls = [r for r in state.firewalls if not r.get("targetServiceAccounts")]
    state.effective["coiled-net"]["firewalls"] = state.firewalls
    snap = GcpSource([PROJECT]).read()
    assert paths(fake).count("aggregated/instances") == 3
    assert len(snap.gcp.instances[(PROJECT, "coiled-net")]) == 6


def test_projects_are_read_concurrently_and_one_failing_spoils_only_itself(fake: ComputeFake) -> None:
    fake.load_gcloud("coiled-other", GCP)  # its rules name coiled-demo's network: same rules
    fake.faults.append(Fault("coiled-other", 403, "firewalls"))
    snap = GcpSource([PROJECT, "coiled-other"]).read()
    assert snap.gcp.read == ((PROJECT, "coiled-net"),)
    [error] = snap.errors
    assert (error.account, error.region, error.operation, error.code) == (
        "coiled-other", "global", "compute.firewalls.list", "PERMISSION_DENIED")
    assert error.message == ("HTTP 403: Required 'compute.firewalls.list' permission for "
                             "'projects/coiled-other'")
    assert snap.gcp == from_files()


@pytest.mark.parametrize(("fault", "code", "operation"), [
    (Fault(PROJECT, 403, "firewalls"), "PERMISSION_DENIED", "compute.firewalls.list"),
    (Fault(PROJECT, 403, "networks", message="Compute Engine API has not been used in project "
           "{project} before or it is disabled."), "SERVICE_DISABLED", "compute.networks.list"),
    (Fault(PROJECT, 429, "subnetworks"), "RESOURCE_EXHAUSTED", "compute.subnetworks.aggregatedList"),
    (Fault(PROJECT, 500, "getEffectiveFirewalls"), "INTERNAL", "compute.networks.getEffectiveFirewalls"),
    (Fault(PROJECT, 200, "instances"), "MalformedAnswer", "compute.instances.aggregatedList"),
])
def test_failures_fail_closed(fake: ComputeFake, fault: Fault, code: str, operation: str) -> None:
    fake.faults.append(fault)
    snap = GcpSource([PROJECT]).read()
    [error] = snap.errors
    assert (error.account, error.code, error.operation) == (PROJECT, code, operation)
    assert snap.gcp.read == ()


def test_quota_is_retried_a_bounded_number_of_times(fake: ComputeFake) -> None:
    fake.faults.append(Fault(PROJECT, 429, "firewalls", times=limits.RETRIES))
    snap = GcpSource([PROJECT]).read()
    assert snap.errors == () and snap.gcp == from_files()
    assert paths(fake).count("global/firewalls") == 7 + limits.RETRIES
    fake.requests.clear()
    fake.faults.append(Fault(PROJECT, 429, "firewalls"))
    snap = GcpSource([PROJECT]).read()
    assert [e.code for e in snap.errors] == ["RESOURCE_EXHAUSTED"]
    assert paths(fake).count("global/firewalls") == limits.RETRIES + 1


def test_a_page_failing_midway_keeps_no_partial_list(fake: ComputeFake) -> None:
    """Page 1 of the firewall rules read, page 2 denied: the rules are 'not read', not 'six'."""
    fake.faults.append(Fault(PROJECT, 403, "firewalls?"))  # never matches the path: see below
    fake.faults.clear()

    calls = {"n": 0}
    original = fake.answer

    def answer(path: str, query: dict[str, list[str]]) -> tuple[int, object]:
        if path.endswith("/global/firewalls") and query.get("pageToken"):
            calls["n"] += 1
            return 403, {"error": {"code": 403, "message": "denied", "status": "PERMISSION_DENIED"}}
        return original(path, query)

    fake.answer = answer  # type: ignore[method-assign]
    snap = GcpSource([PROJECT]).read()
    assert calls["n"] == 1
    assert [e.code for e in snap.errors] == ["PERMISSION_DENIED"]
    assert snap.gcp.firewalls == ()
    assert snap.gcp.networks[(PROJECT, "coiled-net")].policies is None


def test_malformed_rule_in_an_answer_is_an_incomplete_scan_not_bad_input(fake: ComputeFake) -> None:
    fake.projects[PROJECT].firewalls[0]["allowed"][0]["ports"] = ["70000"]
    snap = GcpSource([PROJECT]).read()
    [error] = snap.errors
    assert error.code == "MalformedAnswer"
    assert "port '70000' outside 0-65535" in error.message
    assert snap.gcp.read == ()


def test_unreachable_endpoint(monkeypatch: pytest.MonkeyPatch, gcp_fake: ComputeFake) -> None:  # noqa: F811
    monkeypatch.setattr(limits, "TIMEOUT", 5.0)
    snap = GcpSource([PROJECT], closed_port_url()).read()
    [error] = snap.errors
    assert (error.code, error.operation) == ("EndpointUnreachable", "compute.networks.list")


def test_endpoint_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE", raising=False)
    assert endpoint(None) == "https://compute.googleapis.com/compute/v1/"
    assert endpoint("http://127.0.0.1:9") == "http://127.0.0.1:9/compute/v1/"
    assert endpoint("http://127.0.0.1:9/") == "http://127.0.0.1:9/compute/v1/"
    assert endpoint("http://127.0.0.1:9/compute/beta") == "http://127.0.0.1:9/compute/beta/"
    monkeypatch.setenv("CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE", "http://127.0.0.1:7/compute/v1/")
    assert endpoint(None) == "http://127.0.0.1:7/compute/v1/"
    assert endpoint("http://127.0.0.1:8") == "http://127.0.0.1:8/compute/v1/"


# -- through the command line -------------------------------------------------------------------
def test_check_gcp_only_reads_no_aws(sgaudit: Callable[..., Run], fake: ComputeFake,
                                     monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No AWS credentials exist here: had AWS been read, the run would stop with exit 2."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE")
    run = sgaudit("check", "--policy", GCP / "policy.yaml", "--gcp-project", PROJECT,
                  "--endpoint-url", fake.url, "-f", "json")
    assert run.code == 0, run.err
    report = json.loads(run.out)
    assert report["complete"] is True and report["errors"] == []


def test_check_exits_3_when_a_project_answers_403(sgaudit: Callable[..., Run], fake: ComputeFake) -> None:
    fake.faults.append(Fault(PROJECT, 403, "firewalls"))
    run = sgaudit("check", "--policy", GCP / "policy.yaml", "--gcp-project", PROJECT, "-f", "json")
    assert run.code == 3
    report = json.loads(run.out)
    assert report["complete"] is False
    [error] = report["errors"]
    assert error["account"] == PROJECT and error["code"] == "PERMISSION_DENIED"


def test_snapshot_saves_what_was_read_and_replays_to_the_same_state(
        sgaudit: Callable[..., Run], fake: ComputeFake, tmp_path: Path) -> None:
    out = tmp_path / "gcp-snapshot.json"
    run = sgaudit("snapshot", "--gcp-project", PROJECT, "-o", out)
    assert run.code == 0, run.err
    assert run.err_lines == [f"sgaudit: 14 firewall rule(s) from 1 GCP project(s) written to {out}"]
    document = json.loads(out.read_text())
    assert document["sgaudit_snapshot"] == 2 and document["scans"] == []
    [project] = document["gcp"]
    assert project["Project"] == PROJECT
    assert project["Firewalls"] == json.loads((GCP / "firewall-rules.json").read_text())
    assert list(project["EffectiveFirewalls"]) == ["coiled-net"]
    replay = SnapshotSource([str(out)]).read(Matcher())
    live = GcpSource([PROJECT]).read()
    assert replay.gcp == live.gcp == from_files()
    assert replay.gcp.read == live.gcp.read == ((PROJECT, "coiled-net"),)
    assert replay.errors == live.errors == ()


def test_incomplete_snapshot_replays_incomplete(sgaudit: Callable[..., Run], fake: ComputeFake,
                                                tmp_path: Path) -> None:
    fake.faults.append(Fault(PROJECT, 403, "subnetworks"))
    out = tmp_path / "partial.json"
    run = sgaudit("snapshot", "--gcp-project", PROJECT, "-o", out)
    assert run.code == 3
    assert run.err_lines[0].startswith(f"sgaudit: warning: could not read {PROJECT}/global "
                                       "compute.subnetworks.aggregatedList: PERMISSION_DENIED: HTTP 403")
    replay = SnapshotSource([str(out)]).read(Matcher())
    assert [(e.account, e.code) for e in replay.errors] == [(PROJECT, "PERMISSION_DENIED")]
    assert replay.gcp.read == ()
    assert replay.gcp.networks[(PROJECT, "coiled-net")].subnet_ranges is None
    run = sgaudit("check", "--snapshot", out, "-f", "json")
    assert run.code == 3 and json.loads(run.out)["complete"] is False


def test_explain_reads_gcp_live(sgaudit: Callable[..., Run], fake: ComputeFake) -> None:
    run = sgaudit("explain", "--policy", GCP / "policy.yaml", "--gcp-project", PROJECT)
    assert run.code == 0, run.err
    assert paths(fake)[0] == "global/networks" and len(paths(fake)) == 14
    fake.faults.append(Fault(PROJECT, 403, "firewalls"))
    run = sgaudit("explain", "--policy", GCP / "policy.yaml", "--gcp-project", PROJECT)
    assert run.code == 3


def test_usage_errors(sgaudit: Callable[..., Run], fake: ComputeFake) -> None:
    cases = [
        (("check", "--gcp-project", "Bad_Project"),
         "sgaudit: error: --gcp-project 'Bad_Project': not a project id (6-30 lowercase letters, "
         "digits and hyphens, starting with a letter)"),
        (("check", "--gcp-project", PROJECT, "--snapshot", FILES[0]),
         "sgaudit: error: --gcp-project applies to live scans; not with --snapshot"),
        (("check", "--gcp-project", PROJECT, "--regions", "us-east-1", "--fix"),  # issue 22: GCP alone fixes
         "sgaudit: error: --fix repairs one cloud at a time: run it with the AWS options or with "
         "--gcp-project, not both"),
        (("check", "--gcp-project", PROJECT, "--regions", "us-east-1", "--endpoint-url", fake.url),
         "sgaudit: error: --endpoint-url with both AWS and Google Cloud options is ambiguous; set "
         "AWS_ENDPOINT_URL or CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE instead"),
        (("check", "--gcp-project", PROJECT, "--endpoint-url", "ftp://127.0.0.1"),
         "sgaudit: error: --endpoint-url 'ftp://127.0.0.1': expected http(s)://HOST[:PORT][/compute/v1/]"),
    ]
    for args, line in cases:
        run = sgaudit(*args)
        assert (run.code, run.err_lines) == (2, [line]), args
    assert fake.requests == []


def test_no_credentials_is_one_line_exit_2(sgaudit: Callable[..., Run], fake: ComputeFake,
                                           monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CLOUDSDK_AUTH_ACCESS_TOKEN")
    run = sgaudit("check", "--gcp-project", PROJECT)
    assert run.code == 2
    [line] = run.err_lines
    assert line.startswith("sgaudit: error: no Google Cloud credentials: File ")
    assert line.endswith("(run `gcloud auth application-default login`, or set CLOUDSDK_AUTH_ACCESS_TOKEN)")
    assert fake.requests == []


def _adc_file(tmp_path: Path, fake: ComputeFake) -> Path:
    """A service-account key file for Application Default Credentials, with a key made here and
    the fake as its token endpoint (authorized_user files always use Google's endpoint, so they
    cannot be tested on loopback)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    path = tmp_path / "adc.json"
    path.write_text(json.dumps({
        "type": "service_account", "project_id": PROJECT, "private_key_id": "test-key",
        "private_key": pem, "client_email": f"sgaudit@{PROJECT}.iam.gserviceaccount.com",
        "client_id": "1", "token_uri": f"{fake.url}/token"}))
    return path


def test_application_default_credentials(sgaudit: Callable[..., Run], fake: ComputeFake,
                                         monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CLOUDSDK_AUTH_ACCESS_TOKEN")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(_adc_file(tmp_path, fake)))
    snap = GcpSource([PROJECT]).read()
    assert snap.errors == () and snap.gcp == from_files()
    assert fake.requests[0] == ("/token", "POST")
    assert {auth for _p, auth in fake.requests[1:]} == {f"Bearer {TOKEN}"}


def test_credentials_that_cannot_refresh_fail_the_project(sgaudit: Callable[..., Run], fake: ComputeFake,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    monkeypatch.delenv("CLOUDSDK_AUTH_ACCESS_TOKEN")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(_adc_file(tmp_path, fake)))
    fake.grant_tokens = False
    run = sgaudit("check", "--gcp-project", PROJECT, "-f", "json")
    assert run.code == 3
    [error] = json.loads(run.out)["errors"]
    assert (error["account"], error["code"], error["operation"]) == (PROJECT, "AuthError",
                                                                     "compute.networks.list")
    assert "invalid_grant" in error["message"]
    assert run.err_lines[-1].startswith("sgaudit: 0 group(s) audited")


def test_without_the_gcp_extra_says_what_to_install(sgaudit: Callable[..., Run],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "sgaudit.sources.gcp")
    monkeypatch.setitem(sys.modules, "googleapiclient", None)
    run = sgaudit("check", "--gcp-project", PROJECT)
    assert run.code == 2
    assert run.err_lines == ["sgaudit: error: Google Cloud scans need the optional Google client "
                             "libraries (googleapiclient is missing): pip install 'sgaudit[gcp]'"]


def test_aws_only_run_does_not_load_google_libraries() -> None:
    import subprocess

    code = ("import sys; from sgaudit.cli import main\n"
            "try: main(['check', '--snapshot', sys.argv[1], '--snapshot', sys.argv[2], '-q'])\n"
            "except SystemExit: pass\n"
            "print(sorted(m for m in sys.modules if m.startswith(('google', 'httplib2'))))")
    out = subprocess.run([sys.executable, "-c", code, str(FIXTURES / "security-groups.json"),
                          str(FIXTURES / "vpcs.json")], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_network_url_helper() -> None:
    assert network_url("p", "n").endswith("/projects/p/global/networks/n")


def test_aws_and_gcp_options_scan_both(sgaudit: Callable[..., Run], fake: ComputeFake,
                                       aws_env: str, tmp_path: Path) -> None:  # noqa: F811 - the fixture
    from moto_support import ACCOUNT, COILED, ec2, make_group, make_vpc

    client = ec2(aws_env)
    group = make_group(client, make_vpc(client), "coiled-a", COILED,
                       [("tcp", 8786, 8787, "0.0.0.0/0"), ("tcp", 22, 22, "0.0.0.0/0")])
    run = sgaudit("check", "--gcp-project", PROJECT, "--regions", "us-east-1", "-f", "json")
    assert run.code == 0, run.err
    report = json.loads(run.out)
    assert report["complete"] is True
    assert group in {g["group_id"] for g in report["groups"]}
    assert paths(fake)[:2] == ["global/networks", "global/firewalls"]
    # one snapshot holds both clouds, and replays both
    out = tmp_path / "both.json"
    run = sgaudit("snapshot", "--gcp-project", PROJECT, "--regions", "us-east-1", "-o", out)
    assert run.code == 0, run.err
    assert run.err_lines == [f"sgaudit: 1 group(s) from 1 account/region(s) and 14 firewall rule(s) "
                             f"from 1 GCP project(s) written to {out}"]
    document = json.loads(out.read_text())
    assert document["sgaudit_snapshot"] == 2
    assert [s["Region"] for s in document["scans"]] == ["us-east-1"]
    replay = SnapshotSource([str(out)]).read(Matcher(tags=(("owner", "coiled"),)))
    assert [g.group_id for g in replay.groups] == [group]
    assert replay.gcp == from_files()
    assert replay.read == ((ACCOUNT, "us-east-1"),) and replay.gcp.read == ((PROJECT, "coiled-net"),)


# -- regional network firewall policies --------------------------------------------------------
REGIONAL_OP = "compute.regionNetworkFirewallPolicies.getEffectiveFirewalls"
TARGETS = ["coiled-batch", "coiled-etl", "coiled-gpu", "coiled-ml", "coiled-ok"]
BASELINE = [("coiled-batch", "missing", 8786, "0.0.0.0/0", []),
            ("coiled-etl", "extra", 22, "0.0.0.0/0", ["coiled-etl-ssh-world"]),
            ("coiled-gpu", "extra", 8786, "::/0", ["coiled-gpu-dask-v6"]),
            ("coiled-gpu", "extra", 8888, "0.0.0.0/0", ["notebook-sa-world"])]


def _subnet(project: str, network: str, region: str, cidr: str) -> dict[str, object]:
    base = "https://www.googleapis.com/compute/v1/projects/" + project
    return {"kind": "compute#subnetwork", "name": f"{network}-{region}", "ipCidrRange": cidr,
            "network": network_url(project, network), "region": f"{base}/regions/{region}",
            "selfLink": f"{base}/regions/{region}/subnetworks/{network}-{region}"}


def _regional_policy(fake: ComputeFake, region: str = "us-central1") -> None:
    """Region's answer: the network's own (hierarchical policy, VPC rules) plus a regional policy
    that denies 8787 and allows 3306 from anywhere to every instance in the region; the network
    enforces policies before its VPC rules, so the deny decides."""
    state = fake.projects[PROJECT]
    state.networks[0]["networkFirewallPolicyEnforcementOrder"] = "BEFORE_CLASSIC_FIREWALL"
    answer = json.loads(json.dumps(state.effective["coiled-net"]))
    def rule(priority: int, action: str, port: str) -> dict[str, object]:
        return {"priority": priority, "action": action, "direction": "INGRESS",
                "match": {"srcIpRanges": ["0.0.0.0/0"],
                          "layer4Configs": [{"ipProtocol": "tcp", "ports": [port]}]}}

    answer["firewallPolicys"].append({"name": "regional-fw", "type": "NETWORK_REGIONAL", "priority": 1000,
                                      "rules": [rule(10, "deny", "8787"), rule(20, "allow", "3306")]})
    state.regional[("coiled-net", region)] = answer


def _findings(run: Run) -> list[tuple[str, str, int, str, list[str]]]:
    report = json.loads(run.out)
    return sorted((f["group_id"], f["kind"], f["from_port"], f["source"], f["rule_ids"])
                  for f in report["findings"])


def test_regional_call_per_region_with_subnets_and_only_then(fake: ComputeFake) -> None:
    """coiled-net has subnets in two regions: one regional call each (in region order), naming
    the network by its URL; a network without rules is not asked, whatever its subnets."""
    state = fake.projects[PROJECT]
    state.subnetworks["europe-west4"] = [_subnet(PROJECT, "coiled-net", "europe-west4", "10.164.0.0/20"),
                                         _subnet(PROJECT, "unused-net", "europe-west4", "10.200.0.0/20")]
    state.subnetworks["asia-east1"] = [_subnet(PROJECT, "unused-net", "asia-east1", "10.210.0.0/20")]
    snap = GcpSource([PROJECT]).read()
    assert snap.errors == () and snap.gcp.read == ((PROJECT, "coiled-net"),)
    regional = [c for c in fake.calls(PROJECT) if "/regions/" in c]
    link = quote(network_url(PROJECT, "coiled-net"), safe="")
    assert [c.split("&")[0] for c in regional] == [
        f"projects/{PROJECT}/regions/europe-west4/firewallPolicies/getEffectiveFirewalls?network={link}",
        f"projects/{PROJECT}/regions/us-central1/firewallPolicies/getEffectiveFirewalls?network={link}"]
    assert len(paths(fake)) == 1 + 7 + 2 + 1 + 2 + 3  # networks, firewalls, subnets, effective x3, instances


def test_no_subnets_no_regional_call(fake: ComputeFake) -> None:
    fake.projects[PROJECT].subnetworks = {}
    GcpSource([PROJECT]).read()
    assert not [p for p in paths(fake) if p.startswith("regions/")]


def test_a_regional_policy_s_deny_and_allow_show_in_the_findings(sgaudit: Callable[..., Run],
                                                                   fake: ComputeFake) -> None:
    run = sgaudit("check", "--policy", GCP / "policy.yaml", "--gcp-project", PROJECT, "-f", "json")
    assert run.code == 0 and _findings(run) == BASELINE
    _regional_policy(fake)
    run = sgaudit("check", "--policy", GCP / "policy.yaml", "--gcp-project", PROJECT, "-f", "json")
    assert run.code == 0, run.err
    rule = ["us-central1/regional-fw/20"]  # named with its region: policy names repeat across regions
    assert _findings(run) == sorted(BASELINE + [(t, "extra", 3306, "0.0.0.0/0", rule) for t in TARGETS]
                                    + [(t, "missing", 8787, "0.0.0.0/0", []) for t in TARGETS])
    report = json.loads(run.out)
    why = [f["reason"] for f in report["findings"] if f["kind"] == "missing" and f["from_port"] == 8787]
    assert all("us-central1/regional-fw/10 (deny, priority 10 of regional network policy regional-fw "
               "(us-central1))" in w for w in why), why[0]


def test_a_regional_policy_of_another_region_leaves_the_findings_alone(
        sgaudit: Callable[..., Run], fake: ComputeFake) -> None:
    """Every instance is in us-central1; the policy is europe-west4's."""
    fake.projects[PROJECT].subnetworks["europe-west4"] = [
        _subnet(PROJECT, "coiled-net", "europe-west4", "10.164.0.0/20")]
    _regional_policy(fake, "europe-west4")
    run = sgaudit("check", "--policy", GCP / "policy.yaml", "--gcp-project", PROJECT, "-f", "json")
    assert run.code == 0, run.err
    assert _findings(run) == BASELINE


def test_instances_are_read_when_a_regional_policy_has_rules(fake: ComputeFake) -> None:
    _drop_service_account_targets(fake)
    GcpSource([PROJECT]).read()
    assert "aggregated/instances" not in paths(fake)
    fake.requests.clear()
    _regional_policy(fake)
    snap = GcpSource([PROJECT]).read()
    assert paths(fake).count("aggregated/instances") == 3
    assert {i.zone for i in snap.gcp.instances[(PROJECT, "coiled-net")]} == {"us-central1-a"}


@pytest.mark.parametrize(("status", "code"), [
    (403, "PERMISSION_DENIED"), (429, "RESOURCE_EXHAUSTED"), (500, "INTERNAL"), (200, "MalformedAnswer")])
def test_regional_call_failures_fail_closed(sgaudit: Callable[..., Run], fake: ComputeFake,
                                            status: int, code: str) -> None:
    fake.faults.append(Fault(PROJECT, status, "firewallPolicies"))
    run = sgaudit("check", "--policy", GCP / "policy.yaml", "--gcp-project", PROJECT, "-f", "json")
    assert run.code == 3
    report = json.loads(run.out)
    assert report["complete"] is False
    assert [(e["account"], e["code"], e["operation"]) for e in report["errors"]] == [
        (PROJECT, code, REGIONAL_OP)]
    attempts = limits.RETRIES + 1 if status in (429, 500) else 1
    assert paths(fake).count("regions/us-central1/firewallPolicies/getEffectiveFirewalls") == attempts


def test_a_malformed_rule_in_a_regional_answer_is_an_incomplete_scan(fake: ComputeFake) -> None:
    _regional_policy(fake)
    answer = fake.projects[PROJECT].regional[("coiled-net", "us-central1")]
    answer["firewallPolicys"][-1]["rules"][0]["match"]["layer4Configs"][0]["ports"] = ["99999"]
    snap = GcpSource([PROJECT]).read()
    [error] = snap.errors
    assert (error.code, error.operation) == ("MalformedAnswer", "read answers")
    assert "regional[coiled-net][us-central1]" in error.message and "'99999'" in error.message
    assert snap.gcp.read == ()


def test_snapshot_with_regional_answers_replays_to_the_same_findings(
        sgaudit: Callable[..., Run], fake: ComputeFake, tmp_path: Path) -> None:
    _regional_policy(fake)
    out = tmp_path / "regional.json"
    assert sgaudit("snapshot", "--gcp-project", PROJECT, "-o", out).code == 0
    [project] = json.loads(out.read_text())["gcp"]
    assert list(project["RegionalEffectiveFirewalls"]) == ["coiled-net"]
    assert list(project["RegionalEffectiveFirewalls"]["coiled-net"]) == ["us-central1"]
    live = sgaudit("check", "--policy", GCP / "policy.yaml", "--gcp-project", PROJECT, "-f", "json")
    replay = sgaudit("check", "--policy", GCP / "policy.yaml", "--snapshot", out, "-f", "json")
    assert (live.code, replay.code) == (0, 0)
    assert _findings(replay) == _findings(live) != BASELINE
    assert SnapshotSource([str(out)]).read(Matcher()).gcp == GcpSource([PROJECT]).read().gcp


def test_an_older_snapshot_without_regional_answers_replays_incomplete(
        sgaudit: Callable[..., Run], fake: ComputeFake, tmp_path: Path) -> None:
    """Its network has subnets in us-central1: a regional policy there could allow or deny
    anything, and it was not read."""
    out = tmp_path / "old.json"
    assert sgaudit("snapshot", "--gcp-project", PROJECT, "-o", out).code == 0
    document = json.loads(out.read_text())
    del document["gcp"][0]["RegionalEffectiveFirewalls"]
    out.write_text(json.dumps(document))
    run = sgaudit("check", "--policy", GCP / "policy.yaml", "--snapshot", out, "-f", "json")
    assert run.code == 3
    report = json.loads(run.out)
    assert report["errors"] == [{
        "account": PROJECT, "region": "global", "operation": REGIONAL_OP,
        "code": "RegionalPoliciesNotRead",
        "message": "network coiled-net has subnets in us-central1 but the regional network firewall "
                   "policies there were not read (a snapshot by an older sgaudit?)"}]
    assert _findings(run) == BASELINE


def test_a_malformed_regional_answer_in_a_snapshot_is_one_line_exit_2(
        sgaudit: Callable[..., Run], fake: ComputeFake, tmp_path: Path) -> None:
    _regional_policy(fake)
    out = tmp_path / "bad.json"
    assert sgaudit("snapshot", "--gcp-project", PROJECT, "-o", out).code == 0
    document = json.loads(out.read_text())
    regional = document["gcp"][0]["RegionalEffectiveFirewalls"]["coiled-net"]["us-central1"]
    regional["firewallPolicys"][-1]["rules"][1]["action"] = "permit"
    out.write_text(json.dumps(document))
    run = sgaudit("check", "--snapshot", out)
    assert (run.code, run.out) == (2, "")
    assert run.err_lines == [
        f"sgaudit: error: {out}: {PROJECT}.regional[coiled-net][us-central1].firewallPolicys[1]"
        ".rules[1] (policy rule regional-fw/20).action: unknown action 'permit'"]
    document["gcp"][0]["RegionalEffectiveFirewalls"] = {"coiled-net": ["not", "an", "object"]}
    out.write_text(json.dumps(document))
    run = sgaudit("check", "--snapshot", out)
    assert (run.code, run.err_lines) == (2, [
        f"sgaudit: error: {out}: $.gcp[0].RegionalEffectiveFirewalls.coiled-net: expected an object "
        "(region -> answer)"])
