"""What ``--fix`` on Google Cloud asks of the compute API, without the Google libraries.

The calls on VPC firewall rules and operations (``gcp.write`` makes them with the Google client;
the fix and rollback are written against this), and the one error type they raise.
"""

from __future__ import annotations

from typing import Any, Protocol


class CallError(Exception):
    """A call the API refused or that did not reach it: the HTTP status (0 when there was no
    answer), the API's code (``ALREADY_EXISTS`` …) and a one-line message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def __str__(self) -> str:
        return self.message


class FirewallApi(Protocol):
    """VPC firewall rules of a project, and the operations their changes return."""

    def list(self, project: str) -> list[dict[str, Any]]: ...

    def get(self, project: str, name: str) -> dict[str, Any]: ...

    def insert(self, project: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def patch(self, project: str, name: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def update(self, project: str, name: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def delete(self, project: str, name: str) -> dict[str, Any]: ...

    def wait(self, project: str, operation: str) -> dict[str, Any]:
        """``globalOperations.wait``: the operation, DONE or not yet (the API answers within
        about two minutes either way)."""
        ...
