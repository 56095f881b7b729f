"""Old path of ``sgaudit.net.intervals``, kept while callers move."""

import sys

from sgaudit.net import intervals as _moved

sys.modules[__name__] = _moved
