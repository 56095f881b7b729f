"""Assembles a ``GcpState`` from what was read of Google Cloud, however it was read.

gcloud JSON files (the project is taken from the resources' URLs) or per-project scans (live,
or replayed from an sgaudit snapshot): one path for all three, so a replay gives exactly the
state the scan gave.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sgaudit.errors import SnapshotError
from sgaudit.model import UNKNOWN, FirewallPolicy, FirewallRule, GcpInstance, GcpNetwork, GcpState, ScanError
from sgaudit.sources import gcpjson as gj
from sgaudit.sources import gcppolicies
from sgaudit.sources.awsjson import ShapeError

Key = tuple[str, str]
#: the read-kind of a project whose regional effective firewalls were read (or saved)
REGIONAL = "regional"


class GcpCollector:
    """What the GCP inputs have given so far."""

    def __init__(self) -> None:
        self.rules: dict[Key, tuple[FirewallRule, str]] = {}
        self.subnets: dict[Key, dict[str, None]] = {}
        self.orders: dict[Key, str] = {}
        self.policies: dict[Key, tuple[FirewallPolicy, ...]] = {}
        self.instances: dict[Key, list[GcpInstance]] = {}
        #: the regional network policies of each network (all regions), and the regions it has
        #: subnets in and whose regional answer was read
        self.regional: dict[Key, dict[FirewallPolicy, None]] = {}
        self.subnet_regions: dict[Key, set[str]] = {}
        self.regions_read: dict[Key, set[str]] = {}
        self.read_kinds: dict[str, set[str]] = {}  # kind -> projects whose list was read
        self.pending: list[tuple[Mapping[str, Any], str]] = []
        #: the rules seen in a firewall-rules list (not only in an effective answer or a
        #: describe), the first list file of each project, and each network answer's rule names
        self.listed: set[Key] = set()
        self.list_files: dict[str, str] = {}
        self.answered: list[tuple[Key, str, frozenset[str]]] = []
        self.errors: list[ScanError] = []
        self.audit_input = False  # firewall rules or effective firewalls were given

    @property
    def used(self) -> bool:
        return bool(self.read_kinds or self.pending or self.policies or self.errors)

    def _mark(self, kind: str, project: str) -> None:
        self.read_kinds.setdefault(kind, set()).add(project)

    def _read(self, kind: str, project: str) -> bool:
        return project in self.read_kinds.get(kind, set())

    # -- gcloud files -------------------------------------------------------------------------
    def add_file(self, data: Any, kind: str, file: str) -> None:
        """A gcloud --format=json file of the given kind (see ``gcpjson.detect``)."""
        if kind == gj.EFFECTIVE:
            self.audit_input = True
            self.pending.append((data, file))
            return
        single = isinstance(data, Mapping)  # one resource (`describe`): not the whole list
        items = [data] if single else data
        for i, item in enumerate(items):
            where = "$" if single else f"$[{i}]"
            if gj.item_kind(item, where) != kind:
                raise ShapeError(f"{where}: a {gj.item_kind(item, where)} item in a list of {kind}")
            self._add_item(kind, item, where, file, listed=not single)

    def _add_item(self, kind: str, item: Any, where: str, file: str, listed: bool = True) -> None:
        """One resource; ``listed``: it comes from a list of the project's resources of its kind
        (which then counts as read), not from a single ``describe``."""
        mark = kind if listed else f"{kind} (one resource)"
        if kind == gj.FIREWALLS:
            rule = gj.parse_firewall(item, where)
            self._mark(mark, rule.project)
            self._add_rule(rule, file)
            if listed:
                self.listed.add((rule.project, rule.name))
                self.list_files.setdefault(rule.project, file)
        elif kind == gj.SUBNETS:
            project, network, ranges = gj.subnet_ranges(item, where)
            self._mark(mark, project)
            self.subnets.setdefault((project, network), {}).update(dict.fromkeys(ranges))
            region = gj.subnet_region(item, where)
            if region:
                self.subnet_regions.setdefault((project, network), set()).add(region)
        elif kind == gj.NETWORKS:
            project, name, order = gj.network_order(item, where)
            self._mark(mark, project)
            self.orders[(project, name)] = order
        elif kind == gj.INSTANCES:
            instance, nets = gj.parse_instance(item, where)
            self._mark(mark, instance.project)
            for key in dict.fromkeys(nets):
                self.instances.setdefault(key, []).append(instance)

    def _add_rule(self, rule: FirewallRule, file: str) -> None:
        self.audit_input = True
        key = (rule.project, rule.name)
        seen = self.rules.get(key)
        if seen is not None and seen[0] != rule:
            raise SnapshotError(f"{file}: firewall rule {rule.name!r} of project {rule.project} is "
                                f"also in {seen[1]} with different contents; pass one copy (which "
                                "one is current cannot be told)")
        self.rules[key] = (rule, file)

    # -- per-project scans (live, or from an sgaudit snapshot) --------------------------------
    def add_project(self, data: gj.ProjectData, file: str) -> None:
        """One project's answers; a list given (even empty) means that call succeeded."""
        project = data.project
        self.errors.extend(data.errors)
        self._mark("project", project)
        for kind, items in ((gj.NETWORKS, data.networks), (gj.FIREWALLS, data.firewalls),
                            (gj.SUBNETS, data.subnetworks), (gj.INSTANCES, data.instances)):
            if items is None:
                continue
            self._mark(kind, project)
            for i, item in enumerate(items):
                self._add_item(kind, item, f"{project}.{kind}[{i}]", file)
        self.audit_input = True
        for network, answer in data.effective.items():
            self._add_effective(answer, f"{project}.effective[{network}]", (project, network), file)
        if data.regional is not None:
            self._mark(REGIONAL, project)
            for network, by_region in data.regional.items():
                for region, answer in by_region.items():
                    self._add_effective(answer, f"{project}.regional[{network}][{region}]",
                                        (project, network), file, region)

    def _add_effective(self, data: Any, where: str, key: Key, file: str, region: str | None = None) -> None:
        """A get-effective-firewalls answer: the network's (``region`` None) or one region's.
        Regional (network and system) policies are kept with their region (``UNKNOWN`` when a
        gcloud file does not say it); the rest of a regional answer repeats the network's and
        is left to it.  The network answer's VPC rules join the others (a rule in two inputs
        must agree; see ``_check_answers`` for a rule only one of them has)."""
        data = gj.object_of(data, where)
        if gj.list_of(data, "organizationFirewalls", where):
            raise ShapeError(f"{where}.organizationFirewalls: the deprecated form of hierarchical "
                             "policies, which sgaudit does not read; pass an answer that lists them "
                             "under 'firewallPolicys' (a current gcloud)")
        policies = gcppolicies.parse_policies(gj.list_of(data, "firewallPolicys", where),
                                     f"{where}.firewallPolicys", *key, region or UNKNOWN)
        self.regional.setdefault(key, {}).update(
            dict.fromkeys(p for p in policies if p.kind in gcppolicies.REGIONAL_KINDS))
        if region is not None:
            self.regions_read.setdefault(key, set()).add(region)
            return
        names = []
        for i, raw in enumerate(gj.list_of(data, "firewalls", where)):
            rule = gj.parse_firewall(raw, f"{where}.firewalls[{i}]")
            self._add_rule(rule, file)
            names.append(rule.name)
        self.answered.append((key, file, frozenset(names)))
        rest = tuple(p for p in policies if p.kind not in gcppolicies.REGIONAL_KINDS)
        seen = self.policies.get(key)
        if seen is not None and seen != rest:
            raise ShapeError(f"{where}: a second get-effective-firewalls answer for network {key[1]} "
                             f"of project {key[0]} whose hierarchical or global network policies "
                             "differ from the first's; pass answers taken at the same time")
        self.policies[key] = rest

    def _resolve_pending(self) -> None:
        """get-effective-firewalls output does not name its network: take it from its VPC rules,
        or, when it lists none, from the one network the other files name."""
        for data, file in self.pending:
            try:
                key = gj.effective_network(data, "$")
                if key is None:
                    candidates = self._keys()
                    if len(candidates) != 1:
                        raise ShapeError(
                            "$: cannot tell which network this get-effective-firewalls output is "
                            "for (its 'firewalls' list is empty and the other files name "
                            f"{len(candidates)} networks); pass it with the firewall-rules list "
                            "of that network only")
                    key = next(iter(candidates))
                self._add_effective(data, "$", key, file)
            except ShapeError as exc:
                raise SnapshotError(f"{file}: {exc}") from None
        self.pending = []

    def _keys(self) -> set[Key]:
        keys = {(r.project, r.network) for r, _ in self.rules.values()}
        keys.update(self.subnets, self.orders, self.policies, self.instances)
        return keys

    # -- the result ---------------------------------------------------------------------------
    def state(self) -> GcpState:
        self._resolve_pending()
        self._check_answers()
        keys = sorted(self._keys())
        networks = {key: self._network(key) for key in keys}
        self._check_orders(networks)
        self._check_system(networks)
        self._check_regional()
        instances = {key: tuple(self.instances.get(key, ())) for key in keys
                     if self._read(gj.INSTANCES, key[0])}
        rules = tuple(r for _, (r, _f) in sorted(self.rules.items()))
        return GcpState(networks=networks, firewalls=rules, instances=instances,
                        read=self.read_networks())

    def _network(self, key: Key) -> GcpNetwork:
        project, name = key
        ranges = tuple(self.subnets.get(key, {})) if self._read(gj.SUBNETS, project) else None
        policies = self.policies.get(key)
        if policies is not None:  # in evaluation order: by kind, regional ones by region
            regional = sorted(self.regional.get(key, {}), key=lambda p: p.region or "")
            policies = tuple(sorted((*policies, *regional), key=lambda p: gcppolicies.POLICY_RANKS[p.kind]))
        return GcpNetwork(project=project, name=name,
                          enforcement_order=self.orders.get(key, gj.ENFORCEMENT_ORDERS[0]),
                          subnet_ranges=ranges, policies=policies)

    def _check_answers(self) -> None:
        """A get-effective-firewalls answer and the firewall-rules list of its project must
        list the same rules of its network: a rule only one of them has (a `--filter`ed list,
        or files taken at different moments) is a contradiction - which input is current
        cannot be told, and keeping or dropping the rule could each hide ingress.  (Disabled
        and egress rules decide no ingress: the list may hold them alone.)"""
        live: dict[Key, list[tuple[FirewallRule, str]]] = {}  # the listed rules that decide ingress
        for key in sorted(self.listed):
            rule, where = self.rules[key]
            if not rule.disabled and rule.direction == "INGRESS":
                live.setdefault((rule.project, rule.network), []).append((rule, where))
        for (project, network), file, names in self.answered:
            listing = self.list_files.get(project)
            if listing is None:
                continue
            for name in sorted(names):
                if (project, name) not in self.listed:
                    raise SnapshotError(
                        f"{file}: firewall rule {name!r} of network {network} (project {project}) is "
                        f"in this get-effective-firewalls answer but not in the firewall-rules list "
                        f"{listing}; pass inputs taken at the same time (an unfiltered `gcloud "
                        "compute firewall-rules list`)")
            for rule, where in live.get((project, network), ()):
                if rule.name not in names:
                    raise SnapshotError(
                        f"{where}: firewall rule {rule.name!r} of network {network} (project "
                        f"{project}) is not in the get-effective-firewalls answer {file} of that "
                        "network; pass inputs taken at the same time")

    def _check_orders(self, networks: Mapping[Key, GcpNetwork]) -> None:
        """Network firewall policies go before or after the VPC rules by the network's
        enforcement order; a network whose order is not in the input (no networks list, or
        one that describes another network) has an unknown order: fail closed, per network."""
        for key, network in networks.items():
            if gcppolicies.uses_network_policies(network.policies) and key not in self.orders:
                self._error(gj.scan_error(
                    key[0], "networks.list",
                    f"network {key[1]} has network firewall policies but its enforcement order is "
                    "unknown (add `gcloud compute networks list --format=json`, or `gcloud compute "
                    f"networks describe {key[1]} --format=json`)", "EnforcementOrderUnknown"))

    def _check_system(self, networks: Mapping[Key, GcpNetwork]) -> None:
        """Google documents where regional system policies are evaluated, not global ones: a
        global system policy that allows or denies ingress leaves the network's verdict
        uncertain (its rules are counted as possibly applying; see docs/gcp-effective-ingress.md)."""
        for (project, name), network in networks.items():
            for policy in network.policies or ():
                if policy.kind == "system-global" and gcppolicies.decides_ingress(policy):
                    self._error(gj.scan_error(
                        project, "networks.getEffectiveFirewalls",
                        f"network {name} has the global system firewall policy {policy.name}, whose "
                        "place in the evaluation order Google does not document: its allow and deny "
                        "rules are counted as only possibly applying", "SystemPolicyOrderUnknown"))

    def _error(self, error: ScanError) -> None:
        if error not in self.errors:
            self.errors.append(error)

    def _check_regional(self) -> None:
        """A scanned project's network with rules and subnets in a region whose regional
        policies were not read (a snapshot by an older sgaudit, or one edited): those policies
        could allow or deny anything there, so the project is incomplete.  (gcloud files cannot
        say which regions they cover: they are not checked, see docs/gcp.md.)"""
        scanned = self.read_kinds.get("project", set()) & self.read_kinds.get(gj.SUBNETS, set())
        scanned -= {e.account for e in self.errors}  # already incomplete, with the reason
        for project, network in sorted({(r.project, r.network) for r, _ in self.rules.values()}):
            regions = self.subnet_regions.get((project, network), set())
            unread = sorted(regions - self.regions_read.get((project, network), set()))
            if project not in scanned or not unread:
                continue
            error = gj.scan_error(
                project, "compute.regionNetworkFirewallPolicies.getEffectiveFirewalls",
                f"network {network} has subnets in {', '.join(unread)} but the regional network "
                "firewall policies there were not read" + ("" if self._read(REGIONAL, project) else
                                                           " (a snapshot by an older sgaudit?)"),
                "RegionalPoliciesNotRead")
            self._error(error)

    def read_networks(self) -> tuple[tuple[str, str], ...]:
        """(project, network) of each network read completely, with no error in its project:
        the project's firewall rules and subnets, and the network's effective firewalls (its
        VPC rules and policies; its regional answers too, else the project has an error).  In
        a per-project scan (live, or its snapshot) the networks list and the firewall rules
        are whole, so a listed network without rules is read as well: its targets are gone."""
        failed = {e.account for e in self.errors}
        projects = self.read_kinds.get(gj.FIREWALLS, set()) & self.read_kinds.get(gj.SUBNETS, set())
        projects = projects - failed
        out = {key for key in self.policies if key[0] in projects}
        whole = projects & self.read_kinds.get("project", set()) & self.read_kinds.get(gj.NETWORKS, set())
        with_rules = {(r.project, r.network) for r, _ in self.rules.values()}
        out.update(key for key in self.orders if key[0] in whole and key not in with_rules)
        return tuple(sorted(out))
