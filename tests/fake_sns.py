"""A local stand-in for Amazon SNS's HTTPS hosts, for the Amazon SES tests.

- A test CA and a server certificate for ``sns.<region>.amazonaws.com`` names, made here with
  ``cryptography``; Callbox trusts the CA only through ``[outbound] ca_bundle``.
- One server that Callbox reaches through ``[outbound] proxy``: it takes the HTTP ``CONNECT``
  a client sends a proxy (recording the host asked for), then speaks TLS as that SNS host and
  answers GETs: the signing certificates (``/<name>.pem``), subscription confirmations
  (``/?Action=ConfirmSubscription…``), a certificate that never comes (``/slow.pem``), one that
  is missing (``/missing.pem``) and a server error (``/broken.pem``). Every request is recorded.
- :meth:`FakeSns.sign` signs an SNS message as SNS does (written here from AWS's description,
  independently of ``callbox.providers.amazon_ses``).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import http.server
import json
import socket
import socketserver
import ssl
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from callbox.settings import Outbound

REGIONS = ("us-east-1", "us-west-2", "eu-west-1")
CERT_NAME = "SimpleNotificationService-test.pem"
ROTATED_CERT_NAME = "SimpleNotificationService-rotated.pem"
TOPIC = "arn:aws:sns:us-east-1:123456789012:ses-events"
OTHER_TOPIC = "arn:aws:sns:us-east-1:210987654321:someone-elses-topic"

SIGNED_KEYS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
SIGNED_KEYS["UnsubscribeConfirmation"] = SIGNED_KEYS["SubscriptionConfirmation"]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str,
    key: rsa.RSAPrivateKey,
    issuer: tuple[str, rsa.RSAPrivateKey] | None = None,
    *,
    ca: bool = False,
    dns_names: tuple[str, ...] = (),
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    issuer_name, issuer_key = issuer if issuer is not None else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    if dns_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name) for name in dns_names]),
            critical=False,
        )
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class FakeSns:
    """The running stand-in: what it serves, what it was asked."""

    ca_path: Path
    proxy_url: str
    signing_key: rsa.RSAPrivateKey
    rotated_key: rsa.RSAPrivateKey
    certificates: dict[str, bytes]
    connects: list[str] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    """(Host header, path with query) of every GET, in order."""
    release: threading.Event = field(default_factory=threading.Event)
    confirm_status: int = 200

    def outbound(self, timeout_seconds: float = 5) -> Outbound:
        return Outbound(
            timeout_seconds=timeout_seconds, ca_bundle=str(self.ca_path), proxy=self.proxy_url
        )

    def cert_url(self, region: str = "us-east-1", name: str = CERT_NAME) -> str:
        return f"https://sns.{region}.amazonaws.com/{name}"

    def gets(self, path: str) -> int:
        """How many GETs asked for ``path`` (its query ignored)."""
        return sum(1 for _, asked in self.requests if urlsplit(asked).path == path)

    def reset(self) -> None:
        self.connects.clear()
        self.requests.clear()
        self.confirm_status = 200

    def sign(
        self,
        fields: Mapping[str, Any],
        *,
        version: str = "1",
        key: rsa.RSAPrivateKey | None = None,
        cert_url: str | None = None,
    ) -> dict[str, Any]:
        """The message signed as SNS signs it: ``key\\nvalue\\n`` for each signed field of its
        Type (Subject only when present), RSA PKCS#1 v1.5 with SHA-1 (version 1) or SHA-256."""
        message = dict(fields)
        message["SignatureVersion"] = version
        message["SigningCertURL"] = cert_url or self.cert_url()
        text = "".join(
            f"{name}\n{message[name]}\n"
            for name in SIGNED_KEYS[message["Type"]]
            if name != "Subject" or name in message
        )
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = (key or self.signing_key).sign(text.encode(), padding.PKCS1v15(), algorithm)
        message["Signature"] = base64.b64encode(signature).decode()
        return message


def notification(
    ses_event: Mapping[str, Any] | str,
    *,
    topic: str = TOPIC,
    message_id: str = "0c5b5a7e-1f0e-5a3b-9d7a-2f1c2b7d9e10",
    timestamp: str | None = None,
    subject: str | None = "Amazon SES Email Event Notification",
) -> dict[str, Any]:
    """An SNS Notification carrying ``ses_event`` (unsigned), stamped now unless told."""
    fields: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": topic,
        "Message": ses_event if isinstance(ses_event, str) else json.dumps(ses_event),
        "Timestamp": timestamp or sns_now(),
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x",
    }
    if subject is not None:
        fields["Subject"] = subject
    return fields


