"""Provider modules and their registry: adding a provider is one module plus one line here."""

from callbox.providers import (
    amazon_ses,
    esendex,
    mailgun,
    messagebird,
    notify,
    octopush,
    plivo,
    postmark,
    sendgrid,
    sinch,
    telnyx,
    twilio,
    urlnet,
    vonage,
    wiraya,
)
from callbox.providers.base import Provider

_REGISTERED: tuple[Provider, ...] = (
    notify.PROVIDER,
    esendex.PROVIDER,
    octopush.PROVIDER,
    urlnet.PROVIDER,
    wiraya.PROVIDER,
    twilio.PROVIDER,
    vonage.PROVIDER,
    plivo.PROVIDER,
    telnyx.PROVIDER,
    sinch.PROVIDER,
    messagebird.PROVIDER,
    mailgun.PROVIDER,
    postmark.PROVIDER,
    amazon_ses.PROVIDER,
    sendgrid.PROVIDER,
)

PROVIDERS: dict[str, Provider] = {provider.name: provider for provider in _REGISTERED}
