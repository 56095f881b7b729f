"""Old path of ``sgaudit.fileio.files``, kept while callers move."""

import sys

from sgaudit.fileio import files as _moved

sys.modules[__name__] = _moved
