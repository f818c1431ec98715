"""Production secrets that never default, and where the demonstration sign-in may exist (shared/config.py)."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.auth import key_id
from shared.config import ConfigError, dev_login_allowed, load_settings, secret_problem
from shared.web.devsignin import RESERVED_NAMES, name_problem

ROOT = Path(__file__).resolve().parents[2]
PG = "postgresql://formulary:pw@db.example:5432/formulary"


def published_placeholder() -> str:
    text = (ROOT / "deploy/k8s/base/secret.example.yaml").read_text()
    match = re.search(r'JWT_SECRET:\s*"([^"]+)"', text)
    assert match
    return match.group(1)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A clean environment: no database URLs, no secrets, a data dir of its own."""
    for key in ("DATABASE_URL", "FORMULARY_DATABASE_URL", "JWT_SECRET", "JWT_SECRET_FILE", "JWT_PREVIOUS_SECRETS", "JWT_KEY_ID",
                "JWT_AUDIENCE", "JWT_TTL_HOURS", "HUB_DEV_LOGIN", "HUB_BIND_HOST", "BROKER_URL"):  # fmt: skip
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "var"))
    return monkeypatch


@pytest.mark.parametrize(
    "secret",
    [None, "", "x", "a" * 31, published_placeholder(), "changeme-changeme-changeme-changeme", "x" * 64,
     "0123456701234567012345670123456701", "my-jwt-secret-for-the-county-hub-2026", "PASSWORD_password_PASSWORD_123456",
     "example-secret-value-with-enough-length"],  # fmt: skip
)
def test_production_refuses_an_unset_short_or_placeholder_secret(env: pytest.MonkeyPatch, secret: str | None) -> None:
    env.setenv("DATABASE_URL", PG)
    if secret is not None:
        env.setenv("JWT_SECRET", secret)
    with pytest.raises(ConfigError, match="JWT_SECRET") as exc:
        load_settings("formulary")
    assert "32" in str(exc.value)  # the message says what is needed


def test_a_service_specific_database_url_is_production_too(env: pytest.MonkeyPatch) -> None:
    env.setenv("FORMULARY_DATABASE_URL", PG)
    with pytest.raises(ConfigError):
        load_settings("formulary")


def test_production_starts_with_a_real_secret_and_no_demonstration_sign_in(env: pytest.MonkeyPatch) -> None:
    secret = secrets.token_urlsafe(48)
    old = secrets.token_urlsafe(48)
    env.setenv("DATABASE_URL", PG)
    env.setenv("JWT_SECRET", secret)
    env.setenv("JWT_PREVIOUS_SECRETS", f"2026-10:{old}")
    env.setenv("JWT_AUDIENCE", "chengwu-hub")
    env.setenv("JWT_TTL_HOURS", "8")
    env.setenv("HUB_DEV_LOGIN", "1")  # asking for it does not turn it on
    settings = load_settings("formulary", bind_host="127.0.0.1")
    assert not settings.dev_login and not settings.embedded
    ring = settings.keyring
    assert ring.signing_kid == key_id(secret) and ring.keys == {key_id(secret): secret, "2026-10": old}
    assert ring.audience == "chengwu-hub" and ring.max_ttl.total_seconds() == 8 * 3600


def test_a_weak_previous_key_is_refused_too(env: pytest.MonkeyPatch) -> None:
    env.setenv("DATABASE_URL", PG)
    env.setenv("JWT_SECRET", secrets.token_urlsafe(48))
    env.setenv("JWT_PREVIOUS_SECRETS", "old:short")
    with pytest.raises(ConfigError, match="JWT_PREVIOUS_SECRETS"):
        load_settings("formulary")


@pytest.mark.parametrize("hours", ["ten", "0", "25", "-1"])
def test_an_unfit_token_lifetime_is_refused(env: pytest.MonkeyPatch, hours: str) -> None:
    env.setenv("JWT_TTL_HOURS", hours)
    with pytest.raises(ConfigError, match="JWT_TTL_HOURS"):
        load_settings("formulary")


