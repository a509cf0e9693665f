"""Who is signed in to the console, and proof that a form came from the console itself.

The API key lives in an HttpOnly, SameSite=Strict cookie scoped to /console: page scripts cannot
read it (an injected script could not steal it, as it could from sessionStorage), browsers do
not send it on requests that start on another site, and it never reaches the REST API, which
only takes `Authorization: Bearer`. Every state-changing form also carries a token derived from
the key (HMAC), checked together with the browser's Origin / Sec-Fetch-Site headers: a forged
cross-site form has neither. Deriving the token from the key keeps it valid on every `serve`
process behind a load balancer, with no server-side session store.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request
from starlette.responses import Response

from engram_agents.errors import AccessDeniedError, AuthenticationError
from engram_agents.server.keys import KeyStore
from engram_agents.server.tenancy import Principal

COOKIE = "engram_console"
PATH = "/console"
_OPEN = "open_"  # the cookie of a server without keys: a random session nonce


def csrf_token(secret: str) -> str:
    return hmac.new(secret.encode(), b"engram-console-csrf", hashlib.sha256).hexdigest()


def new_open_secret() -> str:
    return _OPEN + secrets.token_urlsafe(32)


def set_cookie(response: Response, secret: str, request: Request) -> None:
    response.set_cookie(
        COOKIE,
        secret,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict")


def principal_of(secret: str | None, keys: KeyStore | None) -> Principal:
    """The caller behind a cookie value: its key's tenant, or anyone on a server without keys
    (after the sign-in button set a session cookie)."""
    if keys is None:
        if not (secret or "").startswith(_OPEN):
            raise AuthenticationError("not signed in")
        return Principal()
    return keys.authenticate(secret)


def check_same_origin(request: Request) -> None:
    """Refuse a state-changing request a page of another site started."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise AccessDeniedError("cross-site request refused")
    origin = request.headers.get("origin")  # the host only: a TLS proxy may change the scheme
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise AccessDeniedError("cross-origin request refused")


def check_csrf(request: Request, secret: str, token: object) -> None:
    check_same_origin(request)
    if not isinstance(token, str) or not hmac.compare_digest(token, csrf_token(secret)):
        raise AccessDeniedError("the form's security token is missing or stale: reload the page")
