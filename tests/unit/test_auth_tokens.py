"""Tokens (audience, lifetime, key ids and rotation) and the site-scope rule of shared/auth.py."""

from __future__ import annotations

import secrets
from datetime import timedelta

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.auth import (
    DEFAULT_TTL,
    ROLES,
    Keyring,
    Principal,
    Unauthorized,
    issue_token,
    key_id,
    verify_token,
)
from shared.errors import Forbidden

OLD = "old-key-" + "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
NEW = "new-key-" + "0a1b2c3d4e5f60718293a4b5c6d7e8f9"


def ring(*secrets_: str, audience: str = "countyhub", max_ttl: timedelta = DEFAULT_TTL) -> Keyring:
    """A keyring signing with the first secret and accepting all of them."""
    keys = {key_id(s): s for s in secrets_}
    return Keyring(signing_kid=key_id(secrets_[0]), keys=keys, audience=audience, max_ttl=max_ttl)


def test_a_token_names_its_key_audience_and_lives_one_shift() -> None:
    token = issue_token(ring(NEW), "pharmacist", subject="li")
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["kid"] == key_id(NEW)
    assert claims["aud"] == "countyhub"
    assert claims["exp"] - claims["iat"] == 10 * 3600
    assert verify_token(token, ring(NEW)).roles == ("pharmacist",)


def test_rotation_accepts_the_old_key_during_the_change_over_and_signs_with_the_new() -> None:
    old_token = issue_token(ring(OLD), "dispatcher")
    during = ring(NEW, OLD)
    assert verify_token(old_token, during).roles == ("dispatcher",)
    new_token = issue_token(during, "dispatcher")
    assert jwt.get_unverified_header(new_token)["kid"] == key_id(NEW)
    after = ring(NEW)
    assert verify_token(new_token, after).subject
    with pytest.raises(Unauthorized, match="kid"):
        verify_token(old_token, after)


def test_a_known_kid_with_another_key_fails_the_signature() -> None:
    forged = jwt.encode(
        {"iss": "countyhub", "aud": "countyhub", "sub": "x", "roles": ["his"], "iat": 1, "exp": 2**31},
        OLD, algorithm="HS256", headers={"kid": key_id(NEW)},
    )  # fmt: skip
    with pytest.raises(Unauthorized):
        verify_token(forged, ring(NEW))


def test_audience_is_configurable_and_verified() -> None:
    county_a = ring(NEW, audience="county-a")
    token = issue_token(county_a, "his")
    assert verify_token(token, county_a).roles == ("his",)
    with pytest.raises(Unauthorized):
        verify_token(token, ring(NEW, audience="county-b"))
    with pytest.raises(Unauthorized):
        verify_token(issue_token(ring(NEW), "his"), county_a)


def test_lifetime_is_bounded_when_issuing_and_when_verifying() -> None:
    short = ring(NEW, max_ttl=timedelta(hours=2))
    with pytest.raises(ValueError, match="at most"):
        issue_token(short, "pharmacist", ttl=timedelta(hours=3))
    long_token = issue_token(ring(NEW, max_ttl=timedelta(hours=12)), "pharmacist")
    with pytest.raises(Unauthorized, match="longer than"):
        verify_token(long_token, short)


def test_several_roles_in_one_token() -> None:
    p = verify_token(issue_token(NEW, ["storekeeper", "pharmacist"], site="CW-T01"), NEW)
    assert p.roles == ("storekeeper", "pharmacist") and p.site == "CW-T01"
    with pytest.raises(ValueError):
        issue_token(NEW, ["storekeeper", "root"])


role_sets = st.sets(st.sampled_from(ROLES), min_size=1).map(tuple)
site_codes = st.from_regex(r"CW-[TV][0-9]{2}", fullmatch=True)


@given(roles=role_sets, own=site_codes, other=site_codes)
def test_a_token_carrying_storekeeper_is_confined_whatever_else_it_carries(roles: tuple[str, ...], own: str, other: str) -> None:
    p = Principal(subject="s", roles=roles, site=own)
    if "storekeeper" in roles:
        assert p.site_scope() == own
        p.require_site(own)
        if other != own:
            with pytest.raises(Forbidden):
                p.require_site(other)
        with pytest.raises(Forbidden):
            p.require_county()
    else:
        assert p.site_scope() is None
        p.require_site(other)
        p.require_county()


@given(roles=role_sets, site=site_codes)
def test_a_storekeeper_token_without_a_site_is_confined_to_no_site(roles: tuple[str, ...], site: str) -> None:
    p = Principal(subject="s", roles=tuple({*roles, "storekeeper"}), site=None)
    assert p.site_scope() == ""
    with pytest.raises(Forbidden):
        p.require_site(site)


def test_random_secrets_make_distinct_key_ids() -> None:
    ids = {key_id(secrets.token_urlsafe(32)) for _ in range(200)}
    assert len(ids) == 200


