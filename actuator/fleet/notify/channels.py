"""Where notifications go: a generic webhook, a Slack-compatible webhook, email.

Each sender makes one attempt per call, within the deadline it is given, and
either returns a short result (``HTTP 200``, ``250 accepted``) or raises
``DeliveryError``; retries and back-off belong to the notifier, which keeps
them in the delivery log. Secrets (URLs, header values, the SMTP password)
are read from the environment once, when the console starts, and never
appear in a result, an error or a log line: every message is redacted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import smtplib
import ssl
from collections.abc import Iterable, Iterator, Mapping
from email.message import EmailMessage
from typing import Any, Protocol

import httpx

from actuator.fleet.notify.config import (
    EmailChannel,
    NotifyConfig,
    SlackChannel,
    WebhookChannel,
    secret,
)
from actuator.fleet.notify.message import text_body

USER_AGENT = "asgi-actuator-fleet-notify"
_RETRIED = frozenset({408, 425, 429, 500, 502, 503, 504})


class DeliveryError(Exception):
    """An attempt failed; ``retry`` says whether another attempt may succeed."""

    def __init__(self, message: str, *, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


class Sender(Protocol):
    secrets: tuple[str, ...]

    async def send(self, document: dict[str, Any], timeout: float) -> str: ...


def redact(text: str, secrets: tuple[str, ...]) -> str:
    for value in secrets:
        if len(value) >= 4:
            text = text.replace(value, "******")
    return text


class RedactingFilter(logging.Filter):
    """Masks the channels' secrets in records of a library logger: httpx logs every
    request's URL at INFO, and a Slack webhook's URL is its credential."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = tuple(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        masked = redact(text, self.secrets)
        if masked != text:
            record.msg, record.args = masked, None
        return True


@contextlib.contextmanager
def redacted_logs(senders: Mapping[str, Sender], logger: str = "httpx") -> Iterator[None]:
    """While running, ``logger``'s records never show a channel's secret."""
    secrets = [value for sender in senders.values() for value in sender.secrets]
    if not secrets:
        yield
        return
    target = logging.getLogger(logger)
    guard = RedactingFilter(secrets)
    target.addFilter(guard)
    try:
        yield
    finally:
        target.removeFilter(guard)


class _HttpSender:
    def __init__(
        self,
        url: str,
        headers: Mapping[str, str],
        secrets: tuple[str, ...],
        client: httpx.AsyncClient,
    ) -> None:
        self.url = url
        self.headers = {"user-agent": USER_AGENT, **headers}
        self.secrets = secrets
        self.client = client

    def body(self, document: dict[str, Any]) -> dict[str, Any]:
        return document

    async def send(self, document: dict[str, Any], timeout: float) -> str:
        headers = {**self.headers, "x-fleet-notification-id": document["id"]}
        try:
            response = await self.client.post(
                self.url, json=self.body(document), headers=headers, timeout=timeout
            )
        except httpx.HTTPError as exc:
            # The exception's text may hold the URL (a secret for Slack): redacted.
            detail = redact(str(exc), self.secrets) or "no detail"
            raise DeliveryError(f"{type(exc).__name__}: {detail}") from None
        if 200 <= response.status_code < 300:
            return f"HTTP {response.status_code}"
        raise DeliveryError(f"HTTP {response.status_code}", retry=response.status_code in _RETRIED)


class WebhookSender(_HttpSender):
    """POSTs the notification document as JSON (see ``message``)."""


class SlackSender(_HttpSender):
    """POSTs ``{"text": summary}``: what Slack, Mattermost and Rocket.Chat webhooks take."""

    def body(self, document: dict[str, Any]) -> dict[str, Any]:
        icon = {"change": "", "reminder": "(reminder) ", "flapping": "", "stable": ""}
        return {"text": f"{icon.get(document['kind'], '')}{document['summary']}"}


class EmailSender:
    """Sends through an SMTP server with the standard library's ``smtplib``, on a thread
    (it blocks), with TLS from the start, STARTTLS, or neither, and an optional login."""

    def __init__(self, config: EmailChannel, password: str | None) -> None:
        self.config = config
        self.password = password
        self.secrets: tuple[str, ...] = (password,) if password else ()

    async def send(self, document: dict[str, Any], timeout: float) -> str:
        message = EmailMessage()
        message["From"] = self.config.sender
        message["To"] = ", ".join(self.config.to)
        message["Subject"] = f"{self.config.subject_prefix} {document['summary']}"[:250]
        message["X-Fleet-Notification-Id"] = document["id"]
        message.set_content(text_body(document))
        try:
            return await asyncio.to_thread(self._send, message, timeout)
        except (smtplib.SMTPException, OSError) as exc:
            detail = redact(str(exc), self.secrets) or "no detail"
            permanent = isinstance(
                exc, (smtplib.SMTPAuthenticationError, ssl.SSLCertVerificationError)
            )
            raise DeliveryError(f"{type(exc).__name__}: {detail}", retry=not permanent) from None

    def _send(self, message: EmailMessage, timeout: float) -> str:
        config = self.config
        context = ssl.create_default_context(cafile=config.ca_file)
        port = config.effective_port
        smtp: smtplib.SMTP
        if config.security == "tls":
            smtp = smtplib.SMTP_SSL(config.host, port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(config.host, port, timeout=timeout)
        with smtp:
            if config.security == "starttls":
                smtp.starttls(context=context)
            if config.username is not None and self.password is not None:
                smtp.login(config.username, self.password)
            refused = smtp.send_message(message)
        if refused:
            raise smtplib.SMTPRecipientsRefused(refused)
        return f"accepted for {len(config.to)} recipient(s)"


def build_senders(
    config: NotifyConfig, environ: Mapping[str, str], client: httpx.AsyncClient | None
) -> dict[str, Sender]:
    """One sender per channel; ``ValueError`` naming the key of an unset variable.
    ``client`` sends the webhooks (needed when there are any)."""
    senders: dict[str, Sender] = {}
    for name, channel in config.channels.items():
        key = f"notifications.channels.{name}"
        if isinstance(channel, EmailChannel):
            password = None
            if channel.password_env is not None:
                password = secret(environ, channel.password_env, f"{key}.password_env")
            senders[name] = EmailSender(channel, password)
            continue
        if client is None:
            raise TypeError("build_senders: webhook channels need an httpx.AsyncClient")
        url = channel.url or secret(environ, channel.url_env or "", f"{key}.url_env")
        secrets = [url]
        headers: dict[str, str] = {}
        if isinstance(channel, WebhookChannel):
            headers.update(channel.headers)
            for header, variable in channel.headers_env.items():
                headers[header] = secret(environ, variable, f"{key}.headers_env.{header}")
                secrets.append(headers[header])
        cls = SlackSender if isinstance(channel, SlackChannel) else WebhookSender
        senders[name] = cls(url, headers, tuple(secrets), client)
    return senders
