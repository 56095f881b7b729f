"""Small gcloud --format=json files for tests that need several projects or networks: firewall
rules, subnets, the networks list and one get-effective-firewalls answer per network, in the
API's own shapes (as in fixtures/gcp/), written to a folder."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

API = "https://www.googleapis.com/compute/v1"
REGION = "us-central1"


def network_url(project: str, network: str) -> str:
    return f"{API}/projects/{project}/global/networks/{network}"


def rule(project: str, network: str, name: str, tag: str, port: int | str,
         source: str = "0.0.0.0/0", **extra: Any) -> dict[str, Any]:
    """An ingress allow of tcp ``port`` from ``source`` to ``tag`` (``extra`` replaces keys:
    ``sourceTags``, ``sourceServiceAccounts`` ...)."""
    out: dict[str, Any] = {
        "kind": "compute#firewall", "name": name, "network": network_url(project, network),
        "priority": 1000, "direction": "INGRESS",
        "allowed": [{"IPProtocol": "tcp", "ports": [str(port)]}], "sourceRanges": [source],
        "targetTags": [tag], "disabled": False,
        "selfLink": f"{API}/projects/{project}/global/firewalls/{name}"}
    out.update(extra)
    return out


def dask_rule(project: str, network: str, tag: str) -> dict[str, Any]:
    """What Coiled opens for a cluster: the scheduler and dashboard ports from the world."""
    return rule(project, network, f"{network}-{tag}-dask", tag, "8786-8787")


def subnet(project: str, network: str, cidr: str) -> dict[str, Any]:
    return {"kind": "compute#subnetwork", "name": f"{network}-sub", "network": network_url(project, network),
            "ipCidrRange": cidr, "region": f"{API}/projects/{project}/regions/{REGION}",
            "selfLink": f"{API}/projects/{project}/regions/{REGION}/subnetworks/{network}-sub"}


def network(project: str, name: str) -> dict[str, Any]:
    return {"kind": "compute#network", "name": name,
            "networkFirewallPolicyEnforcementOrder": "AFTER_CLASSIC_FIREWALL",
            "selfLink": network_url(project, name)}


def write(folder: Path, rules: Mapping[tuple[str, str], Sequence[dict[str, Any]]],
          policies: Mapping[tuple[str, str], Sequence[dict[str, Any]]] | None = None) -> list[Path]:
    """The files a scan of exactly these (project, network)s reads: the firewall rules, subnets
    and networks lists of them, and each network's effective firewalls (its rules, and the
    given firewall policies)."""
    folder.mkdir(parents=True, exist_ok=True)
    nets = sorted(rules)
    everything = [r for key in nets for r in rules[key]]
    subnets = [subnet(p, n, f"10.{i}.0.0/16") for i, (p, n) in enumerate(nets, start=1)]
    paths = [folder / "firewall-rules.json", folder / "subnets.json", folder / "networks.json"]
    for path, items in zip(paths, (everything, subnets, [network(p, n) for p, n in nets]), strict=True):
        path.write_text(json.dumps(items))
    for project, name in nets:
        path = folder / f"effective-firewalls-{project}-{name}.json"
        path.write_text(json.dumps({"firewalls": list(rules[(project, name)]),
                                    "firewallPolicys": list((policies or {}).get((project, name), ()))}))
        paths.append(path)
    return paths
