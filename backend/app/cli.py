"""The `chatstream` command: serve, worker, migrate."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from app.core.config import Settings, get_settings

cli = typer.Typer(add_completion=False, help="ChatStream: streaming AI chat you host yourself.")


def _load_settings() -> Settings:
    from pydantic import ValidationError

    try:
        return get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            typer.echo(f"Configuration error: {error['msg']}", err=True)
        raise typer.Exit(2) from None


@cli.command()
def migrate() -> None:
    """Apply the database migrations (SQLite or PostgreSQL, from DATABASE_URL)."""
    from app.migrations import upgrade_to_head

    settings = _load_settings()
    upgrade_to_head(settings.resolved_database_url)
    typer.echo("Database is up to date.")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the API (and the built front end) with uvicorn."""
    settings = _load_settings()
    if workers > 1 and not settings.redis_url:
        typer.echo(
            f"Refusing to start {workers} workers without REDIS_URL: each answer would live in "
            "one process's memory, so a reconnect, a Stop or a reload that reaches another "
            "process could not find it. Set REDIS_URL (see docs/deployment.md), or run one "
            "worker.",
            err=True,
        )
        raise typer.Exit(2)
    _prepare_schema(settings)
    _prepare_metrics_dir(settings, workers)
    from app.server import run_server

    run_server(host=host, port=port, workers=workers, metrics_port=settings.metrics_port)


def _prepare_schema(settings: Settings) -> None:
    """The embedded SQLite database is migrated at start, as `make run` does, so a first
    `chatstream serve` works; any other database is migrated by its operator
    (`chatstream migrate`, once per release), and serving without its schema is refused."""
    from sqlalchemy.engine import make_url

    from app.migrations import schema_state, upgrade_to_head

    url = settings.resolved_database_url
    where = make_url(url).render_as_string(hide_password=True)
    try:
        state = schema_state(url)
    except Exception as exc:  # unreachable now: /readyz says so until it answers
        typer.echo(
            f"Could not read the schema of {where} ({type(exc).__name__}); starting anyway.",
            err=True,
        )
        return
    if state.up_to_date:
        return
    if state.ahead:  # e.g. a rollback after a later release migrated it: let the operator decide
        typer.echo(
            f"The schema of {where} is at revision {', '.join(sorted(state.current))}, which "
            "this version does not know (a later version migrated it?); starting anyway.",
            err=True,
        )
        return
    if make_url(url).get_backend_name() == "sqlite":
        try:
            upgrade_to_head(url)
        except Exception as exc:
            typer.echo(f"Could not migrate {where}: {exc}", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"Migrated {where} to the current schema.", err=True)
        return
    problem = (
        "has no ChatStream schema"
        if state.empty
        else f"is at schema revision {', '.join(sorted(state.current))}, older than this "
        f"version's {', '.join(sorted(state.heads))}"
    )
    typer.echo(
        f"Refusing to start: the database {where} {problem}. "
        "Run `chatstream migrate` first (see docs/deployment.md).",
        err=True,
    )
    raise typer.Exit(2)


def _prepare_metrics_dir(settings: Settings, workers: int) -> None:
    """Prometheus multiprocess mode: every worker writes samples here; /metrics sums them.

    Set before any worker imports prometheus_client, and emptied so old samples don't count.
    One process keeps its samples in memory: a multiprocess sample is a locked write to a
    mapped file, and a stream updates a dozen of them.
    """
    import shutil

    if workers == 1:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        return

    directory = (settings.data_dir / "prometheus").resolve()
    shutil.rmtree(directory, ignore_errors=True)
    # exist_ok: another process starting on the same DATA_DIR at the same moment made it.
    directory.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


@cli.command()
def worker(
    concurrency: Annotated[int, typer.Option(min=1, help="Tasks run at once.")] = 1,
) -> None:
    """Run the Celery worker that retries answers the API could not save."""
    from app.core.logging import configure_logging
    from app.worker import configure_celery

    settings = _load_settings()
    configure_logging(settings)
    app = configure_celery(settings)
    pool = "solo" if concurrency == 1 else "threads"
    app.worker_main(
        ["worker", f"--pool={pool}", f"--concurrency={concurrency}", "--loglevel=INFO", "-E"]
    )


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    cli()


if __name__ == "__main__":
    main()
