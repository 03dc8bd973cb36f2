"""What the notifier needs to know: where mail and webhooks go, and how patiently."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class NotifyConfig:
    """The notification settings, parsed; the defaults send nothing."""

    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"  # starttls | tls | none
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = ""
    smtp_timeout: float = 30.0
    webhook_urls: tuple[str, ...] = ()
    webhook_secret: str = ""
    webhook_timeout: float = 10.0
    retry_seconds: tuple[float, ...] = (60.0, 300.0, 1800.0, 7200.0)
    poll_seconds: float = 5.0
    lease_seconds: float = 300.0
    digest_at: str = "08:00"
    public_url: str = ""
    site_name: str = "Story Wall"

    @property
    def email_on(self) -> bool:
        return bool(self.smtp_host.strip())

    @property
    def webhooks_on(self) -> bool:
        return bool(self.webhook_urls)

    @property
    def configured(self) -> bool:
        """Whether anything is ever sent; when not, nothing is queued either."""
        return self.email_on or self.webhooks_on

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> NotifyConfig:
        def get(name: str, default: Any) -> Any:
            value = settings.get(name)
            return default if value is None else value

        return cls(
            smtp_host=str(get("SMTP_HOST", "")).strip(),
            smtp_port=int(get("SMTP_PORT", 587)),
            smtp_security=str(get("SMTP_SECURITY", "starttls")),
            smtp_user=str(get("SMTP_USER", "")),
            smtp_password=str(get("SMTP_PASSWORD", "")),
            smtp_from=str(get("SMTP_FROM", "")),
            smtp_timeout=float(get("SMTP_TIMEOUT", 30)),
            webhook_urls=tuple(get("WEBHOOK_URLS", ())),
            webhook_secret=str(get("WEBHOOK_SECRET", "")),
            webhook_timeout=float(get("WEBHOOK_TIMEOUT", 10)),
            retry_seconds=tuple(float(s) for s in get("NOTIFY_RETRY_SECONDS", (60, 300))),
            poll_seconds=float(get("NOTIFY_POLL_SECONDS", 5)),
            lease_seconds=float(get("NOTIFY_LEASE_SECONDS", 300)),
            digest_at=str(get("NOTIFY_DIGEST_AT", "08:00")) or "08:00",
            public_url=str(get("PUBLIC_URL", "")).rstrip("/"),
            site_name=str(get("SITE_NAME", "Story Wall")),
        )
