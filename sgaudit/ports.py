"""Old path of ``sgaudit.net.ports``, kept while callers move."""

import sys

from sgaudit.net import ports as _moved

sys.modules[__name__] = _moved
