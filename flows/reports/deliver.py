"""Email delivery of the monthly partner summaries (``bluecarbon report --deliver``).

Each partner gets one message: an HTML body (charts and maps as inline ``cid:`` images) with a
plain-text alternative, the PDF and the CSV attached.

SMTP settings, from the environment:

``BLUECARBON_SMTP_HOST``
    SMTP server. Unset or empty: nothing is sent; every message is written to
    ``<out>/outbox/<YYYY-MM>-<partner-slug>.eml`` instead.
``BLUECARBON_SMTP_PORT``
    Port, default 587 (submission).
``BLUECARBON_SMTP_USER``, ``BLUECARBON_SMTP_PASSWORD``
    Login (AUTH), both or neither. Only ever sent after STARTTLS; never logged or printed.
``BLUECARBON_SMTP_FROM``
    Sender address, required with a host (also used in outbox messages when set).
``BLUECARBON_SMTP_STARTTLS``
    ``true`` (default) or ``false`` (``1/0``, ``yes/no``, ``on/off``). The server certificate is
    verified against the system store, or ``BLUECARBON_SMTP_CAFILE`` (a PEM bundle) when set.
``BLUECARBON_SMTP_TIMEOUT``
    Seconds per SMTP operation, default 30.

Recipients of a partner:

1. ``BLUECARBON_PARTNER_EMAILS``: a JSON object from partner name *or* partner slug (the folder
   name under ``reports/<YYYY-MM>/``; ``unassigned`` for sites without a partner) to an address
   or a list of addresses, e.g.
   ``{"selangor-mangrove-restoration-partnership": ["ops@example.org"],
   "Nature-tech 30x30 pilots": "pilots@example.org"}``. Where it names a partner, it wins.
2. Else the ``partner_email`` property of the partner's sites (an address, a comma-separated
   list or a JSON list of addresses), merged over all its sites.

A partner without any address is not emailed: its message goes to the outbox, and the command
exits 1. Malformed settings or addresses are refused before anything is written (exit 2).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import smtplib
import ssl
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from flows.reports.model import PartnerReport
from flows.reports.render import content_id, render_html
from flows.results.files import StoreError, atomic_path, ensure_dir

__all__ = ["Delivery", "DeliveryError", "DeliverySettings", "build_message", "deliver",
           "load_settings", "plan"]

log = logging.getLogger(__name__)
_ENV = "BLUECARBON_SMTP_"
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


class DeliveryError(Exception):
    """Bad delivery settings or addresses; the message is one line and holds no secret."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


@dataclass(frozen=True)
class DeliverySettings:
    """SMTP settings and partner addresses; ``host`` None means: write to the outbox."""

    host: str | None = None
    port: int = 587
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = "bluecarbon <bluecarbon@localhost>"
    starttls: bool = True
    cafile: str | None = None
    timeout: float = 30.0
    partner_emails: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """``BLUECARBON_PARTNER_EMAILS``, checked: partner name or slug -> addresses."""

    def secrets(self) -> list[str]:
        """Every form in which the password could travel (plain, AUTH PLAIN/LOGIN base64)."""
        if not self.password:
            return []
        user, pw = self.user or "", self.password
        forms = [pw, f"\0{user}\0{pw}"]
        return forms + [base64.b64encode(f.encode()).decode() for f in forms]


@dataclass(frozen=True)
class Delivery:
    """One partner's message-to-be: the rendered report and who gets it."""

    report: PartnerReport
    recipients: tuple[str, ...]


def _address(text: str, what: str) -> str:
    try:
        addr = Address(addr_spec=text.strip())
    except (ValueError, IndexError, TypeError, HeaderParseError) as exc:
        raise DeliveryError(f"{what}: not an email address {text.strip()[:80]!r} "
                            f"({type(exc).__name__})") from None
    if not addr.username or ("." not in addr.domain and addr.domain != "localhost"):
        raise DeliveryError(f"{what}: not an email address {text.strip()[:80]!r}")
    return addr.addr_spec


