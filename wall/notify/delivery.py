"""Sending one message: an email over SMTP, or a signed POST to a webhook.

Failures come back as DeliveryError, in words an operator can act on
("connection refused by mail.example.com:587"), and say whether trying again
could help.
"""

from __future__ import annotations

import email.utils
import smtplib
import socket
import ssl
import time
import urllib.error
import urllib.request
from email.message import EmailMessage

from .config import NotifyConfig
from .messages import email_html, one_line, sign

USER_AGENT = "Storywall-Webhook/1"


class DeliveryError(Exception):
    """A message that did not go; `permanent` when retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


def compose_email(
    config: NotifyConfig, *, to: str, subject: str, text: str, fragment: str, message_id: str
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = email.utils.formataddr((one_line(config.site_name), config.smtp_from))
    message["To"] = to
    message["Subject"] = one_line(subject, 250)
    message["Date"] = email.utils.formatdate(localtime=True)
    message["Message-ID"] = message_id
    # RFC 3834: no vacation replies to a machine.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(email_html(subject, fragment, config.site_name), subtype="html")
    return message


def send_email(config: NotifyConfig, message: EmailMessage) -> None:
    """Hand one message to the mail server; DeliveryError in plain words if it will not take it."""
    where = f"{config.smtp_host}:{config.smtp_port}"
    context = ssl.create_default_context()
    try:
        if config.smtp_security == "tls":
            server: smtplib.SMTP = smtplib.SMTP_SSL(
                config.smtp_host, config.smtp_port, timeout=config.smtp_timeout, context=context
            )
        else:
            server = smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=config.smtp_timeout)
        try:
            if config.smtp_security == "starttls":
                server.starttls(context=context)
            if config.smtp_user:
                server.login(config.smtp_user, config.smtp_password)
            server.send_message(message)
        finally:
            try:
                server.quit()
            except (smtplib.SMTPException, OSError):
                server.close()  # the message went (or not) already; a rude goodbye is fine
    except Exception as exc:  # translated below; anything unknown is kept as it was said
        raise smtp_error(exc, where, config) from exc


def smtp_error(exc: BaseException, where: str, config: NotifyConfig) -> DeliveryError:
    """What went wrong with the mail server, in words."""
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, ConnectionRefusedError):
        return DeliveryError(f"connection refused by {where}: is the mail server running there?")
    if isinstance(exc, socket.gaierror):
        return DeliveryError(f"cannot find the mail server {config.smtp_host!r}: {exc.strerror}")
    # smtplib reports a greeting that never came as a closed connection.
    timed_out = isinstance(exc, smtplib.SMTPServerDisconnected) and "timed out" in str(exc)
    if timed_out or isinstance(exc, TimeoutError | socket.timeout):
        return DeliveryError(
            f"timed out after {config.smtp_timeout:g}s waiting for the mail server at {where}"
        )
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        said = _said(exc.smtp_error)
        return DeliveryError(
            f"authentication failed: {where} refused user {config.smtp_user!r} "
            f"({exc.smtp_code} {said}); check SMTP_USER and SMTP_PASSWORD",
            permanent=True,
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryError(
            f"{where} does not offer that ({exc}); with SMTP_SECURITY=starttls the server must "
            "support STARTTLS, and a user name needs a server that supports AUTH",
            permanent=True,
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return DeliveryError(
            f"certificate problem with {where}: {exc.verify_message}; the server's certificate "
            "must be valid for this host name and signed by an authority this machine trusts"
        )
    if isinstance(exc, ssl.SSLError):
        hint = (
            " (port 465 usually wants tls, 587 starttls)" if config.smtp_port in (465, 587) else ""
        )
        return DeliveryError(
            f"secure connection to {where} failed: {exc.reason or exc}; is SMTP_SECURITY="
            f"{config.smtp_security} right for this server{hint}?"
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = "; ".join(
            f"{address}: {code} {_said(said)}" for address, (code, said) in exc.recipients.items()
        )
        return DeliveryError(f"{where} refused the recipient: {refused}", permanent=_is_5xx(exc))
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return DeliveryError(
            f"{where} refused the sender {exc.sender}: {exc.smtp_code} {_said(exc.smtp_error)}; "
            "check SMTP_FROM",
            permanent=500 <= exc.smtp_code < 600,
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return DeliveryError(
            f"{where} answered {exc.smtp_code} {_said(exc.smtp_error)}",
            permanent=500 <= exc.smtp_code < 600,
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return DeliveryError(f"{where} closed the connection: {exc}")
    if isinstance(exc, OSError):
        return DeliveryError(f"cannot reach {where}: {exc.strerror or exc}")
    return DeliveryError(f"{where}: {type(exc).__name__}: {exc}")


def _said(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return one_line(text, 300)


def _is_5xx(exc: smtplib.SMTPRecipientsRefused) -> bool:
    return all(500 <= code < 600 for code, _ in exc.recipients.values())


def post_webhook(config: NotifyConfig, url: str, body: bytes, *, event: str, delivery: str) -> int:
    """POST the signed body; the status code, or DeliveryError in plain words."""
    timestamp = str(int(time.time()))
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "X-Storywall-Event": event,
            "X-Storywall-Delivery": delivery,
            "X-Storywall-Timestamp": timestamp,
            "X-Storywall-Signature": sign(config.webhook_secret, timestamp, body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=config.webhook_timeout) as response:
            response.read(65536)
            return int(response.status)
    except urllib.error.HTTPError as exc:
        # 408 and 429 say "later"; 5xx may be passing; other 4xx will answer the same again.
        permanent = 400 <= exc.code < 500 and exc.code not in (408, 429)
        raise DeliveryError(
            f"webhook {url} answered {exc.code} {exc.reason}", permanent=permanent
        ) from None
    except urllib.error.URLError as exc:
        raise webhook_error(exc.reason, url, config) from exc
    except OSError as exc:  # a timeout while reading the answer, a reset connection
        raise webhook_error(exc, url, config) from exc


def webhook_error(reason: object, url: str, config: NotifyConfig) -> DeliveryError:
    if isinstance(reason, ConnectionRefusedError):
        return DeliveryError(f"connection refused by webhook {url}")
    if isinstance(reason, TimeoutError | socket.timeout):
        return DeliveryError(f"timed out after {config.webhook_timeout:g}s waiting for {url}")
    if isinstance(reason, ssl.SSLCertVerificationError):
        return DeliveryError(f"certificate problem with webhook {url}: {reason.verify_message}")
    if isinstance(reason, socket.gaierror):
        return DeliveryError(f"cannot find the host of webhook {url}: {reason.strerror}")
    if isinstance(reason, OSError):
        return DeliveryError(f"cannot reach webhook {url}: {reason.strerror or reason}")
    return DeliveryError(f"cannot reach webhook {url}: {reason}")
