"""The kiosks' poll of /api/stories, answered again without going through Flask.

Every hallway screen asks for its playlist after each change and whenever its
poll comes round, nearly always with the ETag it holds: the answer is a 304.
Flask's request handling costs a few times what serving the stored bytes does,
and hundreds of screens ask. So the answer the Flask view gave is remembered
(its status and headers as Flask made them, and the playlist's bytes, not a
copy) and given again for the same question while nothing that made it has
changed: the index version and the day (after applying what the watcher has
in hand, as the view does), the query, the address asked and whether gzip is
accepted.

The view stays the one place the answer is made. Only two questions are
answered here, exactly as the view last answered them: a plain GET with no
conditions, and a GET whose If-None-Match is exactly the ETag. Anything else
(another method, Range, If-Modified-Since, a list of ETags, an old one) goes
to Flask.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ..core import Wall

PATH = "/api/stories"
ENVIRON_KEY = "storywall.playlist"  # set by the view: (version, day, the bytes it sent)
MAX_ANSWERS = 64  # questions remembered per version: a query string is anyone's to vary

# Conditions the view's make_conditional would weigh: with any of them, Flask answers.
_OTHER_CONDITIONS = (
    "HTTP_RANGE",
    "HTTP_IF_RANGE",
    "HTTP_IF_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_UNMODIFIED_SINCE",
)

Headers = list[tuple[str, str]]
StartResponse = Callable[..., Any]


@dataclass
class Answer:
    """What the view answered to one question: the 200, and the 304 once it gave one."""

    headers: Headers
    body: bytes
    etag: str
    not_modified: Headers | None = None


class PlaylistReplay:
    """WSGI middleware in front of the app: the kiosks' two usual questions, answered again."""

    def __init__(self, app: Callable[..., Iterable[bytes]], wall: Wall) -> None:
        self.app = app
        self.wall = wall
        self._lock = threading.Lock()
        self._for: tuple[int, Any] | None = None  # the version and day answered for
        self._answers: dict[tuple, Answer] = {}

    def __call__(self, environ: dict[str, Any], start_response: StartResponse):  # type: ignore[no-untyped-def]
        if (
            environ.get("PATH_INFO") != PATH
            or environ.get("REQUEST_METHOD") != "GET"
            or any(name in environ for name in _OTHER_CONDITIONS)
        ):
            return self.app(environ, start_response)
        wall = self.wall
        # What the app's before_request and the view do first: a change this
        # worker's watcher has noticed is applied before anything is answered.
        wall.ensure_watching()
        wall.catch_up()
        question = _question(environ)
        now = (wall.index.version, wall.index.today())
        with self._lock:
            answer = self._answers.get(question) if self._for == now else None
        if answer is not None:
            sent = environ.get("HTTP_IF_NONE_MATCH")
            if sent is None:
                start_response("200 OK", list(answer.headers))
                return [answer.body]
            if sent == answer.etag and answer.not_modified is not None:
                start_response("304 NOT MODIFIED", list(answer.not_modified))
                return []
        return self._ask_flask(environ, start_response, question)

    def _ask_flask(self, environ: dict[str, Any], start_response: StartResponse, question: tuple):  # type: ignore[no-untyped-def]
        given: list[tuple[str, Headers]] = []

        def remember(status: str, headers: Headers, exc_info: Any = None):  # type: ignore[no-untyped-def]
            given.append((status, list(headers)))
            return (
                start_response(status, headers, exc_info)
                if exc_info
                else start_response(status, headers)
            )

        body = self.app(environ, remember)
        made = environ.get(ENVIRON_KEY)
        if given and made is not None:
            self._remember(question, made, *given[-1])
        return body

    def _remember(self, question: tuple, made: tuple, status: str, headers: Headers) -> None:
        version, day, sent = made
        names = {name.lower(): value for name, value in headers}
        if "set-cookie" in names or "cookie" in names.get("vary", "").lower():
            return  # an answer for one client only
        if "etag" not in names:
            return  # one that cannot be revalidated
        with self._lock:
            if self._for is None or (version, day) > self._for:
                # Answers for an earlier version are never given again: let their bytes go.
                self._for, self._answers = (version, day), {}
            if self._for != (version, day):
                return
            answer = self._answers.get(question)
            if status.startswith("200 ") and names.get("content-length") == str(len(sent)):
                if len(self._answers) < MAX_ANSWERS or answer is not None:
                    self._answers[question] = Answer(headers, sent, names["etag"])
            elif status.startswith("304 ") and answer is not None and answer.etag == names["etag"]:
                answer.not_modified = headers


def _question(environ: dict[str, Any]) -> tuple:
    """Everything in a request the view's answer depends on (besides version and day)."""
    return (
        environ.get("QUERY_STRING", ""),
        environ.get("wsgi.url_scheme"),
        environ.get("HTTP_HOST"),
        environ.get("SERVER_NAME"),
        environ.get("SERVER_PORT"),
        environ.get("SCRIPT_NAME", ""),
        "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""),
    )
