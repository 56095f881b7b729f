"""Old path of ``sgaudit.fileio.versioned``, kept while callers move."""

import sys

from sgaudit.fileio import versioned as _moved

sys.modules[__name__] = _moved
