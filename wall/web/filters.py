"""How pages show headlines, and how the admin pages show times, durations, paths and values."""

from __future__ import annotations

import datetime as dt
import reprlib
from pathlib import Path
from typing import Any

from flask import Flask

from ..takedown import in_words
from . import get_wall

# Unknown front-matter keys are shown as they are; a stranger sets them, so
# what is shown is bounded in length and depth however big the value is.
_shown = reprlib.Repr()
_shown.maxlevel = 3
_shown.maxstring = 200
_shown.maxother = 200
_shown.maxlist = _shown.maxtuple = _shown.maxdict = _shown.maxset = 12
SHOWN_MAX_CHARS = 500


def when(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch).astimezone().strftime("%Y-%m-%d %H:%M")


def ago(seconds: float) -> str:
    return f"{in_words(seconds)} ago"


def duration(seconds: float) -> str:
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    return f"{days} d {hours} h" if days else f"{hours} h {rest // 60} min"


def relative(path: Path) -> str:
    """A story file's path as the people who keep the folder know it."""
    try:
        return str(path.relative_to(get_wall().index.root.parent))
    except ValueError:
        return str(path)


def shown_value(value: Any) -> str:
    """A value from a story file, as bounded text."""
    text = value if isinstance(value, str) else _shown.repr(value)
    return text if len(text) <= SHOWN_MAX_CHARS else text[: SHOWN_MAX_CHARS - 1] + "…"


# Two words this short fit on one line of the narrowest phone at headline size.
KEPT_PAIR_CHARS = 16


def keep_last_words(text: str) -> str:
    """Join a headline's last two words with a no-break space: no word alone on its last line.

    `text-wrap: balance` does this where the browser knows it; this is the
    fallback. A long pair is left alone, so it still fits a phone.
    """
    words = text.split()
    if len(words) < 2 or len(words[-2]) + len(words[-1]) + 1 > KEPT_PAIR_CHARS:
        return text
    return " ".join([*words[:-2], f"{words[-2]}\u00a0{words[-1]}"])


def init_app(app: Flask) -> None:
    app.add_template_filter(keep_last_words, "keep_last_words")
    app.add_template_filter(when, "when")
    app.add_template_filter(shown_value, "shown")
