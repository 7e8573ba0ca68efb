"""A configured receiver made ready to serve: secrets as digests, networks parsed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from callbox.model.addresses import AddressRejected, normalise_address
from callbox.providers import PROVIDERS
from callbox.providers.base import Event, InboundRequest, Provider, ReceiverContext
from callbox.secrets import SecretDigest, SecretError, resolve_secret
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

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def max_body_bytes(self) -> int:
        return self.settings.max_body_bytes

    def parse(self, request: InboundRequest) -> Sequence[Event]:
        """Run the provider's pure parser; PayloadRejected propagates with its reason."""
        return self.provider.parse(request, self.context)


def _digests(values: list[str], key: str) -> tuple[SecretDigest, ...]:
    digests = []
    for index, value in enumerate(values):
        try:
            digests.append(resolve_secret(value))
        except SecretError as error:
            raise ConfigError(f"{key}[{index}]: {error}") from None
    return tuple(digests)


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
    )
