"""Moved to ``sgaudit.sources.gcp.write``: this path lasts only until the tests import from there."""

from sgaudit.sources.gcp.write import WRITE_SCOPE, ComputeFirewalls

__all__ = ["WRITE_SCOPE", "ComputeFirewalls"]
