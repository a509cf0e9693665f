"""What a user's console page is showing (the search, the superseded toggle, the erasure card's
page) and the links that change one part of it. Every link on the page is built here from the
whole state, so following one card's link (an erasure page, "show superseded") keeps what the
other cards show instead of each link spelling out the parameters it remembers to keep. The
page's forms post to an `action` carrying the same state, and are answered with a redirect to
`after` it, so an edit or a delete lands on the page it came from (the search still shown)."""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import quote, urlencode

from engram_agents.server.console import session
from engram_agents.server.tenancy import check_path_id


@dataclasses.dataclass(frozen=True)
class PageState:
    """A user page's query parameters; the defaults are left out of its links."""

    user_id: str  # as the caller wrote it
    q: str = ""
    superseded: bool = False
    erasures_before: int | None = None

    def __post_init__(self) -> None:
        check_path_id(self.user_id)  # so `path` is always one segment below the console's users

    @property
    def path(self) -> str:
        return f"{session.PATH}/users/{quote(self.user_id, safe='')}"

    def query(self) -> dict[str, str]:
        """The parameters that differ from a fresh page, as a link or a form sends them."""
        shown = {
            "q": self.q if self.q.strip() else None,
            "superseded": "true" if self.superseded else None,
            "erasures_before": None if self.erasures_before is None else str(self.erasures_before),
        }
        return {name: value for name, value in shown.items() if value is not None}

    def link(self, anchor: str = "", **changes: Any) -> str:
        """This page with `changes` made and everything else kept (`anchor`: a card's id)."""
        state = dataclasses.replace(self, **changes)
        return _url(state.path, state.query()) + (f"#{anchor}" if anchor else "")

    def action(self, route: str) -> str:
        """The URL a form on this page posts to (`route` below the user's path, say
        `memories/<id>/edit`), with the page's state in its query string for the answer."""
        return _url(f"{self.path}/{route}", self.query())

    def after(self, notice: str = "") -> str:
        """Where a form posted from this page redirects: the same page, saying `notice`. Always
        the console's own user path (the user id quoted whole, the rest a query string)."""
        return _url(self.path, self.query() | ({"notice": notice} if notice else {}))

    def kept_by(self, *fields: str) -> dict[str, str]:
        """The state a form with these `fields` must carry as hidden inputs to keep it."""
        return {name: value for name, value in self.query().items() if name not in fields}


def _url(path: str, query: dict[str, str]) -> str:
    return path + (f"?{urlencode(query)}" if query else "")
