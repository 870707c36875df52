"""Publish: one writer at a time (``lock``), the built file swapped in atomically with the last publishes kept
(``publish``), an earlier one put back once checked (``rollback``), an unchanged warehouse published again with
the run's audit (``republish``), and what a dead run left cleared (``debris``)."""

from warehouse.publish.debris import clear_debris
from warehouse.publish.lock import LoadRunning, writer_lock
from warehouse.publish.noop import (
    carried_copies,
    carry_over,
    drop_carried,
    largest_revisions,
    republish,
    take_carried,
    working_copy,
)
from warehouse.publish.restore import NothingToRollBackTo, RollbackError, rollback
from warehouse.publish.swap import build_stamp, discard, history, history_dir, publish

__all__ = [
    "LoadRunning", "NothingToRollBackTo", "RollbackError", "build_stamp", "carried_copies", "carry_over",
    "clear_debris", "discard", "drop_carried", "history", "history_dir", "largest_revisions", "publish",
    "republish", "rollback", "take_carried", "working_copy", "writer_lock",
]  # fmt: skip
