"""Live Google Cloud scans: the real google-api-python-client talking HTTP to the compute fake on
127.0.0.1 (tests/gcp_fake.py).  Never any other address."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import FIXTURES, Run
from gcp_fake import TOKEN, ComputeFake, Fault, gcp_fake, network_url  # noqa: F401 - fixture
from moto_support import aws_env, closed_port_url, moto_url  # noqa: F401 - fixtures

from sgaudit.model import Matcher
from sgaudit.sources import gcp
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
    snap = gcp.GcpSource([PROJECT]).read()
    assert snap.errors == ()
    assert snap.read == ((PROJECT, "global"),)
    assert snap.scanned == (f"gcp:{PROJECT}",)
    assert snap.groups == ()
    assert snap.gcp == from_files()


def test_calls_per_project_pages_followed_nothing_per_rule(fake: ComputeFake) -> None:
    """14 rules at 2 per page: 7 firewall pages; one effective-firewalls call for the one network
    with rules; instances because a rule targets a service account; the token on every call."""
    gcp.GcpSource([PROJECT]).read()
    assert paths(fake) == (["global/networks"] + ["global/firewalls"] * 7 + ["aggregated/subnetworks"]
                           + ["global/networks/coiled-net/getEffectiveFirewalls"]
                           + ["aggregated/instances"] * 3)
    assert [c for c in fake.calls() if "firewalls" in c and "pageToken" in c][-1].endswith("pageToken=12")
    assert {auth for _path, auth in fake.requests} == {f"Bearer {TOKEN}"}


def test_instances_are_read_only_when_a_rule_targets_service_accounts(fake: ComputeFake) -> None:
    state = fake.projects[PROJECT]
    state.firewalls = [r for r in state.firewalls if not r.get("targetServiceAccounts")]
    effective = state.effective["coiled-net"]
    effective["firewalls"] = state.firewalls
    for policy in effective["firewallPolicys"]:
        for rule in policy["rules"]:
            rule.pop("targetServiceAccounts", None)
    snap = gcp.GcpSource([PROJECT]).read()
    assert "aggregated/instances" not in paths(fake)
    assert snap.gcp.instances == {}
    assert snap.errors == () and snap.read == ((PROJECT, "global"),)


def test_policy_rule_targeting_a_service_account_also_reads_instances(fake: ComputeFake) -> None:
    state = fake.projects[PROJECT]
    state.firewalls = [r for r in state.firewalls if not r.get("targetServiceAccounts")]
    state.effective["coiled-net"]["firewalls"] = state.firewalls
    snap = gcp.GcpSource([PROJECT]).read()
    assert paths(fake).count("aggregated/instances") == 3
    assert len(snap.gcp.instances[(PROJECT, "coiled-net")]) == 6


def test_projects_are_read_concurrently_and_one_failing_spoils_only_itself(fake: ComputeFake) -> None:
    fake.load_gcloud("coiled-other", GCP)  # its rules name coiled-demo's network: same rules
    fake.faults.append(Fault("coiled-other", 403, "firewalls"))
    snap = gcp.GcpSource([PROJECT, "coiled-other"]).read()
    assert snap.read == ((PROJECT, "global"),)
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
    snap = gcp.GcpSource([PROJECT]).read()
    [error] = snap.errors
    assert (error.account, error.code, error.operation) == (PROJECT, code, operation)
    assert snap.read == ()


def test_quota_is_retried_a_bounded_number_of_times(fake: ComputeFake) -> None:
    fake.faults.append(Fault(PROJECT, 429, "firewalls", times=gcp.RETRIES))
    snap = gcp.GcpSource([PROJECT]).read()
    assert snap.errors == () and snap.gcp == from_files()
    assert paths(fake).count("global/firewalls") == 7 + gcp.RETRIES
    fake.requests.clear()
    fake.faults.append(Fault(PROJECT, 429, "firewalls"))
    snap = gcp.GcpSource([PROJECT]).read()
    assert [e.code for e in snap.errors] == ["RESOURCE_EXHAUSTED"]
    assert paths(fake).count("global/firewalls") == gcp.RETRIES + 1


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
    snap = gcp.GcpSource([PROJECT]).read()
    assert calls["n"] == 1
    assert [e.code for e in snap.errors] == ["PERMISSION_DENIED"]
    assert snap.gcp.firewalls == ()
    assert snap.gcp.networks[(PROJECT, "coiled-net")].policies is None


def test_malformed_rule_in_an_answer_is_an_incomplete_scan_not_bad_input(fake: ComputeFake) -> None:
    fake.projects[PROJECT].firewalls[0]["allowed"][0]["ports"] = ["70000"]
    snap = gcp.GcpSource([PROJECT]).read()
    [error] = snap.errors
    assert error.code == "MalformedAnswer"
    assert "port '70000' outside 0-65535" in error.message
    assert snap.read == ()


def test_unreachable_endpoint(monkeypatch: pytest.MonkeyPatch, gcp_fake: ComputeFake) -> None:  # noqa: F811
    monkeypatch.setattr(gcp, "TIMEOUT", 5.0)
    snap = gcp.GcpSource([PROJECT], closed_port_url()).read()
    [error] = snap.errors
    assert (error.code, error.operation) == ("EndpointUnreachable", "compute.networks.list")


def test_endpoint_forms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE", raising=False)
    assert gcp.endpoint(None) == "https://compute.googleapis.com/compute/v1/"
    assert gcp.endpoint("http://127.0.0.1:9") == "http://127.0.0.1:9/compute/v1/"
    assert gcp.endpoint("http://127.0.0.1:9/") == "http://127.0.0.1:9/compute/v1/"
    assert gcp.endpoint("http://127.0.0.1:9/compute/beta") == "http://127.0.0.1:9/compute/beta/"
    monkeypatch.setenv("CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE", "http://127.0.0.1:7/compute/v1/")
    assert gcp.endpoint(None) == "http://127.0.0.1:7/compute/v1/"
    assert gcp.endpoint("http://127.0.0.1:8") == "http://127.0.0.1:8/compute/v1/"


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
    live = gcp.GcpSource([PROJECT]).read()
    assert replay.gcp == live.gcp == from_files()
    assert replay.read == live.read and replay.errors == live.errors == ()


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
    assert replay.read == ()
    assert replay.gcp.networks[(PROJECT, "coiled-net")].subnet_ranges is None
    run = sgaudit("check", "--snapshot", out, "-f", "json")
    assert run.code == 3 and json.loads(run.out)["complete"] is False


def test_explain_reads_gcp_live(sgaudit: Callable[..., Run], fake: ComputeFake) -> None:
    run = sgaudit("explain", "--policy", GCP / "policy.yaml", "--gcp-project", PROJECT)
    assert run.code == 0, run.err
    assert paths(fake)[0] == "global/networks" and len(paths(fake)) == 13
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
        (("check", "--gcp-project", PROJECT, "--fix"),
         "sgaudit: error: --fix repairs AWS security groups only; it cannot be used with --gcp-project"),
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
    snap = gcp.GcpSource([PROJECT]).read()
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
    assert sorted(replay.read) == sorted([(PROJECT, "global"), (ACCOUNT, "us-east-1")])
