"""create_app(): settings, database, model, stream manager, routes, middleware, front end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.routing import APIRoute
from langchain_core.language_models import BaseChatModel
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.stream_route import install_plain_streams
from app.api.v1.endpoints import health
from app.api.v1.endpoints.chat import STREAM_LANES
from app.api.v1.router import api_router
from app.core.config import Settings, get_settings
from app.core.errors import install_error_handlers
from app.core.logging import configure_logging
from app.core.middleware import RequestContextMiddleware
from app.core.task_queue import configure_celery
from app.db.session import Database
from app.frontend import SinglePageApp, default_dist_dir
from app.llm.factory import ChatModelProvider
from app.orchestration.checkpoints import Checkpointer
from app.orchestration.cluster import StreamCluster
from app.orchestration.orchestrator import Orchestrator
from app.schemas.errors import document_validation_errors
from app.server import add_shutdown_hook, remove_shutdown_hook
from app.services.rate_limits import RateLimiter
from app.services.search_index import SearchIndexer
from app.services.turns import interrupt_orphaned_answers
from app.streaming.manager import StreamManager
from app.streaming.response import remember_server_send

log = structlog.get_logger("chatstream.app")


def _operation_id(route: APIRoute) -> str:
    # Stable ids (`chat-stream_chat`) so generated clients keep their names.
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


class ChatStreamAPI(FastAPI):
    """FastAPI, keeping the server's own `send` for stream bodies (app/streaming/response.py),
    opening plain stream requests without the router (app/api/stream_route.py), and
    documenting the 422 its error handler really answers (app/core/errors.py)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        remember_server_send(scope, send)
        await super().__call__(scope, receive, send)

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        lanes = {str(self.url_path_for(lane.endpoint.__name__)): lane for lane in STREAM_LANES}
        if not install_plain_streams(stack, self.router, lanes):
            raise RuntimeError("the router is not in the middleware stack")
        return stack

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            self.openapi_schema = document_validation_errors(super().openapi())
        return self.openapi_schema


async def _recover_orphaned_answers(db: Database) -> None:
    recovered = await interrupt_orphaned_answers(db)
    if recovered:
        log.warning("orphaned_answers_interrupted", count=recovered)


def _report_warm_up(task: asyncio.Task[BaseChatModel]) -> None:
    if not task.cancelled() and task.exception() is not None:
        # The first request retries the load and reports the error to its user.
        log.error("model_load_failed", error=str(task.exception())[:300])


def create_app(
    settings: Settings | None = None,
    *,
    chat_model: BaseChatModel | None = None,
    database: Database | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = database or Database.from_url(settings.resolved_database_url)
        # Scaled mode: answers in a Redis log any process reads; else checkpoints of this one's.
        cluster = StreamCluster.connect(settings, db=db) if settings.redis_url else None
        if cluster is not None:
            streams = StreamManager(
                idle_timeout_s=settings.stream_idle_timeout_s,
                disconnect_grace_s=settings.stream_disconnect_grace_s,
                buffer_ttl_s=settings.stream_buffer_ttl_s,
                buffer_factory=cluster.log.buffer,
                remote_readers=cluster.leases.count_readers,
            )
            cluster.start(streams.stop)
            checkpointer = None
        else:
            streams = StreamManager(
                idle_timeout_s=settings.stream_idle_timeout_s,
                disconnect_grace_s=settings.stream_disconnect_grace_s,
                buffer_ttl_s=settings.stream_buffer_ttl_s,
            )
            checkpointer = Checkpointer(db, streams, settings.stream_checkpoint_s)
            checkpointer.start()
        # SQLite: its search index written in batches (app/services/search_index.py).
        indexer = SearchIndexer(db) if db.is_sqlite else None
        if indexer is not None:
            indexer.start()
        models = ChatModelProvider(settings, chat_model)
        app.state.db = db
        app.state.streams = streams
        app.state.cluster = cluster
        app.state.models = models
        limiter = RateLimiter(settings)
        app.state.limiter = limiter
        app.state.orchestrator = orchestrator = Orchestrator(
            db=db,
            models=models,
            streams=streams,
            settings=settings,
            limiter=limiter,
            cluster=cluster,
        )
        if not settings.redis_url:
            try:
                await _recover_orphaned_answers(db)
            except Exception as exc:  # the database may be down at start; readyz reports it
                log.warning("orphan_recovery_skipped", error_type=type(exc).__name__)
        configure_celery(settings)
        if settings.llm_model == "local":
            # Load the GGUF now, in a thread, so the first answer does not wait for it.
            warm_up = asyncio.create_task(models.get())
            warm_up.add_done_callback(_report_warm_up)

        def end_streams() -> None:
            asyncio.ensure_future(streams.shutdown())

        add_shutdown_hook(end_streams)
        log.info("app_started", env=settings.chatstream_env, model=settings.llm_model)
        try:
            yield
        finally:
            remove_shutdown_hook(end_streams)
            await streams.shutdown()
            if checkpointer is not None:
                await checkpointer.close()
            if indexer is not None:
                await indexer.close()
            await orchestrator.close()
            if cluster is not None:
                await cluster.close()
            await limiter.close()
            if database is None:
                await db.dispose()
            log.info("app_stopped")

    docs = settings.api_docs_exposed  # off in production unless EXPOSE_API_DOCS is set
    app = ChatStreamAPI(
        title="ChatStream",
        version="0.1.0",
        description="Self-hostable AI chat whose answers stream over Server-Sent Events.",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(api_router)
    app.include_router(health.router)
    dist = settings.frontend_dist_dir or default_dist_dir()
    if (dist / "index.html").is_file():
        app.router.default = SinglePageApp(dist)  # what no route matches (app/frontend.py)
    app.add_middleware(RequestContextMiddleware)
    return app
