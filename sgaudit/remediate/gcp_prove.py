"""Old path of ``sgaudit.remediate.gcp.prove``, kept while tests move."""

import sys

from sgaudit.remediate.gcp import prove as _moved

sys.modules[__name__] = _moved
