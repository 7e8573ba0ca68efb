"""A configured receiver made ready to serve: secrets as digests, networks parsed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from callbox.model.addresses import AddressRejected, normalise_address
from callbox.providers import PROVIDERS
from callbox.providers.base import (
    Fetcher,
    InboundRequest,
    Parsed,
    Provider,
    ReceiverContext,
    SignatureKey,
    SignedRequest,
)
from callbox.providers.bounds import check_bounds
from callbox.secrets import SecretDigest, SecretError, resolve_key, resolve_secret
from callbox.settings import ConfigError, IPNetwork, Receiver, parse_network, provider_options

# Never stored with a raw request, whatever the provider.
ALWAYS_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-api-key", "x-auth-token"}
)


@dataclass(frozen=True, slots=True)
class ReadyReceiver:
    settings: Receiver
    provider: Provider
    context: ReceiverContext
    bearer: tuple[SecretDigest, ...]
    basic: tuple[SecretDigest, ...]
    url_tokens: tuple[SecretDigest, ...]
    ip_allow: tuple[IPNetwork, ...]
    secret_headers: frozenset[str]
    signature_keys: tuple[SignatureKey, ...] = field(default=(), repr=False)
    """Loaded by the provider's scheme; HMAC secrets in clear, so never in a repr or log."""

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def max_body_bytes(self) -> int:
        return self.settings.max_body_bytes

    @property
    def public_url(self) -> str | None:
        return self.settings.public_url

    @property
    def verifies_signatures(self) -> bool:
        return bool(self.signature_keys)

    async def verify(
        self, request: SignedRequest, fetcher: Fetcher, now: Callable[[], datetime]
    ) -> Sequence[SignatureKey]:
        """The keys the signature verified with (fetched first where the scheme fetches
        them). Raises SignatureRejected with the reason when it does not verify, and
        Unreachable when key material cannot be fetched now."""
        scheme = self.provider.signature
        assert scheme is not None  # (keys are only loaded for a provider that signs)
        keys: Sequence[SignatureKey] = self.signature_keys
        if scheme.fetch_keys is not None:
            keys = await scheme.fetch_keys(request, keys, self.context, fetcher)
        scheme.verify(request, keys, self.context, now())
        return keys

    async def after_accepted(
        self, request: SignedRequest, keys: Sequence[SignatureKey], fetcher: Fetcher
    ) -> str | None:
        """The scheme's follow-up to a verified, stored request (a line for the log);
        Unreachable propagates."""
        scheme = self.provider.signature
        if scheme is None or scheme.after_accepted is None:
            return None
        return await scheme.after_accepted(request, keys, self.context, fetcher)

    def parse(self, request: InboundRequest) -> Sequence[Parsed]:
        """Run the provider's pure parser and bound its identifiers (:mod:`bounds`);
        PayloadRejected propagates with its reason. The events come with the provider's
        notes of what it does not apply (``split_notes``)."""
        events = self.provider.parse(request, self.context)
        check_bounds(events)
        return events


def _digests(values: list[str], key: str) -> tuple[SecretDigest, ...]:
    digests = []
    for index, value in enumerate(values):
        try:
            digests.append(resolve_secret(value))
        except SecretError as error:
            raise ConfigError(f"{key}[{index}]: {error}") from None
    return tuple(digests)


def _signature_keys(receiver: Receiver, provider: Provider, key: str) -> tuple[SignatureKey, ...]:
    if not receiver.auth.signature:
        return ()
    scheme = provider.signature
    if scheme is None:
        raise ConfigError(
            f"{key}: provider {provider.name} does not sign its callbacks; use bearer, basic,"
            " ip_allow or url_token"
        )
    if scheme.needs_public_url and receiver.public_url is None:
        raise ConfigError(
            f"{key}: {provider.name} signs the URL it calls: set this receiver's public_url to"
            " the URL configured at the provider"
        )
    keys = []
    for index, reference in enumerate(receiver.auth.signature):
        try:
            text = resolve_key(reference)
            keys.append(scheme.load_key(text))
        except SecretError as error:
            raise ConfigError(f"{key}[{index}]: {error}") from None
        except ValueError as error:
            raise ConfigError(f"{key}[{index}]: not a {scheme.key_kind}: {error}") from None
    return tuple(keys)


def prepare_receiver(receiver: Receiver, index: int) -> ReadyReceiver:
    """Resolve secrets (``env:`` references are read now) and build the parse context."""
    provider = PROVIDERS[receiver.provider]
    prefix = f"receivers[{index}].auth"
    region = receiver.region
    try:
        our_address = (
            normalise_address(receiver.our_address, region) if receiver.our_address else None
        )
    except AddressRejected as error:
        raise ConfigError(f"receivers[{index}].our_address: {error}") from None
    return ReadyReceiver(
        settings=receiver,
        provider=provider,
        context=ReceiverContext(
            name=receiver.name,
            default_region=region,
            timezone=receiver.zone,
            our_address=our_address,
            options=provider_options(receiver),
        ),
        bearer=_digests(receiver.auth.bearer, f"{prefix}.bearer"),
        basic=_digests(receiver.auth.basic, f"{prefix}.basic"),
        url_tokens=_digests(receiver.auth.url_token, f"{prefix}.url_token"),
        ip_allow=tuple(parse_network(entry) for entry in receiver.auth.ip_allow),
        secret_headers=ALWAYS_SECRET_HEADERS | provider.secret_headers,
        signature_keys=_signature_keys(receiver, provider, f"{prefix}.signature"),
    )
