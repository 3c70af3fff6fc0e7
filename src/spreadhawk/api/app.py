"""The FastAPI app: the seeds' endpoints (002's ``/api/arbitrage/*``, 001's ``/api/v1/*``) over a
running node's ``NodeControl`` and the run store, the WebSocket stream, ``/metrics`` and the
dashboard.

Handlers are ``async``: they run on the node's event loop, between engine steps (see ``control``).
The run store is read in a worker thread, so a slow query never holds up the node. Reads need the
read token, state changes the trade token (``security``); without a node (``spreadhawk serve``)
the node's routes answer 503 and the stored runs are still there.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, WebSocket, status
from fastapi import Path as PathParam
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.trustedhost import TrustedHostMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, WithJsonSchema

from spreadhawk.analytics.regime_table import Regime
from spreadhawk.api.auth import ApiTokens, Scope
from spreadhawk.api.control import ADJUSTABLE_LIMITS, CommandRefusedError, NodeControl, NotAvailableError
from spreadhawk.api.metrics import CONTENT_TYPE, NodeMetrics
from spreadhawk.api.security import MAX_FAILURES, BodyLimit, Caller, FailedTokens, allowed_hosts, require
from spreadhawk.api.stream import StreamHub
from spreadhawk.persistence.run_store import RunStore

__all__ = ["ApiSettings", "create_app"]

DASHBOARD = resources.files("spreadhawk.api") / "dashboard"
MAX_PAGE = 500
Reason = Annotated[str, Field(min_length=1, max_length=200)]


class _Command(BaseModel):
    # unknown fields are an error; booleans are JSON booleans ("yes" is not true)
    model_config = ConfigDict(extra="forbid")


class KillRequest(_Command):
    reason: Reason
    flatten: StrictBool | None = None  # None: the [risk] flatten_on_kill setting


class ResumeRequest(_Command):
    reason: Reason


class ToggleRequest(_Command):
    strategy: Annotated[str, Field(min_length=1, max_length=100)]
    enabled: StrictBool
    reason: Reason


class ExitRequest(_Command):
    instrument: Annotated[str, Field(min_length=1, max_length=100)]
    reason: Reason


class DeployRequest(_Command):
    strategy: Annotated[str, Field(min_length=1, max_length=100)]
    reason: Reason = "deployed through the API"


class RegimeOverride(_Command):
    regime: Regime | None  # None clears the override
    reason: Reason


# JSON numbers (or decimal strings), read exactly: pydantic parses a JSON number for a Decimal from its text
Amount = Annotated[
    Decimal,
    Field(gt=0, le=Decimal(10) ** 12, allow_inf_nan=False),
    WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "maximum": 10**12}),
]
Fraction = Annotated[
    Decimal,
    Field(gt=0, le=1, allow_inf_nan=False),
    WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "maximum": 1}),
]


class LimitsRequest(BaseModel):
    """The pre-trade limits to change (``control.ADJUSTABLE_LIMITS``); a limit left out is unchanged,
    ``null`` switches it off."""

    model_config = ConfigDict(extra="forbid")
    max_order_notional: Amount | None = None
    max_asset_fraction: Fraction | None = None
    max_strategy_fraction: Fraction | None = None
    max_deployed_fraction: Fraction | None = None
    price_band: Fraction | None = None
    reason: Reason

    def changes(self) -> dict[str, Decimal | None]:
        return {name: getattr(self, name) for name in sorted(self.model_fields_set - {"reason"})}


assert set(LimitsRequest.model_fields) - {"reason"} == set(ADJUSTABLE_LIMITS)


class Problem(BaseModel):
    detail: Any


def _answers(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error answers an operation may give, documented (a client must expect them)."""
    said = {
        401: "no token, or an unknown one",
        429: "too many wrong tokens from this client: wait (Retry-After)",
        403: "the read token on a state change",
        404: "not in this node (an unknown strategy; no risk engine or allocation) or no such run",
        409: "the command changes nothing (already engaged, already paused, ...)",
        413: "request body too large",
        503: "no running node (or run store) behind this server",
    }
    # errors are JSON whatever the operation returns (the report is HTML)
    json_body = {"application/json": {"schema": Problem.model_json_schema()}}
    return {code: {"description": said[code], "content": json_body} for code in codes}


READ_ANSWERS = _answers(401, 404, 429, 503)
TRADE_ANSWERS = _answers(401, 403, 404, 409, 413, 429, 503)


class ApiSettings(BaseModel):
    model_config = ConfigDict(frozen=True)
    bind_host: str = "127.0.0.1"
    extra_hosts: list[str] = []
    cors_origins: list[str] = []  # none: no other site's page may call the API
    max_token_failures: int = MAX_FAILURES  # wrong tokens per client per minute before 429


