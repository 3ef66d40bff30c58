"""Secrets: Sentinel Hub and SMTP credentials come from the environment only, and never reach a
log, a table, a run record, a report, an email in the outbox or a notebook.

One realistic night with recognisable fake credentials: ``bluecarbon run --source sentinelhub``
against the Sentinel Hub stand-in (with Prefect at DEBUG, a revoked token to refresh, a
rate limit and a scene refused for good, so the error paths run too); then
``bluecarbon report --deliver`` to a local SMTP server (aiosmtpd, STARTTLS + AUTH), and once
more without a server (the outbox); then a result notebook executed on the results. Every
byte they produced is searched for every form the secrets could take: as is, URL-encoded,
base64 (HTTP Basic, SMTP AUTH PLAIN/LOGIN), inside compressed Parquet pages and metadata,
PDF text, MIME parts, the Prefect database and its logs.
"""

from __future__ import annotations

import base64
import datetime as dt
import email
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.parse
from email import policy
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from shub_standin import Fault, StandIn
from strategies import coastal_sites
from test_crash_safety import cli_env, prefect_template
from test_deliver import Mailbox, _Controller, certificate  # noqa: F401  (fixture)

from aoi import load_sites
from flows.sources.demo import DemoSource

REPO = Path(__file__).resolve().parents[1]
SH_ID = "bc-client-Zq7Lk2Xw9Rt"
SH_SECRET = "bc-SECRET-9f8e7d6c5b4a-leakcheck"
SMTP_USER = "bc-smtp-user-Q3v8"
SMTP_PASSWORD = "bc-PASSWORD-Vb71-leakcheck"
START, END = dt.date(2025, 1, 16), dt.date(2025, 2, 28)


def secret_forms() -> dict[str, bytes]:
    """Every spelling of the secrets worth looking for."""
    forms: dict[str, str] = {}
    for name, value in (("SH secret", SH_SECRET), ("SMTP password", SMTP_PASSWORD)):
        forms[name] = value
        forms[f"{name} url-encoded"] = urllib.parse.quote_plus(value)
        forms[f"{name} base64"] = base64.b64encode(value.encode()).decode()
    forms["HTTP Basic"] = base64.b64encode(f"{SH_ID}:{SH_SECRET}".encode()).decode()
    forms["AUTH PLAIN"] = base64.b64encode(f"\0{SMTP_USER}\0{SMTP_PASSWORD}".encode()).decode()
    forms["form body"] = f"client_secret={urllib.parse.quote_plus(SH_SECRET)}"
    return {k: v.encode() for k, v in forms.items()}


def _texts_of(path: Path) -> list[bytes]:
    """The raw bytes of a file plus what is compressed or encoded inside it."""
    raw = path.read_bytes()
    out = [raw]
    if path.suffix == ".parquet":
        meta = pq.ParquetFile(path)
        out.append(repr(meta.schema_arrow.metadata).encode())
        out.append(repr(meta.metadata.metadata).encode())
        out.append(json.dumps(meta.read().to_pylist(), default=str).encode())
    elif path.suffix == ".eml":
        msg = email.message_from_bytes(raw, policy=policy.default)
        for part in msg.walk():
            if not part.is_multipart():
                out.append(part.get_payload(decode=True) or b"")
        out.append(str(msg).encode())
    elif path.suffix == ".pdf":
        text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True)
        if text.returncode == 0:
            out.append(text.stdout)
    elif path.suffix == ".ipynb":
        out.append(json.dumps(json.loads(raw)).encode())
    return out


def assert_no_secret(where: str, blobs: list[bytes]) -> None:
    for name, form in secret_forms().items():
        for blob in blobs:
            assert form not in blob, f"{name} leaked into {where}"


def _scan_tree(root: Path) -> int:
    n = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        assert_no_secret(str(path), _texts_of(path))
        n += 1
    return n


@pytest.fixture(scope="module")
def standin():
    demo = DemoSource(0)
    with StandIn(demo, client_id=SH_ID, client_secret=SH_SECRET) as shub:
        yield shub


class _Mailbox(Mailbox):
    """test_deliver's mailbox, accepting this module's credentials."""

    user, password = SMTP_USER, SMTP_PASSWORD


@pytest.fixture
def smtp(certificate):  # noqa: F811
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    mailbox = _Mailbox()
    controller = _Controller(mailbox, hostname="127.0.0.1", port=0, tls_context=context,
                             require_starttls=True, authenticator=mailbox, auth_require_tls=True)
    controller.start()
    try:
        yield controller, mailbox, certificate
    finally:
        controller.stop()


