"""The web dashboard at ``/fleet/``: server-rendered pages over the console's store.

::

    dashboard = Dashboard(store, guard, DashboardConfig(), page_size=50, api=console_app)
    routes = dashboard.routes()        # mounted by FleetConsole beside /fleet/api/

``/fleet/``                      overview: counts, groups (filters, sort, pages)
``/fleet/groups/{id}``           a group: instances, versions, status timeline
``/fleet/instances/{id}``        an instance: facts, history; live health, info, loggers, pause
``/fleet/actions``               the actions journal; ``/fleet/actions/{id}`` one action's progress
``/fleet/notifications``         the delivery log and the mutes (``POST /fleet/mutes`` adds one)
``/fleet/live``                  a stamp that changes with the fleet: pages poll it
``/fleet/login``, ``/fleet/logout``, ``/fleet/static/...``

Security is the console's: the ``read`` role to view, the actions API (which
wants ``full``) to act. Browsers log in with a token or a user and password
and get a signed session cookie (``session.Sessions``); a request that
changes state carries the session's CSRF token. Pages never include a
credential. Live data about one instance and every action go through the
console's own JSON API (the read proxy and the actions API), called in
process with the caller's session, so they are checked and journaled there.
"""

from __future__ import annotations

import base64
import hmac
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, quote

import httpx
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from actuator.fleet.config import DashboardConfig
from actuator.fleet.model import GROUP_SORTS, INSTANCE_SORTS, SEVERITY, GroupQuery, InstanceQuery
from actuator.fleet.notify.notifier import STATES
from actuator.fleet.query import ApiError, descending, params, sort, statuses, where
from actuator.fleet.store import FleetStore
from actuator.fleet.web.render import environment, query_string
from actuator.fleet.web.session import COOKIE, Session, Sessions, proof_of
from actuator.security.auth import AuthError, Guard
from actuator.security.credentials import ANONYMOUS, SecurityContext

logger = logging.getLogger("actuator.fleet.web")

BASE = "/fleet"
LOGIN_COOKIE = "fleet_login"
CSRF_HEADER = "x-csrf-token"
_MAX_FORM = 16 * 1024
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
# Pages hold fleet data: not cached, not framed, no script or style from elsewhere.
_HEADERS = {
    "cache-control": "no-store",
    "content-security-policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
}
LIVE_PARTS = ("health", "info", "loggers", "pause")
ACTIONS = ("pause", "resume", "flip")  # what the dashboard's buttons start
FINISHED = frozenset({"succeeded", "stopped", "failed"})


@dataclass
class Caller:
    """Who asks, for one request: their identity, session, and a cookie to set if new."""

    context: SecurityContext
    session: Session | None = None
    cookie: str | None = None
    new_cookie: bool = False
    client: tuple[str, int] | None = None
    """The browser's address: the API sees it, so the journal says where an action came from."""


Handler = Callable[[Request, Caller], Awaitable[Response]]