def _sender(text: str) -> str:
    """``addr@host`` or ``Name <addr@host>``, validated, as a header value."""
    text = text.strip()
    if "<" in text and text.endswith(">"):
        name, spec = text[:-1].split("<", 1)
        spec = _address(spec, f"{_ENV}FROM")
        try:
            return str(Address(display_name=name.strip().strip('"'), addr_spec=spec))
        except (ValueError, HeaderParseError):
            raise DeliveryError(f"{_ENV}FROM: bad display name {name.strip()[:60]!r}") from None
    return _address(text, f"{_ENV}FROM")


def load_settings(env: Mapping[str, str]) -> DeliverySettings:
    """Read and check the SMTP settings; :class:`DeliveryError` (one line) on bad ones."""
    def get(key: str) -> str | None:
        value = env.get(_ENV + key)
        return value.strip() if value and value.strip() else None

    port_text = get("PORT") or "587"
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise DeliveryError(f"{_ENV}PORT must be a port number 1-65535, got {port_text[:20]!r}")
    starttls_text = (get("STARTTLS") or "true").lower()
    if starttls_text not in _TRUE | _FALSE:
        raise DeliveryError(f"{_ENV}STARTTLS must be true or false, got {starttls_text[:20]!r}")
    timeout_text = get("TIMEOUT") or "30"
    try:
        timeout = float(timeout_text)
    except ValueError:
        timeout = -1.0
    if not 0 < timeout < 3600:
        raise DeliveryError(f"{_ENV}TIMEOUT must be seconds (0-3600), got {timeout_text[:20]!r}")
    host, user, password = get("HOST"), get("USER"), env.get(_ENV + "PASSWORD") or None
    if (user is None) != (password is None):
        raise DeliveryError(f"set both {_ENV}USER and {_ENV}PASSWORD, or neither")
    starttls = starttls_text in _TRUE
    if host and user and not starttls:
        raise DeliveryError(f"refusing to send SMTP credentials without STARTTLS "
                            f"({_ENV}STARTTLS=false with {_ENV}USER set)")
    if host and not get("FROM"):
        raise DeliveryError(f"{_ENV}FROM is required with {_ENV}HOST (the sender address)")
    cafile = get("CAFILE")
    if cafile and not os.path.isfile(cafile):
        raise DeliveryError(f"{_ENV}CAFILE {cafile[:120]!r}: no such file")
    sender = _sender(get("FROM")) if get("FROM") else DeliverySettings.sender
    return DeliverySettings(host=host, port=int(port_text), user=user, password=password,
                            sender=sender, starttls=starttls, cafile=cafile, timeout=timeout,
                            partner_emails=_partner_emails(env))


def _addresses(value: object, what: str) -> list[str]:
    if isinstance(value, str):
        text = value.strip()
        try:
            items = json.loads(text) if text.startswith("[") else text.split(",")
        except json.JSONDecodeError:
            raise DeliveryError(f"{what}: bad JSON list of addresses") from None
    elif isinstance(value, list):
        items = value
    else:
        raise DeliveryError(f"{what}: expected an address or a list of addresses")
    if not all(isinstance(i, str) for i in items):
        raise DeliveryError(f"{what}: expected an address or a list of addresses")
    return [_address(i, what) for i in items if i.strip()]


