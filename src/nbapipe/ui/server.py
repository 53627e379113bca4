"""`nbapipe serve --ui`: the live dashboard, a read-only HTTP server over the state store.

Standard library only (ThreadingHTTPServer): one HTML page and one script shipped in
static/, polling the JSON API. Each request opens its own read-only SQLite connection, so
requests never share a connection across threads and nothing here can write the store.

Security: loopback by default; any other address needs a token, which every request must
then carry as `Authorization: Bearer <token>` (or HTTP Basic with the token as password, so a
browser can open the page: it asks once and sends it on every request, the script's too).
GET only; no endpoint takes SQL or writes anything."""
from __future__ import annotations

import base64
import hmac
import ipaddress
import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from nbapipe.calendar import Calendar
from nbapipe.state.store import connect, display, exists as state_exists
from nbapipe.ui import api

STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
          "/index.html": ("index.html", "text/html; charset=utf-8"),
          "/static/app.js": ("app.js", "text/javascript; charset=utf-8")}
# The page loads nothing from elsewhere: a CDN could not be reached offline anyway, and this
# makes the browser refuse it if someone adds one.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'")
ALLOWED_PARAMS = {"/api/summary": {"start", "end"}, "/api/units": {"start", "end", "phase"},
                  "/api/orchestrator": {"start", "end"}, "/api/failures": {"start", "end", "limit"}}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False          # a host name: it may resolve to anything


def check_bind(host: str, token: str | None) -> None:
    """Refuse to expose the dashboard beyond this machine without a token."""
    if not is_loopback(host) and not token:
        raise ValueError(f"binding {host} (not a loopback address) requires a token: "
                         "--token or env NBAPIPE_UI_TOKEN")


class Dashboard(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state_path: Path, phase2_required: str, host: str, port: int,
                 token: str | None = None, log=None):
        check_bind(host, token)
        if not state_exists(state_path):
            raise FileNotFoundError(f"no state store at {display(state_path)}: run `nbapipe ingest` first")
        self.state_path, self.phase2_required, self.token = state_path, phase2_required, token
        self.log = log
        super().__init__((host, port), Handler)

    def handle_error(self, request, client_address) -> None:
        """A browser that goes away mid-answer (tab closed, reload) is one line, not a traceback."""
        import sys
        e = sys.exc_info()[1]
        if isinstance(e, (BrokenPipeError, ConnectionResetError)):
            print(f"dashboard: {client_address[0]} disconnected before the answer was sent", file=sys.stderr)
            return
        super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"


class Handler(BaseHTTPRequestHandler):
    server: Dashboard
    server_version = "nbapipe-ui"

    # --- methods: GET only ------------------------------------------------------------------
    def do_GET(self) -> None:
        if not self._authorised():
            return
        url = urlsplit(self.path)
        if url.path in STATIC:
            name, ctype = STATIC[url.path]
            self._send(HTTPStatus.OK, resources.files("nbapipe.ui").joinpath("static", name).read_bytes(), ctype)
        elif url.path in ALLOWED_PARAMS:
            self._api(url.path, url.query)
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no such page: {url.path}"})

    def _refuse_method(self) -> None:
        if self._authorised():
            self._json(HTTPStatus.METHOD_NOT_ALLOWED, {"error": f"{self.command} not allowed: read-only (GET)"},
                       extra={"Allow": "GET"})

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _refuse_method

    # --- auth -------------------------------------------------------------------------------
    def _authorised(self) -> bool:
        token = self.server.token
        if not token or hmac.compare_digest(self._presented().encode(), token.encode()):
            return True
        self._json(HTTPStatus.UNAUTHORIZED, {"error": "a token is required: Authorization: Bearer <token>"},
                   extra={"WWW-Authenticate": 'Basic realm="nbapipe dashboard (password: the token)"'})
        return False

    def _presented(self) -> str:
        scheme, _, value = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "bearer":
            return value.strip()
        if scheme.lower() == "basic":
            try:
                return base64.b64decode(value.strip(), validate=True).decode().partition(":")[2]
            except (ValueError, UnicodeDecodeError):
                return ""
        return ""

    # --- API --------------------------------------------------------------------------------
    def _api(self, path: str, query: str) -> None:
        try:
            params = _params(query, ALLOWED_PARAMS[path])
            st = connect(self.server.state_path, read_only=True)
            try:
                body = _answer(path, params, st, Calendar.from_state(st), self.server.phase2_required)
            finally:
                st.close()
        except api.ApiError as e:
            self._json(e.status, {"error": str(e)})
            return
        self._json(HTTPStatus.OK, body)

    # --- responses --------------------------------------------------------------------------
    def _json(self, status: int, body: dict, extra: dict | None = None) -> None:
        self._send(status, json.dumps(body, default=str).encode(), "application/json", extra)

    def _send(self, status: int, data: bytes, ctype: str, extra: dict | None = None) -> None:
        self.send_response(status)
        headers = {"Content-Type": ctype, "Content-Length": str(len(data)), "Cache-Control": "no-store",
                   "X-Content-Type-Options": "nosniff", "Content-Security-Policy": CSP,
                   "Referrer-Policy": "no-referrer", **(extra or {})}
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:
        # Polling every few seconds would flood the terminal; log only when asked to.
        if self.server.log:
            self.server.log(f"{self.address_string()} {format % args}")


def _params(query: str, allowed: set[str]) -> dict[str, str]:
    """The query as a dict; unknown or repeated parameters are refused (a typo must not be
    silently ignored and show the wrong range)."""
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise api.ApiError(f"malformed query string: {query!r}") from None
    params: dict[str, str] = {}
    for k, v in pairs:
        if k not in allowed:
            raise api.ApiError(f"unknown parameter {k!r}; this endpoint takes: {', '.join(sorted(allowed))}")
        if k in params:
            raise api.ApiError(f"parameter {k!r} given twice")
        params[k] = v
    return params


def _answer(path: str, params: dict[str, str], st, cal: Calendar, phase2_required: str) -> dict:
    if path == "/api/summary":
        return api.summary(st, cal, *api.date_range(params, cal))
    if path == "/api/units":
        return api.units(st, cal, *api.date_range(params, cal, api.MAX_DAYS), api.parse_phase(params))
    if path == "/api/orchestrator":
        return api.orchestrator(st, cal, *api.date_range(params, cal, api.MAX_DAYS), phase2_required)
    return api.failures(st, *api.date_range(params, cal), api.parse_limit(params))


def start_in_thread(server: Dashboard) -> threading.Thread:
    """Serve in a daemon thread (beside the orchestrators and worker of `serve`, and in tests)."""
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                         name="dashboard", daemon=True)
    t.start()
    return t
