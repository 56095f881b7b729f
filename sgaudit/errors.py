"""Error types; each carries the exit code the CLI must return for it."""

from __future__ import annotations

EXIT_OK = 0
EXIT_DRIFT = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3
#: Ctrl-C (128 + SIGINT), as shells report it
EXIT_INTERRUPTED = 130


class SgauditError(Exception):
    """Base of every error meant for the user: the message is one line, shown as is."""

    exit_code = EXIT_USAGE


class UsageError(SgauditError):
    """Bad command-line arguments or combinations of them."""


class PolicyError(SgauditError):
    """The policy file, a dask config file, a waiver or a baseline is invalid."""


class SnapshotError(SgauditError):
    """A snapshot file cannot be read or has the wrong shape."""


class CredentialsError(SgauditError):
    """No AWS credentials at all: nothing can be scanned."""


class OutputError(SgauditError):
    """A report, backup or baseline could not be written."""
