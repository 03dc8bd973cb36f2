"""Notifications by email and webhook, through an outbox in the database.

Services call `publish(kind, story, ...)` after an action succeeds; that only
queues rows. Each process's sender thread delivers them. See notifier.py for
how "exactly once" holds, and where it cannot.
"""

from .config import NotifyConfig
from .delivery import DeliveryError
from .messages import EVENTS, MODERATOR_EVENTS, MODES, sign
from .notifier import SILENT, Notifier, Publisher, Silent

__all__ = [
    "EVENTS",
    "MODERATOR_EVENTS",
    "MODES",
    "SILENT",
    "DeliveryError",
    "Notifier",
    "NotifyConfig",
    "Publisher",
    "Silent",
    "sign",
]
