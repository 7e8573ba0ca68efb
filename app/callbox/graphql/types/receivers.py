"""Receiver: a configured callback URL, without its secrets."""

from __future__ import annotations

import strawberry

from callbox.receivers import ReadyReceiver


@strawberry.type(description="A configured receiver. Secrets are never shown, only scheme names.")
class Receiver:
    name: str
    provider: str
    path: str = strawberry.field(description="Where providers post: /hooks/<name>.")
    default_region: str | None
    timezone: str = strawberry.field(description="For provider times without a zone.")
    our_address: str | None
    auth_schemes: list[str] = strawberry.field(
        description="bearer, basic, ip_allow, url_token: every one listed must pass."
    )
    max_body_bytes: int

    @classmethod
    def from_ready(cls, receiver: ReadyReceiver) -> Receiver:
        auth = receiver.settings.auth
        schemes = [
            name
            for name, configured in (
                ("ip_allow", auth.ip_allow),
                ("url_token", auth.url_token),
                ("basic", auth.basic),
                ("bearer", auth.bearer),
            )
            if configured
        ]
        return cls(
            name=receiver.name,
            provider=receiver.provider.name,
            path=f"/hooks/{receiver.name}",
            default_region=receiver.context.default_region,
            timezone=receiver.context.timezone.key,
            our_address=receiver.context.our_address,
            auth_schemes=schemes,
            max_body_bytes=receiver.max_body_bytes,
        )