def test_the_search_finds_secrets_hidden_the_ways_it_claims(tmp_path):
    """The scanner is not blind: a secret in a zstd Parquet page, in Parquet metadata, in a
    base64 MIME part and as HTTP Basic credentials is found."""
    from email.message import EmailMessage

    import pyarrow as pa

    rows = [f"scene {i:05d} {'abcdefgh' * (i % 7)}" for i in range(5000)]
    rows[2500] = f"scene {SH_SECRET} b"  # inside a zstd page (not a min/max statistic)
    pq.write_table(pa.table({"x": rows}), tmp_path / "data.parquet", compression="zstd",
                   use_dictionary=False)
    pq.write_table(pa.table({"x": [1]}).replace_schema_metadata({"k": SMTP_PASSWORD}),
                   tmp_path / "meta.parquet", compression="zstd")
    msg = EmailMessage()
    msg.set_content("hello")
    msg.add_attachment(f"pw={SMTP_PASSWORD}".encode(), maintype="application",
                       subtype="octet-stream", filename="x.bin")
    (tmp_path / "m.eml").write_bytes(msg.as_bytes())
    assert SMTP_PASSWORD.encode() not in (tmp_path / "m.eml").read_bytes()
    basic = "Authorization: Basic " + base64.b64encode(f"{SH_ID}:{SH_SECRET}".encode()).decode()
    (tmp_path / "log.txt").write_text(basic)
    for name in ("data.parquet", "meta.parquet", "m.eml", "log.txt"):
        with pytest.raises(AssertionError, match="leaked into"):
            assert_no_secret(name, _texts_of(tmp_path / name))