def test_embedded_keeps_one_generated_secret_per_data_dir(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    first = load_settings("formulary").jwt_secret
    assert len(first) >= 32 and secret_problem(first) is None
    assert load_settings("dispatch").jwt_secret == first
    env.setenv("HUB_DATA_DIR", str(tmp_path / "other"))
    assert load_settings("formulary").jwt_secret != first


@pytest.mark.parametrize(
    ("host", "allowed"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("127.0.0.2", False), ("0.0.0.0", False),
     ("192.168.1.20", False), ("::", False), ("hub.local", False)],  # fmt: skip
)
def test_demonstration_sign_in_only_for_the_embedded_default_on_loopback(env: pytest.MonkeyPatch, host: str, allowed: bool) -> None:
    assert load_settings("formulary", bind_host=host).dev_login is allowed
    env.setenv("HUB_BIND_HOST", host)
    assert load_settings("formulary").dev_login is allowed
    env.setenv("HUB_DEV_LOGIN", "0")
    assert load_settings("formulary", bind_host=host).dev_login is False


def test_dev_login_needs_both_embedded_and_loopback() -> None:
    assert dev_login_allowed(True, "127.0.0.1")
    assert not dev_login_allowed(False, "127.0.0.1")
    assert not dev_login_allowed(True, "10.0.0.1")


def test_random_secrets_pass() -> None:
    for _ in range(200):
        assert secret_problem(secrets.token_urlsafe(32)) is None
        assert secret_problem(secrets.token_hex(32)) is None


@given(
    name=st.sampled_from(sorted(RESERVED_NAMES)),
    upper=st.booleans(),
    pad=st.sampled_from(["", " ", "  ", "\u3000"]),
)
def test_system_names_are_refused_however_written(name: str, upper: bool, pad: str) -> None:
    written = pad + (name.upper() if upper else name) + pad
    assert name_problem(written) is not None


@pytest.mark.parametrize("name", ["demo-pharmacy_manager-1234abcd", "Demo-x", "pharmacy_manager", "a" * 41, "王\x00芳"])
def test_names_that_imitate_accounts_or_carry_control_characters_are_refused(name: str) -> None:
    assert name_problem(name) is not None


@pytest.mark.parametrize("name", ["王芳", "Li Wei", "张 药师"])
def test_people_s_names_are_fine(name: str) -> None:
    assert name_problem(name) is None


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


LOOKALIKES = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "c": "\u0441", "s": "\u0455", "i": "\u0456", "m": "\u043c"}


@given(
    name=st.sampled_from(sorted(n for n in RESERVED_NAMES if n.isascii())),
    trick=st.sampled_from(["fullwidth", "zero_width", "cyrillic", "dotted", "hyphen", "spaced"]),
)
def test_reserved_names_in_disguise_are_refused(name: str, trick: str) -> None:
    """ｓｅｅｄ, se\u200bed, sеed (Cyrillic е), s.e.e.d, se-ed, s e e d all read as `seed`."""
    written = {
        "fullwidth": _fullwidth(name),
        "zero_width": name[:1] + "\u200b" + name[1:],
        "cyrillic": "".join(LOOKALIKES.get(ch, ch) for ch in name),
        "dotted": ".".join(name),
        "hyphen": name[:1] + "-" + name[1:],
        "spaced": " ".join(name),
    }[trick]
    assert name_problem(written) is not None, written


@pytest.mark.parametrize("name", ["Ｌｉ Ｗｅｉ", "O'Brien", "欧阳·娜娜"])
def test_full_width_and_punctuated_people_s_names_are_fine(name: str) -> None:
    assert name_problem(name) is None


@pytest.mark.parametrize(
    "url",
    ["postgresql+psycopg://u:p@db:5432/x", "postgres://u@db/x", "POSTGRESQL://u@db/x", "postgresql+psycopg2://u@db/x"],
)
def test_every_spelling_of_a_postgresql_url_is_production(env: pytest.MonkeyPatch, url: str) -> None:
    env.setenv("DATABASE_URL", url)
    with pytest.raises(ConfigError, match="JWT_SECRET is not set"):
        load_settings("formulary")