def _forged(r: Keyring, **claims: object) -> str:
    """A token signed with the service's own key but with claims issue_token would never write."""
    import time

    now = int(time.time())
    base: dict[str, object] = {"iss": "countyhub", "aud": "countyhub", "sub": "wang", "roles": ["pharmacist"],
                               "iat": now, "exp": now + 3600}  # fmt: skip
    base.update(claims)
    return jwt.encode({k: v for k, v in base.items() if v is not None}, r.signing_secret, algorithm="HS256",
                      headers={"kid": r.signing_kid})  # fmt: skip


@pytest.mark.parametrize(
    "claims",
    [
        {"roles": ["Storekeeper", "pharmacist"], "site": "CW-T01"},  # an unknown spelling must not drop the confinement
        {"roles": ["storekeeper", "superuser"], "site": "CW-T01"},
        {"roles": "pharmacist"},
        {"roles": []},
        {"sub": ""},
        {"sub": "   "},
        {"roles": ["storekeeper"], "site": ["CW-T01", "CW-T02"]},
        {"roles": ["storekeeper"], "site": 5},
        {"roles": ["storekeeper"], "site": " "},
        {"iat": True},
    ],
)
def test_malformed_claims_are_refused_even_when_signed(claims: dict[str, object]) -> None:
    r = ring(NEW)
    with pytest.raises(Unauthorized):
        verify_token(_forged(r, **claims), r)


@given(
    own=st.sampled_from(["CW-T01", "CW-T02-V03"]),
    variant=st.sampled_from(["lower", "fullwidth", "padded", "zero_width"]),
    extra=st.lists(st.sampled_from(ROLES), max_size=3),
)
def test_site_codes_are_compared_normalised(own: str, variant: str, extra: list[str]) -> None:
    """cw-t01, ＣＷ－Ｔ０１ and ' CW-T01 ' name the storekeeper's own site; the same variants of another site do not."""

    def spell(code: str) -> str:
        return {
            "lower": code.lower(),
            "fullwidth": "".join(chr(ord(c) + 0xFEE0) for c in code),
            "padded": f" {code}\u3000",
            "zero_width": code[:2] + "\u200b" + code[2:],
        }[variant]

    r = ring(NEW)
    p = verify_token(_forged(r, roles=["storekeeper", *extra], site=spell(own).strip()), r)
    assert p.site == own
    p.require_site(spell(own))
    with pytest.raises(Forbidden):
        p.require_site(spell(own + "9"))


@pytest.mark.parametrize("query", ["site=CW-T01&site=CW-T02", "site=CW-T02&site=CW-T01", "site=&site=CW-T02"])
def test_every_repeated_query_site_is_checked(query: str) -> None:
    """?site=OWN&site=OTHER: whichever value a view reads, none may be another site's."""
    from urllib.parse import parse_qsl

    from werkzeug.datastructures import MultiDict

    from shared.access import Site, roles

    rule = roles("storekeeper", "pharmacy_manager", site=Site.query("site"))
    keeper = Principal(subject="wang", roles=("storekeeper", "pharmacist"), site="CW-T01")
    with pytest.raises(Forbidden):
        rule.check(keeper, {}, MultiDict(parse_qsl(query, keep_blank_values=True)), None)
    rule.check(keeper, {}, MultiDict([("site", "CW-T01"), ("site", "cw-t01")]), None)


@given(other=st.from_regex(r"CW-T0[2-9](-V0[1-9])?", fullmatch=True), extra=st.lists(st.sampled_from(ROLES), max_size=2))
def test_a_refusal_never_names_the_other_site(other: str, extra: list[str]) -> None:
    """The site checked may be a stored row's (a requisition, a review): the 403 must not tell where it belongs."""
    keeper = Principal(subject="wang", roles=("storekeeper", *extra), site="CW-T01")
    with pytest.raises(Forbidden) as refused:
        keeper.require_site(other)
    assert other not in refused.value.detail and other not in str(refused.value.fields)


@pytest.mark.parametrize("subject", ["seed", "SEED", " seed", "ｓｅｅｄ", "se\u200bed", "seed-committee", "System", "system-relay"])
def test_no_token_may_carry_a_subject_the_system_acts_under(subject: str) -> None:
    """The seed loader signs as `seed`/`seed-committee` in-process; a token claiming it is refused."""
    r = ring(NEW)
    with pytest.raises(Unauthorized):
        verify_token(_forged(r, sub=subject, roles=["pharmacy_manager"]), r)
    with pytest.raises(ValueError):
        issue_token(r, "pharmacy_manager", subject=subject)
    assert verify_token(issue_token(r, "pharmacy_manager", subject="seedling-wang"), r).subject == "seedling-wang"


def test_the_token_command_refuses_a_system_subject_with_a_message(tmp_path: object, capsys: pytest.CaptureFixture[str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from hub.cli import main

    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path))
    for key in ("DATABASE_URL", "FORMULARY_DATABASE_URL", "JWT_SECRET", "JWT_SECRET_FILE", "JWT_PREVIOUS_SECRETS"):
        monkeypatch.delenv(key, raising=False)
    assert main(["token", "--role", "pharmacy_manager", "--subject", "seed"]) == 2
    assert "reserved for the system" in capsys.readouterr().err
    assert main(["token", "--role", "pharmacy_manager", "--subject", "wang"]) == 0
