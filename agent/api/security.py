"""The serving edge's guards, as one pure ASGI middleware in front of every route (no FastAPI here).

    Guard(app, api_keys=["k1"], allowed_hosts=["localhost", "127.0.0.1", "::1"])

In order, for each HTTP request:
  1. Host: the `Host` header's name (port stripped) must be in `allowed_hosts` ("*" admits any):
     a page on evil.example whose name was re-bound to 127.0.0.1 (DNS rebinding) is refused
     with 400 `host_not_allowed`. Every route, the web page's files included.
  2. Key: with keys configured, every `/v1/*` route needs `Authorization: Bearer <key>` (compared
     in constant time, like vLLM's `--api-key`); otherwise 401 `invalid_api_key`. `/health`, `/`,
     `/web/*` and `/openapi.json`, `/docs` stay open (they hold no user data).
  3. Writes that change a user (POST/PUT/PATCH/DELETE under `/v1/users/`) must say
     `Content-Type: application/json`: `text/plain`, form encodings and none at all are what a
     cross-site page can send without a CORS preflight, so they get 415 `unsupported_media_type`.

Errors use OpenAI's JSON shape. Left out: TLS (put a proxy in front), per-key quotas, key rotation
without restart, CORS (no cross-origin access is granted at all).
"""

from __future__ import annotations

import hmac
import json

from agent.api.protocol import error_body

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
OPEN_PATHS = ("/health", "/", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def default_hosts(bound: str) -> list[str]:
    """Loopback names plus the bound address when it is one host (not all interfaces).

    >>> default_hosts("0.0.0.0")
    ['localhost', '127.0.0.1', '::1']
    >>> default_hosts("192.168.1.5")
    ['localhost', '127.0.0.1', '::1', '192.168.1.5']
    """
    out = list(LOOPBACK_NAMES)
    if bound not in ("0.0.0.0", "::", "") and bound not in out:
        out.append(bound)
    return out


def host_name(header: str) -> str:
    """The name of a Host header, without port or IPv6 brackets, lower case.

    >>> host_name("LocalHost:8000"), host_name("[::1]:8000"), host_name("127.0.0.1")
    ('localhost', '::1', '127.0.0.1')
    """
    h = header.strip().lower()
    if h.startswith("["):
        return h[1:h.find("]")] if "]" in h else h
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


def is_json(content_type: str) -> bool:
    """`application/json` (any parameters) or a `+json` type.

    >>> [is_json(c) for c in ("application/json; charset=utf-8", "text/plain", "application/merge-patch+json", "")]
    [True, False, True, False]
    """
    main = content_type.split(";", 1)[0].strip().lower()
    return main == "application/json" or (main.startswith("application/") and main.endswith("+json"))


class Guard:
    def __init__(self, app, *, api_keys: list[str] | None, allowed_hosts: list[str]):
        self.app = app
        self.keys = [k.encode() for k in (api_keys or [])]
        self.any_host = "*" in allowed_hosts
        self.hosts = {h.lower() for h in allowed_hosts}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        path, method = scope.get("path", ""), scope.get("method", "GET")
        refusal = self.check(headers, path, method)
        if refusal is None:
            return await self.app(scope, receive, send)
        status, extra, body = refusal
        raw = json.dumps(body).encode()
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode()), *extra]})
        await send({"type": "http.response.body", "body": raw})

    def check(self, headers: dict[str, str], path: str, method: str):
        """None when the request may pass, else (status, extra headers, OpenAI error body)."""
        if not self.any_host and host_name(headers.get("host", "")) not in self.hosts:
            return 400, [], error_body(
                f"Host {headers.get('host', '')!r} is not served here; add it to MARQUEE_ALLOWED_HOSTS "
                "(comma-separated) to allow it", "invalid_request_error", code="host_not_allowed")
        if self.keys and path.startswith("/v1/") and path not in OPEN_PATHS:
            auth = headers.get("authorization", "")
            scheme, _, token = auth.partition(" ")
            given = token.strip().encode() if scheme.lower() == "bearer" else b""
            # compare with every key (no early exit), each in constant time
            ok = False
            for k in self.keys:
                ok |= hmac.compare_digest(given, k)
            if not ok:
                return 401, [(b"www-authenticate", b"Bearer")], error_body(
                    "missing or wrong API key: send `Authorization: Bearer <key>` (the server's --api-key)",
                    "invalid_request_error", code="invalid_api_key")
        if method in WRITE_METHODS and path.startswith("/v1/users/") and not is_json(headers.get("content-type", "")):
            return 415, [], error_body(
                f"send the body as Content-Type: application/json (got {headers.get('content-type') or 'none'})",
                "invalid_request_error", code="unsupported_media_type")
        return None