class Dashboard:
    """The dashboard's routes (see the module docstring).

    Parameters:
        store: the console's store (read only).
        guard: the console's security (identities, roles, failed-login limits).
        config: the ``[dashboard]`` section (session key and lifetime, poll interval).
        page_size: rows per page.
        api: the console's ASGI app, for the read proxy and the actions API.
        clock: seconds since the epoch.
    """

    def __init__(
        self,
        store: FleetStore,
        guard: Guard,
        config: DashboardConfig | None = None,
        *,
        page_size: int = 50,
        api: ASGIApp | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.guard = guard
        self.config = config or DashboardConfig()
        key = self.config.session_key
        self.sessions = Sessions(
            key.get_secret_value().encode() if key is not None else None, self.config.session_ttl
        )
        self.page_size = page_size
        self.api = api
        self.clock = clock
        self.templates = environment()

    # -- wiring ---------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        page = self._page
        return [
            Route(f"{BASE}/", page(self.overview), methods=["GET"]),
            Route(f"{BASE}/live", page(self.live), methods=["GET"]),
            Route(f"{BASE}/login", self.login_form, methods=["GET"]),
            Route(f"{BASE}/login", self.login, methods=["POST"]),
            Route(f"{BASE}/logout", page(self.logout), methods=["POST"]),
            Route(f"{BASE}/groups/{{group_id}}", page(self.group), methods=["GET"]),
            Route(f"{BASE}/instances/{{instance_id}}", page(self.instance), methods=["GET"]),
            Route(
                f"{BASE}/instances/{{instance_id}}/live/{{part}}",
                page(self.instance_live),
                methods=["GET"],
            ),
            Route(f"{BASE}/actions", page(self.journal), methods=["GET"]),
            Route(f"{BASE}/actions", page(self.run_action), methods=["POST"]),
            Route(f"{BASE}/actions/preview", page(self.preview_action), methods=["POST"]),
            Route(f"{BASE}/actions/{{action_id}}", page(self.action), methods=["GET"]),
            Route(f"{BASE}/notifications", page(self.notifications), methods=["GET"]),
            Route(f"{BASE}/mutes", page(self.add_mute), methods=["POST"]),
            Route(f"{BASE}/mutes/{{mute_id}}/end", page(self.end_mute), methods=["POST"]),
            Mount(
                f"{BASE}/static",
                app=StaticFiles(packages=[("actuator.fleet.web", "static")]),
                name="fleet-static",
            ),
        ]

    def authenticator(self, request: Request) -> SecurityContext | None:
        """The session cookie as an identity for the JSON API (an authenticator hook).

        A request that changes state must also carry the session's CSRF token
        in ``X-CSRF-Token``; without it the cookie is no identity at all.
        """
        session = self._api_session(request)
        return session.context if session is not None else None

    def identity(self, request: Request) -> str | None:
        """How an API request's session proved who it is (``dashboard session: basic``),
        for the actions journal; ``None`` when no session speaks for the request.

        The console runs this hook before it reads an ``Authorization`` header,
        so when a session speaks for a request, it is the request's identity.
        """
        session = self._api_session(request)
        return session.identity if session is not None else None

    def _api_session(self, request: Request) -> Session | None:
        session = self.sessions.read(request.cookies.get(COOKIE), self.clock())
        if session is None:
            return None
        if request.method not in _SAFE and not Sessions.csrf_matches(
            session, request.headers.get(CSRF_HEADER)
        ):
            return None
        return session

    @staticmethod
    def owns(path: str) -> bool:
        """Whether an error on ``path`` is answered as a page (not the API's JSON)."""
        return (path == BASE or path.startswith(BASE + "/")) and not path.startswith(BASE + "/api/")

    # -- identity -------------------------------------------------------------

    async def _caller(self, request: Request) -> Caller:
        """The caller: a session cookie, else the console's other credentials (header, TLS)."""
        now = self.clock()
        client = (request.client.host, request.client.port) if request.client else None
        cookie = request.cookies.get(COOKIE)
        session = self.sessions.read(cookie, now)
        if session is not None:
            return Caller(session.context, session, cookie, client=client)
        context = await self.guard.authenticate(request.scope)
        if not context.authenticated:
            return Caller(context, client=client)
        # A client certificate or an Authorization header: a session too, so
        # forms have a CSRF token to send back.
        cookie = self.sessions.issue(context, now, proof_of(request.scope))
        session = self.sessions.read(cookie, now)
        return Caller(context, session, cookie, new_cookie=True, client=client)

    def _page(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """A page: the caller must read the fleet; refusals and bad input become pages."""

        async def endpoint(request: Request) -> Response:
            try:
                caller = await self._caller(request)
                if not self.guard.may(caller.context, "fleet", "read"):
                    if not caller.context.authenticated and request.method in _SAFE:
                        target = quote(request.url.path + _query(request), safe="/?=&")
                        return RedirectResponse(f"{BASE}/login?next={target}", 303)
                    self.guard.authorize(caller.context, "fleet", "read", request.scope)
                if request.method not in _SAFE:
                    await self._check_csrf(request, caller)
                response = await handler(request, caller)
            except ApiError as exc:
                return self.error_page(request, exc.status, exc.message, exc.headers)
            except AuthError as exc:
                headers = dict(exc.headers)
                return self.error_page(request, exc.status, exc.message, headers)
            if caller.new_cookie and caller.cookie is not None:
                self._set_session(request, response, caller.cookie)
            return response

        return endpoint

    async def _check_csrf(self, request: Request, caller: Caller) -> None:
        form = await _form(request)
        request.state.form = form
        token = form.get("csrf")
        if caller.session is None or not Sessions.csrf_matches(caller.session, token):
            raise ApiError(403, "The form's security token is missing or stale; reload the page")

    def _set_session(self, request: Request, response: Response, cookie: str) -> None:
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=int(self.sessions.ttl),
            path=BASE,
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )

    # -- rendering ------------------------------------------------------------

    def render(
        self,
        request: Request,
        template: str,
        status: int = 200,
        caller: Caller | None = None,
        **context: Any,
    ) -> HTMLResponse:
        who = caller.context if caller is not None else ANONYMOUS
        html = self.templates.get_template(template).render(
            base=BASE,
            path=request.url.path,
            principal=who.principal,
            csrf=caller.session.csrf if caller is not None and caller.session else None,
            may_act=caller is not None and self.guard.may(who, "fleet", "write"),
            poll=self.config.poll_interval,
            now=self.clock(),
            **context,
        )
        return HTMLResponse(html, status, headers=_HEADERS)

    def error_page(
        self, request: Request, status: int, message: str, headers: dict[str, str] | None = None
    ) -> Response:
        response = self.render(request, "error.html", status, message=message, status_code=status)
        response.headers.update(headers or {})
        return response

    # -- login ----------------------------------------------------------------

    async def login_form(self, request: Request) -> Response:
        nxt = _next(request.query_params.get("next"))
        if self.sessions.read(request.cookies.get(COOKIE), self.clock()) is not None:
            return RedirectResponse(nxt, 303)
        return self._login_page(request, nxt, 200)

    def _login_page(self, request: Request, nxt: str, status: int, message: str = "") -> Response:
        nonce = secrets.token_urlsafe(24)
        response = self.render(
            request,
            "login.html",
            status,
            next=nxt,
            login_nonce=nonce,
            message=message,
            basic=bool(self.guard.settings.users),
        )
        response.set_cookie(
            LOGIN_COOKIE,
            nonce,
            max_age=3600,
            path=f"{BASE}/login",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return response

    async def login(self, request: Request) -> Response:
        """Check a token, or a user and password, once; answer a session cookie."""
        try:
            form = await _form(request)
        except ApiError as exc:
            return self.error_page(request, exc.status, exc.message)
        nxt = _next(form.get("next"))
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if not expected or not hmac.compare_digest(expected, form.get("login", "")):
            return self._login_page(request, nxt, 403, "The login form expired; try again.")
        token, user = form.get("token", "").strip(), form.get("user", "").strip()
        if token:
            authorization = f"Bearer {token}"
        elif user:
            pair = f"{user}:{form.get('password', '')}".encode()
            authorization = f"Basic {base64.b64encode(pair).decode('ascii')}"
        else:
            return self._login_page(request, nxt, 400, "Enter a token, or a user and password.")
        # The same checks as any request to the console (failed-attempt limits,
        # constant-time comparison, scrypt off the event loop), on this header alone.
        scope = {
            **request.scope,
            "headers": [(b"authorization", authorization.encode("utf-8", "replace"))],
        }
        try:
            context = await self.guard.authenticate(scope)
        except AuthError as exc:
            message = "Wrong token, user or password." if exc.status == 401 else exc.message
            response = self._login_page(request, nxt, exc.status, message)
            if exc.status == 429:
                response.headers.update(exc.headers)
            return response
        if not self.guard.may(context, "fleet", "read"):
            logger.warning("dashboard login refused: %r lacks the read role", context.principal)
            return self._login_page(
                request, nxt, 403, "This identity may not read the fleet (no read role)."
            )
        logger.info("dashboard login: %r", context.principal)
        response = RedirectResponse(nxt, 303)
        proof = "bearer token" if token else "basic"
        self._set_session(request, response, self.sessions.issue(context, self.clock(), proof))
        response.delete_cookie(LOGIN_COOKIE, path=f"{BASE}/login")
        return response

    async def logout(self, request: Request, caller: Caller) -> Response:
        if caller.session is not None:
            self.sessions.revoke(caller.session, self.clock())
        response = RedirectResponse(f"{BASE}/login", 303)
        response.delete_cookie(COOKIE, path=BASE)
        return response

    # -- pages ----------------------------------------------------------------

    async def live(self, request: Request, caller: Caller) -> Response:
        """A stamp that changes when the fleet does: pages poll it and reload their data."""
        params(request, set())
        return JSONResponse({"stamp": await self.store.stamp()}, headers=_HEADERS)

    async def overview(self, request: Request, caller: Caller) -> Response:
        query = _filters(request, {"status", "service", "where", "sort", "order", "page"})
        page = _page_number(query)
        sort_key = sort(query, GROUP_SORTS, "status")
        result = await self.store.groups(
            GroupQuery(
                statuses=statuses(query),
                services=query.get("service", []),
                facts=where(query),
                sort=sort_key,
                descending=descending(query),
                offset=(page - 1) * self.page_size,
                limit=self.page_size,
            )
        )
        pages = _check_page(page, result.total, self.page_size)
        counts = await self.store.rollup_counts()
        return self.render(
            request,
            "overview.html",
            caller=caller,
            counts=counts,
            severity=_ordered(counts["instances"]["statuses"]),
            groups=result,
            page=page,
            pages=pages,
            query=query,
            sort=sort_key,
            desc=descending(query),
            sorts=GROUP_SORTS,
            link=lambda **changes: query_string(query, **changes),
            stamp=await self.store.stamp(),
        )

    async def group(self, request: Request, caller: Caller) -> Response:
        group_id = request.path_params["group_id"]
        query = _filters(request, {"status", "version", "where", "q", "sort", "order", "page"})
        page = _page_number(query)
        found = await self.store.group(group_id)
        if found is None:
            raise ApiError(404, f"No service group {group_id[:100]!r}")
        sort_key = sort(query, INSTANCE_SORTS, "status")
        texts = query.get("q", [])
        members = await self.store.instances(
            InstanceQuery(
                statuses=statuses(query),
                versions=query.get("version", []),
                group=group_id,
                facts=where(query),
                text=texts[-1] if texts else None,
                sort=sort_key,
                # Worst first unless asked otherwise.
                descending=descending(query) != (sort_key == "status"),
                offset=(page - 1) * self.page_size,
                limit=self.page_size,
            )
        )
        pages = _check_page(page, members.total, self.page_size)
        return self.render(
            request,
            "group.html",
            caller=caller,
            group=found,
            members=members,
            history=await self.store.history("group", group_id),
            page=page,
            pages=pages,
            query=query,
            sort=sort_key,
            desc=descending(query),
            sorts=INSTANCE_SORTS,
            link=lambda **changes: query_string(query, **changes),
            stamp=await self.store.stamp(),
        )

    async def instance(self, request: Request, caller: Caller) -> Response:
        params(request, set())
        instance_id = request.path_params["instance_id"]
        found = await self.store.instance(instance_id)
        if found is None:
            raise ApiError(404, f"No instance {instance_id[:200]!r}")
        group = await self.store.group(found["group"])
        return self.render(
            request,
            "instance.html",
            caller=caller,
            instance=found,
            group=group,
            history=await self.store.history("instance", instance_id, limit=20),
            parts=LIVE_PARTS,
            stamp=await self.store.stamp(),
        )

    async def instance_live(self, request: Request, caller: Caller) -> Response:
        """A fragment with the instance's own answer, fetched through the console's read proxy."""
        params(request, set())
        instance_id, part = request.path_params["instance_id"], request.path_params["part"]
        if part not in LIVE_PARTS:
            raise ApiError(404, f"No live part {part[:40]!r} (one of {', '.join(LIVE_PARTS)})")
        status, data = await self.call_api(
            caller, "GET", f"/fleet/api/instances/{quote(instance_id, safe='')}/actuator/{part}"
        )
        return self.render(
            request,
            f"live_{part}.html",
            caller=caller,
            instance_id=instance_id,
            answered=status,
            data=data,
        )

    # -- actions: every one through the actions API, as the caller -----------------

    async def preview_action(self, request: Request, caller: Caller) -> Response:
        """The targets an action would reach (the API's dry run), with a button to run it."""
        params(request, set())
        body = _action_body(request.state.form)
        status, data = await self.call_api(
            caller, "POST", "/fleet/api/actions", {**body, "dry_run": True}
        )
        _api_answered(status, data, "preview the action")
        return self.render(request, "action_preview.html", caller=caller, action=body, preview=data)

    async def run_action(self, request: Request, caller: Caller) -> Response:
        params(request, set())
        body = _action_body(request.state.form)
        status, data = await self.call_api(caller, "POST", "/fleet/api/actions", body)
        _api_answered(status, data, "start the action")
        return RedirectResponse(f"{BASE}/actions/{quote(str(data['id']), safe='')}", 303)

    async def journal(self, request: Request, caller: Caller) -> Response:
        query = _filters(request, {"page"})
        page = _page_number(query)
        offset = (page - 1) * self.page_size
        status, data = await self.call_api(
            caller, "GET", f"/fleet/api/actions?offset={offset}&limit={self.page_size}"
        )
        _api_answered(status, data, "read the actions journal")
        pages = _check_page(page, int(data.get("total", 0)), self.page_size)
        return self.render(
            request,
            "actions.html",
            caller=caller,
            journal=data,
            page=page,
            pages=pages,
            link=lambda **changes: query_string(query, **changes),
        )

    async def action(self, request: Request, caller: Caller) -> Response:
        """One action's progress and per-instance results; the page refreshes while it runs."""
        params(request, set())
        action_id = request.path_params["action_id"]
        status, data = await self.call_api(
            caller, "GET", f"/fleet/api/actions/{quote(action_id, safe='')}"
        )
        _api_answered(status, data, "read the action")
        return self.render(
            request,
            "action.html",
            caller=caller,
            action=data,
            refresh=data.get("state") not in FINISHED,
        )

    # -- notifications: the delivery log and the mutes, through the API ---------------

    async def notifications(self, request: Request, caller: Caller) -> Response:
        query = _filters(request, {"page", "state"})
        page = _page_number(query)
        offset = (page - 1) * self.page_size
        state = "".join(f"&state={quote(s)}" for s in query.get("state", []))
        status, log = await self.call_api(
            caller,
            "GET",
            f"/fleet/api/notifications?offset={offset}&limit={self.page_size}{state}",
        )
        _api_answered(status, log, "read the delivery log")
        pages = _check_page(page, int(log.get("total", 0)), self.page_size)
        status, mutes = await self.call_api(caller, "GET", "/fleet/api/mutes?limit=100")
        _api_answered(status, mutes, "read the mutes")
        return self.render(
            request,
            "notifications.html",
            caller=caller,
            log=log,
            mutes=mutes,
            states=STATES,
            page=page,
            pages=pages,
            query=query,
            link=lambda **changes: query_string(query, **changes),
        )

    async def add_mute(self, request: Request, caller: Caller) -> Response:
        params(request, set())
        body = _mute_body(request.state.form, self.clock())
        status, data = await self.call_api(caller, "POST", "/fleet/api/mutes", body)
        _api_answered(status, data, "add the mute")
        return RedirectResponse(f"{BASE}/notifications", 303)

    async def end_mute(self, request: Request, caller: Caller) -> Response:
        params(request, set())
        mute_id = quote(request.path_params["mute_id"], safe="")
        status, data = await self.call_api(caller, "DELETE", f"/fleet/api/mutes/{mute_id}")
        if status != 204:
            _api_answered(status, data, "end the mute")
        return RedirectResponse(f"{BASE}/notifications", 303)

    # -- the console's own API, in process ------------------------------------

    async def call_api(
        self, caller: Caller, method: str, path: str, body: Any = None
    ) -> tuple[int, Any]:
        """Call the console's JSON API as the caller: ``(status, decoded JSON or None)``."""
        if self.api is None:
            return 503, {"message": "The console's API is not available here"}
        headers = {"accept": "application/json"}
        if caller.cookie is not None and caller.session is not None:
            headers["cookie"] = f"{COOKIE}={caller.cookie}"
            headers[CSRF_HEADER] = caller.session.csrf
        transport = httpx.ASGITransport(app=self.api, client=caller.client or ("127.0.0.1", 123))
        async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
            answer = await client.request(method, path, headers=headers, json=body, timeout=30)
        try:
            data = answer.json() if answer.content else None
        except ValueError:
            data = None
        return answer.status_code, data


def _filters(request: Request, allowed: set[str]) -> dict[str, list[str]]:
    """The page's query parameters; a form's empty fields mean "no filter"."""
    found = params(request, allowed)
    cleaned = {key: [v for v in values if v.strip()] for key, values in found.items()}
    return {key: values for key, values in cleaned.items() if values}


def _action_body(form: dict[str, str]) -> dict[str, Any]:
    """The actions API's request for a dashboard form: what to do, and to which instances."""
    action = form.get("action", "")
    if action not in ACTIONS:
        raise ApiError(400, f"Field 'action' must be one of {', '.join(ACTIONS)}")
    body: dict[str, Any] = {"action": action}
    if form.get("instance"):
        body["instances"] = [form["instance"]]
    elif form.get("group"):
        body["group"] = form["group"]
    else:
        raise ApiError(400, "Choose the instances: field 'instance' or 'group'")
    if form.get("reason"):
        body["reason"] = form["reason"][:200]
    # How it rolls out: counts or percentages, as the API takes them (it checks them).
    for key in ("canary", "batch", "max_failures"):
        value = form.get(key, "").strip()
        if value:
            body[key] = int(value) if value.isdigit() and len(value) < 7 else value
    return body


def _mute_body(form: dict[str, str], now: float) -> dict[str, Any]:
    """The mutes API's request for the dashboard's form: it ends ``minutes`` from now."""
    minutes = form.get("minutes", "").strip()
    if not minutes.isdigit() or not 1 <= int(minutes) <= 7 * 24 * 60:
        raise ApiError(400, "Field 'minutes' must be a whole number from 1 to 10080")
    ends = datetime.fromtimestamp(now + 60 * int(minutes), timezone.utc)
    body: dict[str, Any] = {"ends": ends.isoformat(), "reason": form.get("reason", "")[:500]}
    for name in ("services", "subjects"):
        items = [item.strip() for item in form.get(name, "").split(",") if item.strip()]
        if items:
            body[name] = items
    facts = {}
    for item in form.get("where", "").split(","):
        if item.strip():
            key, sep, value = item.strip().partition("=")
            if not sep:
                raise ApiError(400, f"Field 'where' takes fact=value, got {item.strip()[:60]!r}")
            facts[key.strip()] = value.strip()
    if facts:
        body["where"] = facts
    return body


def _api_answered(status: int, data: Any, doing: str) -> None:
    """Pass on the API's refusal as a page: its status and its message."""
    if 200 <= status < 300 and isinstance(data, dict):
        return
    message = data.get("message") if isinstance(data, dict) else None
    if status == 404 and message == "No such resource":
        message = "This console has no actions API"
    raise ApiError(
        status if 400 <= status < 600 else 502,
        f"Could not {doing}: {message or f'the console answered {status}'}",
    )


def _query(request: Request) -> str:
    return "?" + request.url.query if request.url.query else ""


def _next(value: str | None) -> str:
    """Where to go after login: a dashboard path on this console, never another site."""
    if value and value.startswith(BASE + "/") and "//" not in value and "\\" not in value:
        return value
    return BASE + "/"


async def _form(request: Request) -> dict[str, str]:
    """A small ``application/x-www-form-urlencoded`` body: the last value of each field."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not media and request.headers.get("content-length", "0") == "0":
        return {}
    if media != "application/x-www-form-urlencoded":
        raise ApiError(415, "Forms are sent as application/x-www-form-urlencoded")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM:
            raise ApiError(413, f"Form larger than {_MAX_FORM} bytes")
    fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=50)
    return {key: values[-1] for key, values in fields.items()}


def _page_number(query: dict[str, list[str]]) -> int:
    values = query.get("page")
    if not values:
        return 1
    text = values[-1]
    if not text.isdigit() or len(text) > 7 or int(text) < 1:
        raise ApiError(400, f"Parameter 'page' must be a page number from 1, got {text[:20]!r}")
    return int(text)


def _check_page(page: int, total: int, size: int) -> int:
    pages = max(1, math.ceil(total / size))
    if page > pages:
        raise ApiError(404, f"No page {page}: there {'is' if pages == 1 else 'are'} {pages}")
    return pages


def _ordered(per_status: dict[str, int]) -> list[tuple[str, int]]:
    """Statuses worst first, custom codes after the known ones."""
    known = [(code, per_status.get(code, 0)) for code in SEVERITY]
    return known + sorted((c, n) for c, n in per_status.items() if c not in SEVERITY)
