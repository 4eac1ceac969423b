"""The notification log: where a notice goes when it is sent, until webhooks exist.

One JSON object per line (the notice's payload plus ``sent_at``), appended and synced to
disk before the transaction that marks the notices sent commits. A crash between the two
leaves the notices pending, to be written again at the next tick: a line may repeat after
a crash, a notice is never lost. Receivers deduplicate on ``id``.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson


class NotificationLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, notices: Sequence[dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab") as out:
            out.write(b"".join(orjson.dumps(n) + b"\n" for n in notices))
            out.flush()
            os.fsync(out.fileno())

    def read(self) -> list[dict[str, Any]]:
        """Every notice written so far (tests and tools)."""
        if not self.path.exists():
            return []
        return [orjson.loads(line) for line in self.path.read_bytes().splitlines() if line.strip()]
