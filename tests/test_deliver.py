"""Email delivery against a real SMTP server on 127.0.0.1 (aiosmtpd): STARTTLS with a certificate
made here, AUTH, attachments opened as a partner would, and no credential in any output."""

from __future__ import annotations

import datetime as dt
import email
import io
import ipaddress
import logging
import re
import shutil
import threading
from email import policy
from pathlib import Path

import pandas as pd
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from test_report import HOSTILE, MANGROVE, OK_MONTH, SEAGRASS, report_inputs_for, run_report

from flows.reports.deliver import DeliveryError, DeliverySettings, load_settings

USER, PASSWORD = "bluecarbon-bot", "s3cr3t-Pa55-do-not-leak"
MONTH = f"{OK_MONTH:%Y-%m}"
SLUG = "selangor-mangrove-partners"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return report_inputs_for(tmp_path_factory)


@pytest.fixture
def out(inputs, tmp_path) -> Path:
    target = tmp_path / "results"
    shutil.copytree(inputs.results, target)
    return target


# --------------------------------------------------------------------------- the SMTP server


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 / localhost: (cert.pem, key.pem)."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bluecarbon test SMTP")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_pem, key_pem = folder / "cert.pem", folder / "key.pem"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return cert_pem, key_pem


class Mailbox:
    """aiosmtpd handler and authenticator: keeps what arrived and who logged in (the login
    and password it accepts: ``user``, ``password``)."""

    user, password = USER, PASSWORD

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes, bool]] = []
        self.logins: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == self.user.encode()
              and auth_data.password == self.password.encode())
        if ok:
            with self.lock:
                self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)

    async def handle_DATA(self, server, session, envelope) -> str:
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), envelope.content,
                                  session.ssl is not None and session.authenticated))
        return "250 Message accepted"