def create_app(
    tokens: ApiTokens,
    *,
    control: NodeControl | None = None,
    store: RunStore | None = None,
    settings: ApiSettings | None = None,
) -> FastAPI:
    settings = settings or ApiSettings()
    failures = FailedTokens(settings.max_token_failures)
    read, trade = Depends(require(tokens, Scope.READ, failures)), Depends(require(tokens, Scope.TRADE, failures))
    hub = StreamHub(control, tokens, _origin_check(settings))
    metrics = NodeMetrics(control) if control is not None else None

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        ticks = asyncio.create_task(hub.run_ticks(), name="api-stream-ticks")
        try:
            yield
        finally:
            ticks.cancel()

    app = FastAPI(
        title="spreadhawk",
        summary="A running spreadhawk node and its stored runs",
        version="1",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.hub = hub
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts(settings.bind_host, settings.extra_hosts))
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(BodyLimit)

    app.add_exception_handler(NotAvailableError, _not_available)
    app.add_exception_handler(CommandRefusedError, _refused)

    def node() -> NodeControl:
        if control is None:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no running node here: stored runs only")
        return control

    def runs() -> RunStore:
        if store is None:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no run store here")
        return store

    @app.get("/health", tags=["node"])
    async def health() -> dict[str, Any]:
        return {"ok": True, "node": control is not None}

    @app.get("/metrics", tags=["node"], dependencies=[read], response_class=Response, responses=_answers(401, 503))
    async def prometheus() -> Response:
        if metrics is None:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no running node here: no metrics")
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    @app.websocket("/api/v1/stream")
    async def stream(socket: WebSocket) -> None:
        await hub.serve(socket)

    app.include_router(_node_routes(node, read))
    app.include_router(_risk_routes(node, read))
    app.include_router(_control_routes(node, trade))
    app.include_router(_run_routes(runs, read))
    _dashboard(app)
    return app


async def _not_available(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status.HTTP_404_NOT_FOUND)


async def _refused(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status.HTTP_409_CONFLICT)


NodeOf = Callable[[], NodeControl]


def _node_routes(node: NodeOf, read: Any) -> APIRouter:
    """What the node holds: status, PnL, positions, opportunities, regime, risk, costs (read token)."""
    router = APIRouter(dependencies=[read], responses=READ_ANSWERS)

    @router.get("/api/v1/status", tags=["node"])
    async def node_status() -> dict[str, Any]:
        return node().status()

    router.get("/api/arbitrage/status", tags=["arbitrage"])(node_status)

    @router.get("/api/arbitrage/profits", tags=["arbitrage"])
    async def profits() -> dict[str, Any]:
        return node().profits()

    @router.get("/api/arbitrage/opportunities", tags=["arbitrage"])
    async def opportunities(limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50) -> dict[str, Any]:
        return node().opportunities(limit)

    @router.get("/api/v1/positions", tags=["node"])
    async def positions() -> dict[str, Any]:
        return node().positions()

    @router.get("/api/v1/fills", tags=["node"])
    async def fills(limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100) -> list[dict[str, Any]]:
        return node().fills(limit)

    @router.get("/api/v1/equity", tags=["node"])
    async def equity(points: Annotated[int, Query(ge=1, le=10_000)] = 500) -> list[dict[str, Any]]:
        return node().equity_curve(points)

    @router.get("/api/v1/strategies/performance", tags=["strategies"])
    async def performance() -> dict[str, Any]:
        control = node()
        result = control.profits()
        for row in result["strategies"]:
            row["enabled"] = control.strategy_state(row["id"])["enabled"]
        return result

    @router.get("/api/v1/execution/costs", tags=["execution"])
    async def execution_costs() -> dict[str, Any]:
        return node().execution_costs()

    return router


