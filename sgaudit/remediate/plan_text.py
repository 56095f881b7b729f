"""Old path of ``sgaudit.remediate.aws.text``, kept while tests move."""

import sys

from sgaudit.remediate.aws import text as _moved

sys.modules[__name__] = _moved
