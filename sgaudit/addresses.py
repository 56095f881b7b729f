"""Old path of ``sgaudit.net.addresses``, kept while callers move."""

import sys

from sgaudit.net import addresses as _moved

sys.modules[__name__] = _moved