def _risk_routes(node: NodeOf, read: Any) -> APIRouter:
    """Regime and risk, as the node sees them now (read token)."""
    router = APIRouter(dependencies=[read], responses=READ_ANSWERS)

    @router.get("/api/v1/regime/current", tags=["regime"])
    async def regime_current() -> dict[str, Any]:
        return node().regime()

    @router.get("/api/v1/regime/history", tags=["regime"])
    async def regime_history(limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> list[dict[str, Any]]:
        return node().regime_history(limit)

    @router.get("/api/v1/risk/portfolio", tags=["risk"])
    async def risk_portfolio() -> dict[str, Any]:
        return node().risk_portfolio()

    @router.get("/api/v1/risk/limits", tags=["risk"])
    async def risk_limits() -> dict[str, Any]:
        return node().risk_limits()

    @router.get("/api/v1/kill-switch", tags=["risk"])
    async def kill_switch() -> dict[str, Any]:
        return node().kill_switch()

    return router


def _control_routes(node: NodeOf, trade: Any) -> APIRouter:
    """The operator's commands (trade token): each audited, each refused with 409 if it changes nothing."""
    router = APIRouter(responses=TRADE_ANSWERS)

    @router.post("/api/arbitrage/deploy", tags=["arbitrage"])
    async def deploy(body: DeployRequest, caller: Caller = trade) -> dict[str, Any]:
        """Start trading a strategy of this node (one that was paused)."""
        return node().toggle_strategy(caller.who, body.strategy, True, body.reason)

    @router.post("/api/v1/regime/override", tags=["regime"])
    async def regime_override(body: RegimeOverride, caller: Caller = trade) -> dict[str, Any]:
        regime = body.regime.value if body.regime is not None else None
        return node().override_regime(caller.who, regime, body.reason)

    @router.post("/api/v1/risk/limits", tags=["risk"])
    async def set_risk_limits(body: LimitsRequest, caller: Caller = trade) -> dict[str, Any]:
        return node().set_limits(caller.who, body.changes(), body.reason)

    @router.post("/api/v1/kill-switch/engage", tags=["risk"])
    async def engage(body: KillRequest, caller: Caller = trade) -> dict[str, Any]:
        return node().engage_kill_switch(caller.who, body.reason, body.flatten)

    @router.post("/api/v1/kill-switch/resume", tags=["risk"])
    async def resume(body: ResumeRequest, caller: Caller = trade) -> dict[str, Any]:
        return node().resume(caller.who, body.reason)

    @router.post("/api/v1/positions/exit", tags=["node"])
    async def exit_position(body: ExitRequest, caller: Caller = trade) -> dict[str, Any]:
        """Close a position at market now (refused while an order reducing it is in flight)."""
        return node().exit_position(caller.who, body.instrument, body.reason)

    @router.post("/api/v1/strategies/toggle", tags=["strategies"])
    async def toggle(body: ToggleRequest, caller: Caller = trade) -> dict[str, Any]:
        return node().toggle_strategy(caller.who, body.strategy, body.enabled, body.reason)

    return router


def _run_routes(runs: Callable[[], RunStore], read: Any) -> APIRouter:
    """Stored runs (read token), read in a worker thread: a slow query never holds up the node."""
    router = APIRouter(dependencies=[read], tags=["runs"], responses=READ_ANSWERS)

    @router.get("/api/v1/runs")
    async def list_runs(limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50) -> list[dict[str, Any]]:
        summaries = await asyncio.to_thread(runs().list_runs, limit)
        return [asdict(s) | {"status": s.status.value} for s in summaries]

    @router.get("/api/v1/runs/{run_id}")
    async def get_run(run_id: Annotated[str, PathParam(max_length=100)]) -> dict[str, Any]:
        record = await asyncio.to_thread(runs().get_run, run_id)
        if record is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no run {run_id!r}")
        return {
            "run_id": record.run_id,
            "created_ns": record.created_ns,
            "strategy": record.strategy,
            "status": record.status.value,
            "seed": record.seed,
            "metrics": record.metrics,
            "result": record.config.get("result"),
            "orders": len(record.orders),
            "fills": len(record.fills),
        }

    @router.get("/api/v1/runs/{run_id}/report", response_class=HTMLResponse)
    async def run_report(run_id: Annotated[str, PathParam(max_length=100)]) -> HTMLResponse:
        record = await asyncio.to_thread(runs().get_run, run_id)
        if record is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no run {run_id!r}")
        from spreadhawk.report import render_report  # noqa: PLC0415 (plotly, scipy: only when asked)

        page = await asyncio.to_thread(render_report, record, plotly_src="/static/plotly.min.js")
        return HTMLResponse(page)

    return router


def _dashboard(app: FastAPI) -> None:
    """The dashboard's files: no data in them (the page asks for a token), so no token to fetch them."""
    headers = {
        "Content-Security-Policy": "default-src 'self'; connect-src 'self'; img-src 'self' data: blob:; "
        "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
        "X-Content-Type-Options": "nosniff",
    }

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(Path(str(DASHBOARD / "index.html")), headers=headers)

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> FileResponse:
        if name == "plotly.min.js":
            return FileResponse(_plotly_path(), media_type="text/javascript", headers=headers)
        path = Path(str(DASHBOARD / name))
        if "/" in name or name.startswith(".") or not path.is_file():
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such file")
        return FileResponse(path, headers=headers)


def _plotly_path() -> Path:
    """plotly.js as the plotly package ships it (no CDN)."""
    return Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))


def _origin_check(settings: ApiSettings) -> Callable[[str], bool]:
    hosts = set(allowed_hosts(settings.bind_host, settings.extra_hosts))
    origins = set(settings.cors_origins)

    def allowed(origin: str) -> bool:
        if origin in origins:
            return True
        try:
            parts = urlsplit(origin)
            host = parts.hostname
        except ValueError:
            return False
        return parts.scheme in ("http", "https") and host is not None and host in hosts

    return allowed
