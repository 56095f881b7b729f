"""Old path of the AWS backup, now ``sgaudit.remediate.aws.backup`` (and what both clouds share,
``sgaudit.remediate.documents``), kept while tests move."""

from sgaudit.remediate.aws.backup import FORMAT, BackupWriter, load_backup, rule_dict
from sgaudit.remediate.documents import PENDING, PLANNED, check_target, default_path, stamp
from sgaudit.remediate.signing import BackupError

__all__ = ["FORMAT", "PENDING", "PLANNED", "BackupError", "BackupWriter", "check_target", "default_path",
           "load_backup", "rule_dict", "stamp"]