@pytest.mark.parametrize("pad", [" ", "\n", "\t\n", "\u3000"])
def test_padding_is_not_part_of_a_secret(env: pytest.MonkeyPatch, pad: str) -> None:
    """Blanks never make a short secret long enough, and a file's trailing newline is not signed with."""
    env.setenv("DATABASE_URL", PG)
    env.setenv("JWT_SECRET", pad * 8 + "k3Y!9xQ2" + pad * 40)
    with pytest.raises(ConfigError, match="bytes"):
        load_settings("formulary")
    real = secrets.token_urlsafe(40)
    env.setenv("JWT_SECRET", pad + real + pad)
    assert load_settings("formulary").jwt_secret == real


def test_the_secret_may_come_from_a_file(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = secrets.token_urlsafe(40)
    (tmp_path / "jwt").write_text(real + "\n")
    env.setenv("DATABASE_URL", PG)
    env.setenv("JWT_SECRET_FILE", str(tmp_path / "jwt"))
    assert load_settings("formulary").jwt_secret == real
    (tmp_path / "weak").write_text("CHANGE-ME-at-least-32-random-bytes\n")
    env.setenv("JWT_SECRET_FILE", str(tmp_path / "weak"))
    with pytest.raises(ConfigError, match="placeholder"):
        load_settings("formulary")
    env.setenv("JWT_SECRET_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="JWT_SECRET_FILE"):
        load_settings("formulary")
    env.setenv("JWT_SECRET_FILE", str(tmp_path / "jwt"))
    env.setenv("JWT_SECRET", real)
    with pytest.raises(ConfigError, match="not both"):
        load_settings("formulary")


def test_blank_audience_and_key_id_fall_back_to_the_defaults(env: pytest.MonkeyPatch) -> None:
    env.setenv("DATABASE_URL", PG)
    env.setenv("JWT_SECRET", secrets.token_urlsafe(40))
    env.setenv("JWT_AUDIENCE", "   ")
    env.setenv("JWT_KEY_ID", " 2026-11 ")
    settings = load_settings("formulary")
    assert settings.jwt_audience == "countyhub" and settings.keyring.signing_kid == "2026-11"


@pytest.mark.parametrize("off", ["0", "false", "FALSE", "no", "off", " Off ", ""])
def test_every_usual_spelling_of_off_turns_the_demonstration_sign_in_off(env: pytest.MonkeyPatch, off: str) -> None:
    env.setenv("HUB_DEV_LOGIN", off)
    assert load_settings("formulary").dev_login is False


def test_a_previous_key_under_the_signing_key_s_id_is_refused(env: pytest.MonkeyPatch) -> None:
    """Rotation by named ids: reusing the id for the new key would drop the old key without a word."""
    old, new = secrets.token_urlsafe(40), secrets.token_urlsafe(40)
    env.setenv("DATABASE_URL", PG)
    env.setenv("JWT_SECRET", new)
    env.setenv("JWT_KEY_ID", "2026-11")
    env.setenv("JWT_PREVIOUS_SECRETS", f"2026-11:{old}")
    with pytest.raises(ConfigError, match="2026-11"):
        load_settings("formulary")
    env.setenv("JWT_PREVIOUS_SECRETS", f"2026-10:{old}")
    assert set(load_settings("formulary").keyring.keys) == {"2026-10", "2026-11"}


def test_a_blank_key_id_in_the_previous_keys_is_not_a_key_named_blank(env: pytest.MonkeyPatch) -> None:
    old = secrets.token_urlsafe(40)
    env.setenv("DATABASE_URL", PG)
    env.setenv("JWT_SECRET", secrets.token_urlsafe(40))
    env.setenv("JWT_PREVIOUS_SECRETS", f" :{old}")
    with pytest.raises(ConfigError):  # " :secret" is one malformed entry, refused like any weak key
        load_settings("formulary")


def test_an_embedded_hub_serving_the_network_refuses_a_weak_chosen_secret(env: pytest.MonkeyPatch) -> None:
    """`countyhub run --host 0.0.0.0` with JWT_SECRET=x would sign a township LAN's tokens with one byte."""
    env.setenv("JWT_SECRET", "x")
    with pytest.raises(ConfigError, match="JWT_SECRET"):
        load_settings("formulary", bind_host="0.0.0.0")
    assert load_settings("formulary", bind_host="127.0.0.1").jwt_secret == "x"  # this machine only: a developer's choice
    env.delenv("JWT_SECRET")
    assert len(load_settings("formulary", bind_host="0.0.0.0").jwt_secret) >= 32  # the generated one is fit