class _Controller(Controller):
    """aiosmtpd's Controller on port 0: learn the port the OS gave before its self-check."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@pytest.fixture
def smtp_server(certificate):
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    mailbox = Mailbox()
    controller = _Controller(mailbox, hostname="127.0.0.1", port=0, tls_context=context,
                             require_starttls=True, authenticator=mailbox,
                             auth_require_tls=True)
    controller.start()
    try:
        yield controller, mailbox
    finally:
        controller.stop()


@pytest.fixture
def smtp_env(monkeypatch, smtp_server, certificate):
    controller, _ = smtp_server
    for key, value in {
        "BLUECARBON_SMTP_HOST": "127.0.0.1", "BLUECARBON_SMTP_PORT": str(controller.port),
        "BLUECARBON_SMTP_USER": USER, "BLUECARBON_SMTP_PASSWORD": PASSWORD,
        "BLUECARBON_SMTP_FROM": "bluecarbon reports <reports@bluecarbon.example.org>",
        "BLUECARBON_SMTP_CAFILE": str(certificate[0]),
        "BLUECARBON_PARTNER_EMAILS": '{"unassigned": ["coast@example.org", "gis@example.org"]}',
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("BLUECARBON_SMTP_STARTTLS", raising=False)


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert PASSWORD not in text
        assert "s3cr3t" not in text


def _parts(message: email.message.EmailMessage) -> dict[str, email.message.EmailMessage]:
    return {p.get_filename() or p.get_content_type(): p for p in message.walk()
            if not p.is_multipart()}


# --------------------------------------------------------------------------- delivery


def test_delivers_each_partner_over_starttls_with_auth(inputs, out, smtp_env, smtp_server,
                                                       caplog, capsys):
    _, mailbox = smtp_server
    caplog.set_level(logging.DEBUG)
    assert run_report(out, MONTH, inputs.sites_file, "--deliver") == 0
    printed = capsys.readouterr()
    assert_no_secret(printed.out, printed.err, caplog.text)
    assert mailbox.logins == [USER]
    assert len(mailbox.messages) == 2
    by_rcpt = {tuple(sorted(rcpt)): (data, secure) for rcpt, data, secure in mailbox.messages}
    expected = {("selangor@example.org",): MANGROVE,  # partner_email of the site
                ("coast@example.org", "gis@example.org"): SEAGRASS}  # BLUECARBON_PARTNER_EMAILS
    assert set(by_rcpt) == set(expected)
    for rcpt, (data, secure) in by_rcpt.items():
        site_id = expected[rcpt]
        assert secure, "message accepted without STARTTLS and AUTH"
        assert_no_secret(data.decode("utf-8", "replace"))
        message = email.message_from_bytes(data, policy=policy.default)
        parts = _parts(message)
        pdf = next(p for name, p in parts.items() if name.endswith(".pdf"))
        assert pdf.get_content()[:5] == b"%PDF-"
        csv = next(p for name, p in parts.items() if name.endswith(".csv"))
        rows = pd.read_csv(io.BytesIO(csv.get_content().encode()
                                      if isinstance(csv.get_content(), str) else csv.get_content()))
        stored = inputs.change[(inputs.change["site_id"] == site_id)
                               & (inputs.change["period"] == OK_MONTH)].iloc[0]
        assert list(rows["site_id"]) == [site_id]
        assert rows["extent_ha"].iloc[0] == pytest.approx(stored["extent_ha"])
        html = message.get_body(("html",)).get_content()
        for cid in re.findall(r'src="cid:([^"]+)"', html):
            image = next(p for p in message.walk() if p["Content-ID"] == f"<{cid}>")
            assert image.get_content()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "text/plain" in {p.get_content_type() for p in message.walk()}
    mangrove_html = email.message_from_bytes(by_rcpt[("selangor@example.org",)][0],
                                             policy=policy.default).get_body(("html",)).get_content()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in mangrove_html
    assert "<script" not in mangrove_html.lower()
    assert not (out / "outbox").exists()


def test_wrong_password_fails_in_one_line_without_the_password(inputs, out, smtp_env,
                                                               smtp_server, monkeypatch, caplog,
                                                               capsys):
    _, mailbox = smtp_server
    monkeypatch.setenv("BLUECARBON_SMTP_PASSWORD", PASSWORD + "-wrong")
    caplog.set_level(logging.DEBUG)
    assert run_report(out, MONTH, inputs.sites_file, "--deliver") == 1
    printed = capsys.readouterr()
    assert_no_secret(printed.out, printed.err, caplog.text)
    lines = printed.err.strip().splitlines()
    assert len(lines) == 2 and all("SMTPAuthenticationError" in line for line in lines)
    assert mailbox.messages == []
    assert (out / "reports" / MONTH / SLUG).is_dir()  # the reports themselves are written


def test_untrusted_certificate_is_refused(inputs, out, smtp_env, smtp_server, monkeypatch,
                                          capsys):
    _, mailbox = smtp_server
    monkeypatch.delenv("BLUECARBON_SMTP_CAFILE")
    assert run_report(out, MONTH, inputs.sites_file, "--deliver") == 1
    err = capsys.readouterr().err
    assert "CERTIFICATE_VERIFY_FAILED" in err or "SSLCertVerificationError" in err
    assert_no_secret(err)
    assert mailbox.messages == [] and mailbox.logins == []


def test_partner_without_address_goes_to_the_outbox(inputs, out, smtp_env, smtp_server,
                                                    monkeypatch, capsys):
    _, mailbox = smtp_server
    monkeypatch.delenv("BLUECARBON_PARTNER_EMAILS")
    assert run_report(out, MONTH, inputs.sites_file, "--deliver") == 1
    err = capsys.readouterr().err
    assert "no email address" in err and err.count("\n") == 1
    assert [rcpt for rcpt, _, _ in mailbox.messages] == [["selangor@example.org"]]
    assert (out / "outbox" / f"{MONTH}-unassigned.eml").is_file()


def test_without_smtp_settings_messages_go_to_the_outbox(inputs, out, monkeypatch, capsys):
    for key in ("HOST", "PORT", "USER", "PASSWORD", "FROM", "STARTTLS", "CAFILE"):
        monkeypatch.delenv(f"BLUECARBON_SMTP_{key}", raising=False)
    monkeypatch.delenv("BLUECARBON_PARTNER_EMAILS", raising=False)
    assert run_report(out, MONTH, inputs.sites_file, "--deliver") == 0
    files = sorted((out / "outbox").glob("*.eml"))
    assert [f.name for f in files] == [f"{MONTH}-{SLUG}.eml", f"{MONTH}-unassigned.eml"]
    message = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert message["To"] == "selangor@example.org"
    assert "Selangor <Mangrove> Partners" in message["Subject"]
    names = set(_parts(message))
    assert {f"{SLUG}-{MONTH}.pdf", f"{SLUG}-{MONTH}.csv"} <= names
    assert HOSTILE not in message.get_body(("html",)).get_content()


# --------------------------------------------------------------------------- bad settings


@pytest.mark.parametrize("env,message", [
    ({"BLUECARBON_SMTP_PORT": "smtp"}, "BLUECARBON_SMTP_PORT must be a port number"),
    ({"BLUECARBON_SMTP_PORT": "70000"}, "BLUECARBON_SMTP_PORT must be a port number"),
    ({"BLUECARBON_SMTP_FROM": ""}, "BLUECARBON_SMTP_FROM is required"),
    ({"BLUECARBON_SMTP_FROM": "not an address"}, "not an email address"),
    ({"BLUECARBON_SMTP_USER": ""}, "set both BLUECARBON_SMTP_USER and BLUECARBON_SMTP_PASSWORD"),
    ({"BLUECARBON_SMTP_STARTTLS": "maybe"}, "BLUECARBON_SMTP_STARTTLS must be true or false"),
    ({"BLUECARBON_SMTP_STARTTLS": "false"}, "refusing to send SMTP credentials without STARTTLS"),
    ({"BLUECARBON_PARTNER_EMAILS": "{bad"}, "BLUECARBON_PARTNER_EMAILS: bad JSON"),
    ({"BLUECARBON_PARTNER_EMAILS": '{"unassigned": "nobody"}'}, "not an email address"),
])
def test_bad_settings_are_one_line_and_write_nothing(inputs, out, monkeypatch, capsys, env,
                                                     message):
    base = {"BLUECARBON_SMTP_HOST": "127.0.0.1", "BLUECARBON_SMTP_PORT": "2525",
            "BLUECARBON_SMTP_USER": USER, "BLUECARBON_SMTP_PASSWORD": PASSWORD,
            "BLUECARBON_SMTP_FROM": "reports@bluecarbon.example.org"}
    for key, value in {**base, **env}.items():
        monkeypatch.setenv(key, value)
    assert run_report(out, MONTH, inputs.sites_file, "--deliver") == 2
    printed = capsys.readouterr()
    assert printed.err.startswith("bluecarbon: error: ") and printed.err.count("\n") == 1
    assert message in printed.err
    assert_no_secret(printed.out, printed.err)
    assert not (out / "reports").exists() and not (out / "outbox").exists()


def test_settings_never_show_the_password():
    settings = load_settings({"BLUECARBON_SMTP_HOST": "mail.example.org",
                              "BLUECARBON_SMTP_USER": USER, "BLUECARBON_SMTP_PASSWORD": PASSWORD,
                              "BLUECARBON_SMTP_FROM": "a@example.org"})
    assert isinstance(settings, DeliverySettings) and settings.port == 587 and settings.starttls
    assert_no_secret(repr(settings), str(settings))
    with pytest.raises(DeliveryError) as info:
        load_settings({"BLUECARBON_SMTP_HOST": "h", "BLUECARBON_SMTP_PASSWORD": PASSWORD})
    assert_no_secret(str(info.value))
