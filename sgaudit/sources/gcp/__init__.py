"""Live Google Cloud: scans and ``--fix``'s calls, the only package that imports Google libraries.

Loaded only when a GCP scan (``--gcp-project``) or a GCP fix runs; without the libraries it is a
usage error naming the extra.

Client: google-api-python-client (pure Python, builds the compute API from its bundled discovery
document, answers in the API's own JSON shapes, which ``sgaudit snapshot`` saves as they are)
with google-auth.  Calls per project: ``networks.list`` (enforcement order),
``firewalls.list``, ``subnetworks.aggregatedList``, ``networks.getEffectiveFirewalls`` once per
network that has rules, ``regionNetworkFirewallPolicies.getEffectiveFirewalls`` once per such
network and region where it has subnets, and ``instances.aggregatedList`` only when a rule
targets service accounts or a regional policy has rules.  Nothing per rule.

Fails closed as the AWS source does: permission denied, an API not enabled, quota exhausted
after bounded retries, an unreachable endpoint, a non-JSON or malformed answer, a call without a
complete answer by its deadline (``CALL_DEADLINE`` from its start, retries included, never past
the scan's ``--timeout``; see ``deadlines``) each become a ``ScanError`` for that project (the
scan is incomplete, exit 3), never an exception; the other projects are still read.

The modules, in the order a scan uses them: ``limits`` (deadlines, retries, workers), ``api``
(endpoint, credentials, the bundled API description, error answers), ``transport`` (httplib2
under a call's deadline), ``scanner`` (one project's calls), ``project`` (what a project scan
reads), ``source`` (projects concurrently, and the snapshot); ``write`` holds ``--fix``'s calls.
"""

from __future__ import annotations

import importlib

from sgaudit.errors import UsageError

try:  # checked here, before any module of the package imports one (each package before its modules)
    for _library in ("google", "google.auth", "google.auth.exceptions", "google.oauth2.credentials",
                     "google_auth_httplib2", "httplib2", "googleapiclient", "googleapiclient.discovery",
                     "googleapiclient.discovery_cache", "googleapiclient.errors"):
        importlib.import_module(_library)
except ImportError as exc:  # pragma: no cover - exercised in a venv without the extra
    raise UsageError(f"Google Cloud scans need the optional Google client libraries "
                     f"({exc.name} is missing): pip install 'sgaudit[gcp]'") from None

from sgaudit.sources.gcp.limits import SCAN_TIMEOUT
from sgaudit.sources.gcp.source import GcpSource, to_snapshot
from sgaudit.sources.gcp.write import ComputeFirewalls

__all__ = ["SCAN_TIMEOUT", "ComputeFirewalls", "GcpSource", "to_snapshot"]
