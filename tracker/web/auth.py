"""Who may write: the API token (bearer header), or a login cookie plus a CSRF token.

The event log is open to read; subscriptions (their URLs name where alerts go) and every
write need the token: scripts send `Authorization: Bearer TOKEN`; people sign in once with
it and get a signed, HttpOnly cookie, and each form carries a CSRF token bound to that
cookie, so another site cannot post forms on their behalf. Failed sign-ins are limited per
client; signing out ends the session on the server too (a copied cookie dies with it).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import threading
import time
from collections import deque
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

    def __init__(
        self,
        token: str,
        *,
        home: Path | None = None,
        trusted_proxies: str = "",
        login_attempts_per_minute: int = 10,
    ) -> None:
        self.token = token
        # Signing keys derive from the token: changing the token signs everyone out.
        secret = hashlib.sha256(b"release-tracker session:" + token.encode()).hexdigest()
        self._sessions = URLSafeTimedSerializer(secret, salt="session")
        self._messages = URLSafeTimedSerializer(secret, salt="flash")
        self._csrf_key = hashlib.sha256(b"release-tracker csrf:" + token.encode()).digest()
        self._proxies = [
            ipaddress.ip_network(p.strip(), strict=False)
            for p in trusted_proxies.split(",")
            if p.strip()
        ]
        self._attempts_per_minute = login_attempts_per_minute
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._signed_out_file = home / "signed-out-sessions" if home else None
        self._signed_out: dict[str, float] = self._load_signed_out()

    # ------------------------------------------------------------- behind a proxy

    def _from_trusted_proxy(self, request: Request) -> bool:
        peer = request.client.host if request.client else ""
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self._proxies)

    def client_address(self, request: Request) -> str:
        """The client's address: the peer's, or a trusted proxy's X-Forwarded-For."""
        peer = request.client.host if request.client else "unknown"
        forwarded = request.headers.get("x-forwarded-for", "")
        if forwarded and self._from_trusted_proxy(request):
            return forwarded.split(",")[-1].strip() or peer
        return peer

    def is_https(self, request: Request) -> bool:
        """Whether the browser's connection is HTTPS (as a trusted proxy says, if any)."""
        if request.url.scheme == "https":
            return True
        proto = request.headers.get("x-forwarded-proto", "")
        return self._from_trusted_proxy(request) and proto.split(",")[0].strip() == "https"

    # ------------------------------------------------------------- sign-in limits

    def login_retry_after(self, request: Request) -> int:
        """Seconds this client must wait before another sign-in attempt (0: go ahead)."""
        now = time.monotonic()
        with self._lock:
            failures = self._failures.get(self.client_address(request))
            if failures is None:
                return 0
            while failures and failures[0] < now - 60:
                failures.popleft()
            if len(failures) < self._attempts_per_minute:
                return 0
            return max(1, int(failures[0] + 60 - now) + 1)

    def login_failed(self, request: Request) -> None:
        with self._lock:
            if len(self._failures) > 10_000:  # a flood of addresses: forget the oldest
                self._failures.pop(next(iter(self._failures)))
            self._failures.setdefault(self.client_address(request), deque()).append(
                time.monotonic()
            )

    # ------------------------------------------------------------- messages after a post

    def sign_message(self, message: str) -> str:
        return self._messages.dumps(message)

    def message(self, request: Request) -> str:
        """The `?msg=` text if this application wrote it (in the last hour), else nothing."""
        value = request.query_params.get("msg", "")
        if not value:
            return ""
        try:
            text = self._messages.loads(value, max_age=3600)
        except BadSignature:
            return ""
        return text if isinstance(text, str) else ""

    # ------------------------------------------------------------- sign-out

    def sign_out(self, request: Request) -> None:
        nonce = self.session_nonce(request)
        if nonce is None:
            return
        with self._lock:
            now = time.time()
            self._signed_out = {n: t for n, t in self._signed_out.items() if t > now}
            self._signed_out[nonce] = now + SESSION_DAYS * 86400
            self._save_signed_out()

    def _load_signed_out(self) -> dict[str, float]:
        if self._signed_out_file is None or not self._signed_out_file.exists():
            return {}
        try:
            data = json.loads(self._signed_out_file.read_text())
        except (OSError, ValueError):
            return {}
        now = time.time()
        return {str(n): float(t) for n, t in data.items() if float(t) > now}

    def _save_signed_out(self) -> None:
        if self._signed_out_file is None:
            return
        self._signed_out_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._signed_out_file.touch(mode=0o600)
        self._signed_out_file.write_text(json.dumps(self._signed_out))

    def token_matches(self, candidate: str | None) -> bool:
        if not candidate:
            return False
        return hmac.compare_digest(candidate.encode(), self.token.encode())

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
        nonce = data.get("nonce") if isinstance(data, dict) else None
        if not isinstance(nonce, str) or nonce in self._signed_out:
            return None
        return nonce

    def csrf_token(self, request: Request) -> str:
        """The token forms must echo back; empty when not signed in."""
        nonce = self.session_nonce(request)
        if nonce is None:
            return ""
        return hmac.new(self._csrf_key, nonce.encode(), hashlib.sha256).hexdigest()

    def signed_in(self, request: Request) -> bool:
        return self.session_nonce(request) is not None

    def require_reader(self, request: Request) -> None:
        """For reads of subscriptions: a bearer token or a signed-in browser."""
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer ") and self.token_matches(header[7:].strip()):
            return
        if self.signed_in(request):
            return
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "sign in, or send the API token: Authorization: Bearer TOKEN",
            headers={"WWW-Authenticate": "Bearer"},
        )

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
