"""Typed settings: built in code, or loaded from a TOML file plus environment variables.

The file format mirrors these classes; provider-specific receiver options are written next
to the common ones in the ``[[receivers]]`` table and validated by the provider's options type.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import tomllib
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import phonenumbers

from callbox.config_document import (
    EnvironmentSettings,
    Problem,
    check,
    environment_settings,
    merge,
    name_sources,
    unknown_key,
)
from callbox.providers import PROVIDERS
from callbox.secrets import SecretError, resolve_secret

logger = logging.getLogger(__name__)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
_RECEIVER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class ConfigError(ValueError):
    """Invalid configuration; each problem names the key and what is wrong with it.

    Example::

        ConfigError("server.port: Expected `int`, got `str`", "logging.level: ...")
    """

    def __init__(self, *problems: str) -> None:
        super().__init__(*problems)
        self.problems: tuple[str, ...] = problems

    def __str__(self) -> str:
        return "\n".join(self.problems)


def parse_network(value: str) -> IPNetwork:
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ValueError(f"not an IP address or CIDR: {value!r}") from None


def _check_secret_syntax(values: list[str], key: str) -> None:
    for index, value in enumerate(values):
        if not value:
            raise ValueError(f"{key}[{index}]: empty secret")
        if value.startswith("sha256:"):
            try:
                resolve_secret(value)
            except SecretError as error:
                raise ValueError(f"{key}[{index}]: {error}") from None


class Auth(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Authentication for one receiver: every listed scheme must pass.

    Example::

        Auth(bearer=["env:NOTIFY_TOKEN"], ip_allow=["203.0.113.0/24"])
    """

    bearer: list[str] = []
    basic: list[str] = []
    ip_allow: list[str] = []
    url_token: list[str] = []
    signature: list[str] = []
    """Keys the provider signs with (a list for rotation: any one verifying is enough); what
    a key is depends on the provider (an HMAC secret, a public key; for Amazon SNS, which
    signs with AWS's own certificate, the topic ARNs this receiver trusts)."""

    def __post_init__(self) -> None:
        for index, value in enumerate(self.signature):
            if not value:
                raise ValueError(f"signature[{index}]: empty key")
            if value.startswith("sha256:"):
                raise ValueError(
                    f"signature[{index}]: a signature key cannot be given as a digest (the"
                    " HMAC needs the key itself): use env:NAME"
                )
        _check_secret_syntax(self.bearer, "bearer")
        _check_secret_syntax(self.basic, "basic")
        _check_secret_syntax(self.url_token, "url_token")
        for index, entry in enumerate(self.basic):
            if not entry.startswith(("env:", "sha256:")) and ":" not in entry:
                raise ValueError(f"basic[{index}]: expected 'user:password'")
        for entry in self.ip_allow:
            parse_network(entry)

    @property
    def is_configured(self) -> bool:
        return bool(self.bearer or self.basic or self.ip_allow or self.url_token or self.signature)


class Receiver(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """One callback URL, ``/hooks/<name>``, for one provider account.

    Example::

        Receiver(name="notify", provider="notify", auth=Auth(bearer=["env:TOKEN"]),
                 default_region="GB", our_address="+447700900000")
    """

    name: str
    provider: str
    auth: Auth = Auth()
    default_region: str | None = None
    timezone: str | None = None
    our_address: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    public_url: str | None = None
    """This receiver's URL exactly as configured at the provider (``https://host/hooks/name``,
    no query): providers that sign the URL are verified against it, never the Host header."""
    raw_retention_days: int | None = None
    """Days raw requests are kept (``callbox purge``); unset: ``[retention] raw_days``;
    0: forever."""
    normalised_retention_days: int | None = None
    """Days messages are kept; unset: ``[retention] normalised_days``; 0: forever."""
    options: dict[str, Any] = {}
    """Provider-specific options (in the file: written beside the common keys)."""

    def __post_init__(self) -> None:
        if not _RECEIVER_NAME.fullmatch(self.name):
            raise ValueError(f"name {self.name!r}: use letters, digits, '_', '.', '-' (at most 64)")
        if self.provider not in PROVIDERS:
            known = ", ".join(sorted(PROVIDERS))
            raise ValueError(f"provider {self.provider!r} is unknown (known: {known})")
        if self.default_region is not None and (
            self.default_region.upper() not in phonenumbers.SUPPORTED_REGIONS
        ):
            raise ValueError(f"default_region {self.default_region!r} is not an ISO country code")
        if self.timezone is not None:
            _zone(self.timezone)
        if self.max_body_bytes <= 0:
            raise ValueError("max_body_bytes must be positive")
        if self.public_url is not None:
            _check_public_url(self.public_url)
        for key in ("raw_retention_days", "normalised_retention_days"):
            days = getattr(self, key)
            if days is not None and days < 0:
                raise ValueError(f"{key} must be 0 (keep forever) or a number of days")
        provider_options(self)

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.timezone or PROVIDERS[self.provider].default_timezone)

    @property
    def region(self) -> str | None:
        region = self.default_region or PROVIDERS[self.provider].default_region
        return region.upper() if region else None


