"""Old path of ``sgaudit.remediate.aws.apply``, kept while tests move."""

import sys

from sgaudit.remediate.aws import apply as _moved

sys.modules[__name__] = _moved
