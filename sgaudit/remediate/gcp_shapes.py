"""Old path of ``sgaudit.remediate.gcp.shapes``, kept while tests move."""

import sys

from sgaudit.remediate.gcp import shapes as _moved

sys.modules[__name__] = _moved
