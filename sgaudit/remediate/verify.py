"""Old path of ``sgaudit.remediate.aws.verify``, kept while tests move."""

import sys

from sgaudit.remediate.aws import verify as _moved

sys.modules[__name__] = _moved
