"""Who may write: the API token (bearer header), or a login cookie plus a CSRF token.

Reads are open. Every write needs the token: scripts send `Authorization: Bearer TOKEN`;
people sign in once with it and get a signed, HttpOnly cookie, and each form carries a
CSRF token bound to that cookie, so another site cannot post forms on their behalf.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

from fastapi import HTTPException, Request, status
from itsdangerous import BadSignature, URLSafeTimedSerializer

from tracker.config import Settings

COOKIE = "tracker_session"
SESSION_DAYS = 30


def api_token(settings: Settings) -> tuple[str, bool]:
    """The configured token, or one generated once and kept in TRACKER_HOME (and whether new)."""
    if settings.api_token:
        return settings.api_token, False
    path = Path(settings.home) / "api-token"
    if path.exists():
        return path.read_text().strip(), False
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    path.touch(mode=0o600)
    path.write_text(token + "\n")
    return token, True


class Guard:
    """Checks tokens, cookies and CSRF tokens for one app."""

    def __init__(self, token: str) -> None:
        self.token = token
        # Signing keys derive from the token: changing the token signs everyone out.
        secret = hashlib.sha256(b"release-tracker session:" + token.encode()).hexdigest()
        self._sessions = URLSafeTimedSerializer(secret, salt="session")
        self._csrf_key = hashlib.sha256(b"release-tracker csrf:" + token.encode()).digest()

    def token_matches(self, candidate: str | None) -> bool:
        return bool(candidate) and hmac.compare_digest(candidate.encode(), self.token.encode())

    def new_session(self) -> str:
        return self._sessions.dumps({"nonce": secrets.token_urlsafe(16)})

    def session_nonce(self, request: Request) -> str | None:
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            return None
        try:
            data = self._sessions.loads(cookie, max_age=SESSION_DAYS * 86400)
        except BadSignature:
            return None
        return data.get("nonce") if isinstance(data, dict) else None

    def csrf_token(self, request: Request) -> str:
        """The token forms must echo back; empty when not signed in."""
        nonce = self.session_nonce(request)
        if nonce is None:
            return ""
        return hmac.new(self._csrf_key, nonce.encode(), hashlib.sha256).hexdigest()

    def signed_in(self, request: Request) -> bool:
        return self.session_nonce(request) is not None

    def require_bearer_or_session(self, request: Request) -> None:
        """For API writes: a bearer token, or a session cookie with the CSRF header."""
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer ") and self.token_matches(header[7:].strip()):
            return
        if self.signed_in(request) and hmac.compare_digest(
            request.headers.get("x-csrf-token", ""), self.csrf_token(request)
        ):
            return
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid API token is required: Authorization: Bearer TOKEN",
            headers={"WWW-Authenticate": "Bearer"},
        )

    def require_form(self, request: Request, csrf: str) -> None:
        """For form posts: signed in, and the form's CSRF token belongs to this session."""
        if not self.signed_in(request):
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "sign in with the API token first")
        expected = self.csrf_token(request)
        if not csrf or not hmac.compare_digest(csrf, expected):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "invalid or missing CSRF token")