def test_credentials_come_from_the_environment_only(tmp_path, monkeypatch, capsys):
    """A sentinelhub-py profile in ``~/.config/sentinelhub`` and a run config file naming a
    secret are both ignored or refused: credentials come from ``SH_*`` variables only, and no
    error message repeats a secret."""
    from flows import cli
    from flows.sources.sentinelhub import SentinelHubSettings

    home = tmp_path / "home"
    profile = home / ".config" / "sentinelhub" / "config.toml"
    profile.parent.mkdir(parents=True)
    profile.write_text(f'[default-profile]\nsh_client_id = "{SH_ID}"\n'
                       f'sh_client_secret = "{SH_SECRET}"\n'
                       'sh_base_url = "http://127.0.0.1:9/from-the-profile"\n')
    for key in [k for k in os.environ if k.startswith(("SH_", "BLUECARBON_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")  # no API is started
    sites = tmp_path / "sites.geojson"
    sites.write_text(json.dumps(coastal_sites(1)))
    out = tmp_path / "results"

    def run(*args: str) -> tuple[int, str]:
        code = cli.main(["run", "--sites", str(sites), "--out", str(out), *args])
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    code, said = run("--source", "sentinelhub")
    assert code == 2 and "set SH_CLIENT_ID and SH_CLIENT_SECRET" in said, said
    config = tmp_path / "run.toml"
    for key in ("sh_client_secret", "client_secret", "smtp_password"):
        config.write_text(f'[run]\nsource = "sentinelhub"\n{key} = "{SH_SECRET}"\n')
        code, said = run("--config", str(config))
        assert code == 2 and f"unknown setting {key!r}" in said, said
        assert_no_secret("an error message", [said.encode()])
    assert not out.exists()

    # with the variables set, they are what is used: not the profile's URL or secret
    monkeypatch.setenv("SH_CLIENT_ID", "id-from-env")
    monkeypatch.setenv("SH_CLIENT_SECRET", "secret-from-env")
    sh = SentinelHubSettings.from_env().sh_config()
    assert (sh.sh_client_id, sh.sh_client_secret) == ("id-from-env", "secret-from-env")
    assert "from-the-profile" not in sh.sh_base_url
    assert SH_SECRET not in repr(SentinelHubSettings.from_env())


@pytest.mark.slow
def test_no_secret_reaches_logs_tables_records_reports_outbox_or_notebooks(
        standin, smtp, tmp_path, tmp_path_factory):
    sites_path = tmp_path / "sites.geojson"
    sites_path.write_text(json.dumps(coastal_sites(2, seed=5, prefix="secret", one_zone_each=True,
                                                   baseline=("2025-01-01", "2025-01-15"))))
    sites = load_sites(sites_path)
    for site in sites:
        standin.add_site(site)
    failing_day = DemoSource(0).search(sites[1], dt.date(2025, 2, 1), END)[1].datetime.date()
    # a token revoked once (refreshed: the secret is sent again), a rate limit, and a scene
    # whose requests are refused for good (recorded; refused fast: a persistent 5xx would
    # cost the client's full backoff, 65 s, tested with short settings in test_sentinelhub).
    # That scene's refusals leave the token valid: revoking the token every tile shares would
    # make the other scenes' outcome depend on thread timing (one refresh each).
    standin.reset(Fault("process", "401", calls=frozenset({2})),
                  Fault("process", "429", calls=frozenset({4, 5})),
                  Fault("process", "401", scene_day=failing_day, revoke=False))
    home = tmp_path / "home"  # the user's home: nothing may be written there
    home.mkdir()
    out = tmp_path / "results"
    prefect_home = tmp_path / "prefect-home"
    env = cli_env(prefect_template(tmp_path_factory), prefect_home,
                  SH_CLIENT_ID=SH_ID, SH_CLIENT_SECRET=SH_SECRET, SH_BASE_URL=standin.base_url,
                  SH_TOKEN_URL=standin.token_url, HOME=str(home),
                  OAUTHLIB_INSECURE_TRANSPORT="1",  # the stand-in speaks plain http
                  XDG_CACHE_HOME=os.path.expanduser("~/.cache"),  # numba's kernel cache
                  PREFECT_LOGGING_LEVEL="DEBUG", PREFECT_LOGGING_SERVER_LEVEL="DEBUG")
    t0 = time.monotonic()
    # under Prefect (--prefect; a plain run imports none since issue 22): its DEBUG logs, the
    # most verbose there are, must not carry a secret either
    run = subprocess.run([sys.executable, "-m", "flows.cli", "run", "--prefect", "-v", "--source",
                          "sentinelhub", "--sites", str(sites_path), "--start", START.isoformat(),
                          "--end", END.isoformat(), "--out", str(out), "--max-cloud", "100"],
                         cwd=REPO, env=env, capture_output=True, timeout=600)
    stderr = run.stderr.decode(errors="replace")
    print(f"\nsentinelhub run: exit {run.returncode} in {time.monotonic() - t0:.1f} s")
    assert "Error logging to API" not in stderr, stderr[-2000:]  # see tests/test_faults.py
    # the faults ran and ended as the run record says: one scene recorded, the others written
    assert run.returncode == 3, stderr[-3000:]
    assert standin.calls["token"] >= 2, "the revoked token was not refreshed"
    (record,) = [json.loads(p.read_text()) for p in (out / "runs").glob("*.json")]
    assert record["status"] == "partial"
    failed = record["sites"][sites[1].id]["failed_scenes"]
    assert list(failed.values()) == ["HTTP 401"], failed
    assert record["sites"][sites[0].id]["failed_scenes"] == {}
    assert len(stderr.splitlines()) > 20, "with -v and DEBUG, Prefect's logs must be there"
    assert_no_secret("the run's stdout/stderr", [run.stdout, run.stderr])

    # the monthly summary, delivered over SMTP with AUTH ...
    controller, mailbox, cert = smtp
    mail_env = env | {
        "BLUECARBON_SMTP_HOST": "127.0.0.1", "BLUECARBON_SMTP_PORT": str(controller.port),
        "BLUECARBON_SMTP_USER": SMTP_USER, "BLUECARBON_SMTP_PASSWORD": SMTP_PASSWORD,
        "BLUECARBON_SMTP_FROM": "reports@bluecarbon.example.org",
        "BLUECARBON_SMTP_CAFILE": str(cert[0]),
        "BLUECARBON_PARTNER_EMAILS": json.dumps({"Coast partners": "coast@example.org"})}
    t0 = time.monotonic()
    sent = subprocess.run([sys.executable, "-m", "flows.cli", "report", "--month", "2025-02",
                           "--out", str(out), "--sites", str(sites_path), "--deliver"],
                          cwd=REPO, env=mail_env, capture_output=True, timeout=600)
    print(f"report --deliver (SMTP): {time.monotonic() - t0:.1f} s")
    assert sent.returncode == 0, sent.stderr.decode(errors="replace")[-3000:]
    assert mailbox.logins == [SMTP_USER] and len(mailbox.messages) == 1
    assert_no_secret("the report command's output", [sent.stdout, sent.stderr])
    assert_no_secret("the delivered email", [mailbox.messages[0][1]])
    # ... and to the outbox, with the password set but no server
    outbox_env = {k: v for k, v in mail_env.items() if k != "BLUECARBON_SMTP_HOST"}
    boxed = subprocess.run([sys.executable, "-m", "flows.cli", "report", "--month", "2025-02",
                            "--out", str(out), "--sites", str(sites_path), "--deliver"],
                           cwd=REPO, env=outbox_env, capture_output=True, timeout=600)
    assert boxed.returncode == 0, boxed.stderr.decode(errors="replace")[-3000:]
    assert list((out / "outbox").glob("*.eml"))
    assert_no_secret("the outbox run's output", [boxed.stdout, boxed.stderr])

    # a result notebook, run by an ecologist whose shell has the credentials set
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(REPO / "notebooks" / "data_quality.ipynb", as_version=4)
    saved = {k: os.environ.get(k) for k in ("BLUECARBON_RESULTS", "SH_CLIENT_SECRET",
                                            "BLUECARBON_SMTP_PASSWORD")}
    os.environ.update(BLUECARBON_RESULTS=str(out), SH_CLIENT_SECRET=SH_SECRET,
                      BLUECARBON_SMTP_PASSWORD=SMTP_PASSWORD)
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    executed = tmp_path / "executed" / "data_quality.ipynb"
    executed.parent.mkdir()
    nbformat.write(nb, executed)

    # every file the night produced: tables, records, reports, outbox, notebook, Prefect's
    # database and logs, and the (fake) home folder
    scanned = {name: _scan_tree(root) for name, root in (
        ("results", out), ("notebook", executed.parent), ("prefect home", prefect_home),
        ("home", home))}
    assert scanned["results"] >= 10 and scanned["prefect home"] >= 1, scanned
    kinds = {p.suffix for p in out.rglob("*") if p.is_file()}
    assert {".parquet", ".json", ".html", ".pdf", ".csv", ".eml"} <= kinds, kinds
    assert not (home / ".config" / "sentinelhub").exists()