def _partner_emails(env: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    raw = env.get("BLUECARBON_PARTNER_EMAILS", "").strip()
    try:
        mapping = json.loads(raw) if raw else {}
    except json.JSONDecodeError as exc:
        raise DeliveryError(f"BLUECARBON_PARTNER_EMAILS: bad JSON ({exc.msg} at "
                            f"column {exc.colno})") from None
    if not isinstance(mapping, dict):
        raise DeliveryError("BLUECARBON_PARTNER_EMAILS must be a JSON object {partner: address}")
    return {key: tuple(_addresses(value, f"BLUECARBON_PARTNER_EMAILS[{key[:60]!r}]"))
            for key, value in mapping.items()}


def plan(reports: list[PartnerReport], settings: DeliverySettings) -> list[Delivery]:
    """Recipients of each partner's report (see the module docstring), checked."""
    deliveries = []
    for report in reports:
        key = next((k for k in (report.partner, report.slug) if k in settings.partner_emails),
                   None)
        found: list[str] = list(settings.partner_emails[key]) if key is not None else []
        for s in report.sites if key is None else ():
            if s.site.properties.get("partner_email") is not None:
                found += _addresses(s.site.properties["partner_email"],
                                    f"site {s.site.id}: partner_email")
        deliveries.append(Delivery(report, tuple(dict.fromkeys(found))))
    return deliveries


def build_message(delivery: Delivery, sender: str) -> EmailMessage:
    """The email: text and HTML alternatives (inline images), PDF and CSV attached."""
    report = delivery.report
    msg = EmailMessage()
    msg["Subject"] = f"{report.partner}: habitat change summary, {report.month:%B %Y}"
    msg["From"] = sender
    if delivery.recipients:
        msg["To"] = ", ".join(delivery.recipients)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].strip(">"))
    msg.set_content(render_html(report, text=True))
    msg.add_alternative(render_html(report, inline_cid=True), subtype="html")
    html_part = msg.get_payload()[1]
    for key, png in report.images.items():
        html_part.add_related(png, "image", "png", cid=f"<{content_id(key)}>", filename=key)
    msg.add_attachment(report.pdf, maintype="application", subtype="pdf",
                       filename=report.filename("pdf"))
    msg.add_attachment(report.csv, maintype="text", subtype="csv",
                       filename=report.filename("csv"))
    return msg


def _write_eml(msg: EmailMessage, path: Path, root: Path | None = None) -> None:
    ensure_dir(path.parent, root)
    with atomic_path(path, root) as tmp:
        tmp.write_bytes(msg.as_bytes())


def _scrub(text: str, settings: DeliverySettings) -> str:
    for secret in settings.secrets():
        text = text.replace(secret, "***")
    return " ".join(text.split())


def _connect(settings: DeliverySettings) -> smtplib.SMTP:
    assert settings.host is not None
    smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    try:
        smtp.ehlo()
        if settings.starttls:
            context = ssl.create_default_context(cafile=settings.cafile)
            smtp.starttls(context=context)
            smtp.ehlo()
        if settings.user:
            smtp.login(settings.user, settings.password or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def deliver(deliveries: list[Delivery], settings: DeliverySettings, out: str | Path) -> list[str]:
    """Send (or write to the outbox) every partner's message; returns one line per failure,
    also printed to stderr. Credentials never appear in what is logged or printed."""
    outbox = Path(out) / "outbox"
    failures: list[str] = []
    to_send: list[tuple[Delivery, EmailMessage]] = []
    for d in deliveries:
        msg = build_message(d, settings.sender)
        eml = outbox / f"{d.report.month:%Y-%m}-{d.report.slug}.eml"
        if settings.host and d.recipients:
            to_send.append((d, msg))
            continue
        try:
            _write_eml(msg, eml, Path(out))
        except (OSError, StoreError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            failures.append(f"{d.report.partner}: cannot write {eml}: {why}")
            continue
        print(f"outbox: {eml}")
        if settings.host:
            failures.append(f"{d.report.partner}: no email address (set partner_email on its "
                            f"sites or BLUECARBON_PARTNER_EMAILS); written to {eml}")
    if to_send:
        try:
            smtp = _connect(settings)
        except (smtplib.SMTPException, OSError) as exc:  # ssl errors and timeouts too
            reason = _scrub(f"{type(exc).__name__}: {exc}", settings)
            failures += [f"{d.report.partner}: not sent, SMTP {settings.host}:{settings.port}: "
                         f"{reason}" for d, _ in to_send]
            to_send = []
        for d, msg in to_send:
            try:
                smtp.send_message(msg)
            except (smtplib.SMTPException, OSError) as exc:
                reason = _scrub(f"{type(exc).__name__}: {exc}", settings)
                failures.append(f"{d.report.partner}: not sent: {reason}")
                continue
            log.info("sent %s summary to %d recipient(s) via %s:%d", d.report.slug,
                     len(d.recipients), settings.host, settings.port)
            print(f"sent: {d.report.partner} -> {', '.join(d.recipients)}")
        if to_send:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
    for line in failures:
        print(f"bluecarbon: delivery failed: {line}", file=sys.stderr)
    return failures
