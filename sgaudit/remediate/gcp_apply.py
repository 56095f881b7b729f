"""Old path of ``sgaudit.remediate.gcp.apply``, kept while tests move."""

import sys

from sgaudit.remediate.gcp import apply as _moved

sys.modules[__name__] = _moved