def confirmation(
    kind: str = "SubscriptionConfirmation",
    *,
    topic: str = TOPIC,
    token: str = "2336412f37fb687f5d51e6e2425dacbba1b8b1f0",
    subscribe_url: str | None = None,
) -> dict[str, Any]:
    """An SNS (Un)SubscriptionConfirmation (unsigned), stamped now."""
    url = subscribe_url or (
        f"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={topic}"
        f"&Token={token}"
    )
    return {
        "Type": kind,
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": token,
        "TopicArn": topic,
        "Message": "You have chosen to subscribe to the topic. To confirm, visit the SubscribeURL.",
        "SubscribeURL": url,
        "Timestamp": sns_now(),
    }


def sns_now(delta: dt.timedelta = dt.timedelta()) -> str:
    """A Timestamp as SNS writes them (``2012-04-26T20:45:04.751Z``)."""
    at = dt.datetime.now(dt.UTC) + delta
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def body_of(message: Mapping[str, Any]) -> bytes:
    return json.dumps(message, indent=2).encode()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, fake: FakeSns, tls: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake
        self.tls = tls

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # (a client that gives up mid-request, a timeout test: nothing to report)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        # First the proxy's part: CONNECT host:443, answered 200; then TLS as that host.
        raw: socket.socket = self.request
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = raw.recv(4096)
            if not chunk:
                raise ConnectionError("closed before CONNECT")
            head += chunk
        method, target = head.split(b" ", 2)[:2]
        assert method == b"CONNECT", method
        self.server.fake.connects.append(target.decode())
        raw.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.request = self.server.tls.wrap_socket(raw, server_side=True)
        super().setup()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.request.close()  # (the TLS socket: socketserver closes only the raw one)

    def do_GET(self) -> None:  # (http.server's name for it)
        fake = self.server.fake
        fake.requests.append((self.headers.get("Host", ""), self.path))
        parts = urlsplit(self.path)
        name = parts.path.lstrip("/")
        status, body = 404, b"<Error><Code>NotFound</Code></Error>"
        if parts.path == "/" and "Action=ConfirmSubscription" in parts.query:
            status = fake.confirm_status
            body = b"<ConfirmSubscriptionResponse><ConfirmSubscriptionResult><SubscriptionArn>"
            body += b"arn:aws:sns:us-east-1:123456789012:ses-events:1</SubscriptionArn>"
            body += b"</ConfirmSubscriptionResult></ConfirmSubscriptionResponse>"
        elif name == "slow.pem":
            fake.release.wait(10)
            status, body = 200, fake.certificates[CERT_NAME]
        elif name == "broken.pem":
            status, body = 500, b"<Error><Code>InternalError</Code></Error>"
        elif name in fake.certificates:
            status, body = 200, fake.certificates[name]
        self.send_response(status)
        self.send_header("Content-Type", "application/x-x509-ca-cert")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def running_fake_sns(directory: Path) -> Iterator[FakeSns]:
    """The stand-in, serving until the block ends; its CA and keys are written to
    ``directory``."""
    ca_key, server_key = new_key(), new_key()
    ca = _certificate("Callbox Test CA", ca_key, ca=True)
    hosts = tuple(f"sns.{region}.amazonaws.com" for region in REGIONS)
    server_certificate = _certificate(
        hosts[0], server_key, ("Callbox Test CA", ca_key), dns_names=hosts
    )
    ca_path = directory / "test-ca.pem"
    ca_path.write_bytes(_pem(ca))
    chain = directory / "sns-server.pem"
    chain.write_bytes(_pem(server_certificate))
    key_path = directory / "sns-server.key"
    key_path.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(chain, key_path)
    # SNS's signing certificates: self-signed, like AWS's as far as verification goes (only
    # their public key is used; they are trusted for coming from an SNS host over TLS).
    signing_key, rotated_key = new_key(), new_key()
    certificates = {
        CERT_NAME: _pem(_certificate("sns.amazonaws.com", signing_key)),
        ROTATED_CERT_NAME: _pem(_certificate("sns.amazonaws.com", rotated_key)),
        "not-a-certificate.pem": b"-----BEGIN CERTIFICATE-----\nnot one\n-----END CERTIFICATE-----",
    }
    fake = FakeSns(
        ca_path=ca_path,
        proxy_url="",
        signing_key=signing_key,
        rotated_key=rotated_key,
        certificates=certificates,
    )
    server = _Server(fake, tls)
    fake.proxy_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