def _check_public_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"public_url {url!r}: expected an http(s) URL such as https://host/path")
    if parts.query or parts.fragment:
        raise ValueError(f"public_url {url!r}: give it without a query or fragment")


def provider_options(receiver: Receiver) -> msgspec.Struct:
    options_type = PROVIDERS[receiver.provider].options_type
    try:
        return msgspec.convert(receiver.options, options_type)
    except msgspec.ValidationError as error:
        raise ValueError(f"{receiver.provider} option: {error}") from None


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"timezone {name!r} is not an IANA time zone") from None


class Server(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    trusted_proxies: list[str] = []
    """Peers whose ``X-Forwarded-For`` is believed (addresses or CIDRs)."""

    def __post_init__(self) -> None:
        for entry in self.trusted_proxies:
            parse_network(entry)
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port {self.port} is out of range")
        if self.workers < 1:
            raise ValueError("workers must be at least 1")


class Database(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    url: str | None = None
    """``postgresql://…``; when unset, an embedded PostgreSQL is started in ``data_dir``."""
    data_dir: str = ".callbox"
    pool_min_size: int = 2
    pool_max_size: int = 10
    migrate_on_start: bool = True
    connect_timeout_seconds: float = 5
    """Opening a connection to the database."""
    acquire_timeout_seconds: float = 5
    """Waiting for a free connection of the pool."""
    statement_timeout_seconds: float = 60
    """Any statement on the pool (ingest, mutations, purges): asyncpg's command timeout,
    which cancels the statement on the server. Generous: one 10,000-event Wiraya batch is one
    statement, about 20 s on a small, busy machine."""
    read_timeout_seconds: float = 10
    """A GraphQL read's statement (lower than writes: a read can simply be asked again)."""
    callback_timeout_seconds: float = 75
    """A callback's whole wait for its write; then ``503`` with ``Retry-After``."""

    def __post_init__(self) -> None:
        if self.url is not None and not _is_postgresql_url(self.url):
            # The URL itself is not repeated: it may hold a password.
            raise ValueError(
                "url: not a PostgreSQL URL (expected postgresql://user:password@host:port/database)"
            )
        for key in (
            "connect_timeout_seconds",
            "acquire_timeout_seconds",
            "statement_timeout_seconds",
            "read_timeout_seconds",
            "callback_timeout_seconds",
        ):
            if getattr(self, key) <= 0:
                raise ValueError(f"{key} must be positive")


def _is_postgresql_url(url: str) -> bool:
    try:
        return urllib.parse.urlsplit(url).scheme in ("postgresql", "postgres")
    except ValueError:  # e.g. an unclosed [IPv6 address
        return False


class Metrics(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Prometheus metrics at ``/metrics``, off by default, behind their own bearer tokens.

    Example::

        Metrics(enabled=True, bearer=["env:CALLBOX_METRICS_TOKEN"])
    """

    enabled: bool = False
    bearer: list[str] = []
    """Tokens a scraper presents as ``Authorization: Bearer``: value, ``env:NAME`` or
    ``sha256:HEX``."""

    def __post_init__(self) -> None:
        _check_secret_syntax(self.bearer, "bearer")
        if self.enabled and not self.bearer:
            raise ValueError("bearer: enabled metrics need at least one token")


class Logging(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """How ``callbox serve`` logs (an embedding host's logging is never touched)."""

    format: Literal["auto", "json", "console"] = "auto"
    """``auto``: readable in development instances, JSON lines otherwise."""
    level: Literal["debug", "info", "warning", "error"] = "info"
    callbacks: Literal["all", "problems"] = "problems"
    """``problems``: a callback line at info only when it was not accepted (rejected,
    unauthorised, forbidden, too large, unavailable); accepted and duplicate ones at debug.
    Metrics count them all. ``all``: every callback at info (one line each, costly at load)."""


class Inbox(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The live inbox page at ``/inbox`` (docs/inbox.md): a browser client of the GraphQL API.

    Example::

        Inbox(enabled=True)
    """

    enabled: bool | None = None
    """Defaults to on in development instances only. The page holds no data of its own: it
    reads ``/graphql`` with the API key the user gives it."""


class Retention(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Defaults for how long data is kept; receivers may set their own.

    Example::

        Retention(raw_days=30, normalised_days=400, purge_interval_minutes=60)
    """

    raw_days: int | None = None
    """Raw requests (and their dedupe keys); unset or 0: kept forever."""
    normalised_days: int | None = None
    """Messages with their status history, and emptied conversations; unset or 0: forever.
    Counted from when Callbox first received a message, not from the provider's dates."""
    batch_size: int = 5000
    """Rows deleted per short transaction."""
    purge_interval_minutes: float = 0
    """Run the purge in-process this often, on one replica at a time; 0: only ``callbox purge``."""

    def __post_init__(self) -> None:
        for key in ("raw_days", "normalised_days"):
            days = getattr(self, key)
            if days is not None and days < 0:
                raise ValueError(f"{key} must be 0 (keep forever) or a number of days")
        if not 1 <= self.batch_size <= 100_000:
            raise ValueError("batch_size must be between 1 and 100000")
        if self.purge_interval_minutes < 0:
            raise ValueError("purge_interval_minutes must not be negative")


class Ingest(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """When a provider is answered, and how the events behind the answer are applied.

    Example::

        Ingest(acknowledge="applied", backlog_alert=50_000)
    """

    acknowledge: Literal["stored", "applied"] = "stored"
    """``stored``: answer 200 once the raw request and its parsed events are committed; the
    events are applied right behind it (milliseconds when keeping up). ``applied``: answer
    only once they are applied, for users who read right after the provider's request."""
    apply_batch: int = 500
    """Stored requests one application transaction takes at most."""
    claim_after_seconds: float = 5
    """A stored request still waiting this long (its process died, or fell behind) is
    applied by whichever process gets to it first."""
    backlog_alert: int = 10_000
    """Stored requests waiting to be applied past which a warning is logged, and past which
    a process's own waiting requests make ``/ready`` report ``apply`` not ready."""

    def __post_init__(self) -> None:
        if not 1 <= self.apply_batch <= 10_000:
            raise ValueError("apply_batch must be between 1 and 10000")
        if self.claim_after_seconds <= 0:
            raise ValueError("claim_after_seconds must be positive")
        if self.backlog_alert < 1:
            raise ValueError("backlog_alert must be at least 1")


class Outbound(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """HTTPS requests Callbox makes itself, for providers that need them: the certificate an
    Amazon SNS message was signed with, and the link that confirms an SNS subscription. Only
    to hosts the provider's scheme allows (``sns.<region>.amazonaws.com``), TLS verified,
    redirects not followed.

    Example::

        Outbound(timeout_seconds=5, proxy="http://egress.internal:3128")
    """

    timeout_seconds: float = 5
    """The whole request, connection included; then the callback is answered 503 with
    ``Retry-After`` (the provider retries)."""
    ca_bundle: str | None = None
    """A PEM file of CA certificates to verify servers with *instead of* the public CAs
    Callbox trusts by default. Leave it unset in production; for tests with a private CA, or
    behind a TLS-inspecting egress proxy."""
    proxy: str | None = None
    """An HTTP proxy for these requests (``http://host:port``); environment variables such
    as ``HTTPS_PROXY`` are not read."""

    def __post_init__(self) -> None:
        if not 0 < self.timeout_seconds <= 60:
            raise ValueError("timeout_seconds must be more than 0 and at most 60")
        if self.ca_bundle is not None and not Path(self.ca_bundle).is_file():
            raise ValueError(f"ca_bundle: no such file: {self.ca_bundle}")
        if self.proxy is not None:
            parts = urlsplit(self.proxy)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("proxy: expected an http(s) URL such as http://host:3128")


class ApiKey(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: str
    key: str
    scopes: list[Literal["read", "write"]] = msgspec.field(default_factory=lambda: ["read"])
    receivers: list[str] | None = None
    """Confine the key to these receivers' data; ``None`` sees everything."""

    def __post_init__(self) -> None:
        _check_secret_syntax([self.key], "key")


class GraphQL(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    api_keys: list[ApiKey] = []
    introspection: bool = True
    graphiql: bool | None = None
    """Defaults to on in development instances only."""
    planner: bool = True
    """Queries the read planner covers run as one SQL statement per root field
    (graphql/planner/); false: Strawberry executes every query field by field."""


class Subscriptions(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Live GraphQL subscriptions over WebSocket (docs/subscriptions.md).

    Example::

        Subscriptions(replay_days=2, max_per_connection=10, queue_size=500)
    """

    replay_days: float = 7
    """How far back a subscription may resume (``after``); older cursors are refused with
    ``CURSOR_EXPIRED``. Event rows are purged a day after they leave this window."""
    max_per_connection: int = 20
    """Subscriptions one WebSocket connection may hold open at once."""
    queue_size: int = 10_000
    """Events a subscriber may fall behind by; past that it is ended (``SUBSCRIBER_TOO_SLOW``).
    Keep it above the largest burst one subscriber may match (a Wiraya batch: 10,000)."""
    connection_init_timeout_seconds: float = 10
    """A WebSocket that has not sent ``connection_init`` by then is closed (4408)."""
    outage_grace_seconds: float = 30
    """How long open subscriptions wait for a lost database to come back before they are
    ended with ``LIVE_UPDATES_INTERRUPTED`` (shorter outages are caught up without loss)."""
    purge_interval_minutes: float = 60
    """How often each process deletes event rows past the replay window; 0: never."""
    allowed_origins: list[str] = []
    """Browser origins (``https://app.example.com``) allowed to open a WebSocket from another
    origin; ``*`` allows any. Non-browser clients send no origin and are not affected."""

    def __post_init__(self) -> None:
        if not 0 < self.replay_days <= 3650:
            raise ValueError("replay_days must be more than 0 (and at most 3650)")
        if not 1 <= self.max_per_connection <= 1000:
            raise ValueError("max_per_connection must be between 1 and 1000")
        if not 1 <= self.queue_size <= 1_000_000:
            raise ValueError("queue_size must be between 1 and 1000000")
        if self.connection_init_timeout_seconds <= 0:
            raise ValueError("connection_init_timeout_seconds must be positive")
        if self.outage_grace_seconds < 0:
            raise ValueError("outage_grace_seconds must not be negative")
        if self.purge_interval_minutes < 0:
            raise ValueError("purge_interval_minutes must not be negative")
        if self.allowed_origins:  # (strawberry is imported only when there are some)
            from strawberry.http.websocket_origin import normalize_allowed_origins

            try:
                normalize_allowed_origins(self.allowed_origins)
            except ValueError as error:
                raise ValueError(f"allowed_origins: {error}") from None


class Settings(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Everything Callbox needs to run, as one typed object.

    Example::

        settings = Settings(
            database=Database(url="postgresql://localhost/callbox"),
            receivers=[Receiver(name="notify", provider="notify", auth=Auth(bearer=["s3cret"]))],
        )
    """

    receivers: list[Receiver] = []
    server: Server = Server()
    database: Database = Database()
    graphql: GraphQL = GraphQL()
    inbox: Inbox = Inbox()
    metrics: Metrics = Metrics()
    logging: Logging = Logging()
    retention: Retention = Retention()
    ingest: Ingest = Ingest()
    subscriptions: Subscriptions = Subscriptions()
    outbound: Outbound = Outbound()
    development: bool = False
    """A development instance: loopback only, unauthenticated receivers allowed."""

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for index, receiver in enumerate(self.receivers):
            if receiver.name in seen:
                raise ValueError(f"receivers[{index}].name {receiver.name!r} is used twice")
            seen.add(receiver.name)
        receiver_names = seen
        for index, key in enumerate(self.graphql.api_keys):
            for name in key.receivers or []:
                if name not in receiver_names:
                    raise ValueError(
                        f"graphql.api_keys[{index}].receivers: no receiver named {name!r}"
                    )

    def on_in_development(self, configured: bool | None) -> bool:
        """A switch left unset (``None``) is on in development instances only."""
        return self.development if configured is None else configured

    def receiver(self, name: str) -> Receiver | None:
        for receiver in self.receivers:
            if receiver.name == name:
                return receiver
        return None


_RECEIVER_KEYS = frozenset(Receiver.__struct_fields__)


def _fold_provider_options(document: dict[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """Move provider-specific keys written beside the common ones into ``options``.

    A key that is neither, such as a misspelt common key, is a problem of its own (with the
    key it resembles), not one of the provider's options.
    """
    receivers = document.get("receivers")
    if not isinstance(receivers, list):
        return document, []
    problems: list[Problem] = []
    folded = []
    for index, table in enumerate(receivers):
        if not isinstance(table, dict):
            folded.append(table)
            continue
        common = {key: value for key, value in table.items() if key in _RECEIVER_KEYS}
        extra = {key: value for key, value in table.items() if key not in _RECEIVER_KEYS}
        provider = (
            PROVIDERS.get(table["provider"]) if isinstance(table.get("provider"), str) else None
        )
        if provider is not None:
            options = {field.encode_name for field in msgspec.structs.fields(provider.options_type)}
            for key in sorted(extra.keys() - options):
                del extra[key]
                known = [*sorted(_RECEIVER_KEYS - {"options"}), *sorted(options)]
                what = f"neither a receiver key nor a {provider.name} option"
                problems.append(unknown_key(key, f"receivers[{index}]", known, what))
        if extra:
            common["options"] = {**table.get("options", {}), **extra}
        folded.append(common)
    return {**document, "receivers": folded}, problems


def settings_from_mapping(
    document: Mapping[str, Any], environment: EnvironmentSettings | None = None
) -> Settings:
    """Typed settings from a parsed config file, with what the environment sets laid over it.

    Raises:
        ConfigError: every problem found, each naming its key (and the variable it came from).
    """
    found = environment or EnvironmentSettings({}, {}, [])
    folded, misplaced = _fold_provider_options(merge(document, found.document))
    problems = [
        *found.problems,
        *name_sources([*check(folded, Settings), *misplaced], found.variables),
    ]
    if problems:
        raise ConfigError(*map(str, problems))
    return msgspec.convert(folded, Settings)


def load_settings(
    path: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read the config file (``path`` or ``CALLBOX_CONFIG``) and lay the environment over it.

    Without a file this is a development instance: one unauthenticated receiver per provider.
    Any setting can be given as ``CALLBOX_<SECTION>__<KEY>`` (``CALLBOX_SERVER__PORT=9000``),
    which wins over the file (docs/configuration.md). ``CALLBOX_DATABASE_URL``,
    ``CALLBOX_DATA_DIR`` and ``CALLBOX_MIGRATE=0`` are older names of three of them.
    """
    environment = os.environ if environ is None else environ
    config_path = path or environment.get("CALLBOX_CONFIG") or None
    if config_path is not None:
        file = Path(config_path)
        try:
            document = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{file}: no such config file") from None
        except IsADirectoryError:
            raise ConfigError(f"{file}: a directory, not a config file") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{file}: invalid TOML: {error}") from None
        if not document:
            logger.warning("%s is empty: no receivers, every setting at its default", file)
    else:
        document = {
            "development": True,
            "receivers": [{"name": name, "provider": name} for name in PROVIDERS],
        }
    spelt, old_names = _with_old_names(environment)
    overrides = environment_settings(spelt, Settings, "CALLBOX_")
    overrides.variables = {
        key: old_names.get(name, name) for key, name in overrides.variables.items()
    }
    return settings_from_mapping(document, overrides)


_OLD_NAMES = {
    "CALLBOX_DATABASE_URL": "CALLBOX_DATABASE__URL",
    "CALLBOX_DATA_DIR": "CALLBOX_DATABASE__DATA_DIR",
    "CALLBOX_MIGRATE": "CALLBOX_DATABASE__MIGRATE_ON_START",  # only as CALLBOX_MIGRATE=0
}


def _with_old_names(environment: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The environment with each older name spelt the documented way (unless that is set
    too: it wins), and the older name of each variable so spelt (to name it in problems)."""
    spelt, old_names = dict(environment), {}
    for old, new in _OLD_NAMES.items():
        value = environment.get(old)
        if old == "CALLBOX_MIGRATE":
            value = "false" if value == "0" else None
        if value and not environment.get(new):
            spelt[new] = value
            old_names[new] = old
    return spelt, old_names


def unauthenticated_receivers(settings: Settings) -> list[str]:
    return [receiver.name for receiver in settings.receivers if not receiver.auth.is_configured]
