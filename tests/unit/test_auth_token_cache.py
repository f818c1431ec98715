"""The per-token verification cache of shared/auth.py (issue 11): a token that passed is trusted for
at most VERIFIED_CACHE_S seconds and never past exp + leeway; refusals and key change-overs are
never answered from the cache."""

from __future__ import annotations

import time
from datetime import timedelta

import jwt
import pytest

import shared.auth as auth
from shared.auth import DEFAULT_TTL, LEEWAY_S, VERIFIED_CACHE_S, Keyring, Unauthorized, issue_token, key_id

OLD = "old-key-" + "1f2e3d4c5b6a79880706f5e4d3c2b1a0"
NEW = "new-key-" + "a0b1c2d3e4f5061728394a5b6c7d8e9f"


def ring(*secrets_: str, audience: str = "countyhub", max_ttl: timedelta = DEFAULT_TTL) -> Keyring:
    """A keyring signing with the first secret and accepting all of them."""
    return Keyring(signing_kid=key_id(secrets_[0]), keys={key_id(s): s for s in secrets_}, audience=audience, max_ttl=max_ttl)


def _signed(r: Keyring, **claims: object) -> str:
    now = int(time.time())
    base: dict[str, object] = {"iss": "countyhub", "aud": "countyhub", "sub": "wang", "roles": ["his"], "iat": now, "exp": now + 3600}
    base.update(claims)
    return jwt.encode(base, r.signing_secret, algorithm="HS256", headers={"kid": r.signing_kid})


@pytest.fixture()
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts the full verifications (the real verify_token still runs) and starts from an empty cache."""
    seen: list[str] = []
    real = auth.verify_token

    def counting(token: str, secret: str | Keyring) -> auth.Principal:
        seen.append(token)
        return real(token, secret)

    monkeypatch.setattr(auth, "verify_token", counting)
    monkeypatch.setattr(auth, "_verified", {})
    return seen


def _advance(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    start = time.time()
    monkeypatch.setattr(auth.time, "time", lambda: start + seconds)


def test_a_good_token_is_checked_once_and_answers_the_same_principal(checks: list[str]) -> None:
    r = ring(NEW)
    token = issue_token(r, "pharmacist", site="CW-T01", subject="li")
    first, second = auth.verify_token_cached(token, r), auth.verify_token_cached(token, r)
    assert first == second == auth.verify_token(token, r) and first.site == "CW-T01"
    assert len(checks) == 2  # the two cached calls verified once; the direct call once more


def test_the_cache_lapses_after_its_window(checks: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    r = ring(NEW)
    token = issue_token(r, "his")
    auth.verify_token_cached(token, r)
    _advance(monkeypatch, VERIFIED_CACHE_S + 1)
    auth.verify_token_cached(token, r)
    assert len(checks) == 2


def test_a_token_near_expiry_is_not_trusted_past_exp_plus_leeway(checks: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    r = ring(NEW)
    token = _signed(r, exp=int(time.time()) - LEEWAY_S + 5)  # still inside the leeway for a few seconds
    auth.verify_token_cached(token, r)
    _advance(monkeypatch, 10)  # inside the cache window, past exp + leeway
    with pytest.raises(Unauthorized):  # re-verified (real clock): PyJWT refuses it once it is past exp + leeway
        time.sleep(5.5)
        auth.verify_token_cached(token, r)
    assert len(checks) == 2


def test_a_key_change_over_refuses_a_cached_token_at_once(checks: list[str]) -> None:
    during, after = ring(NEW, OLD), ring(NEW)
    old_token = issue_token(ring(OLD), "dispatcher")
    assert auth.verify_token_cached(old_token, during).roles == ("dispatcher",)
    with pytest.raises(Unauthorized):
        auth.verify_token_cached(old_token, after)
    with pytest.raises(Unauthorized):
        auth.verify_token_cached(old_token, ring(NEW, OLD, audience="county-b"))


def test_refusals_are_never_remembered(checks: list[str]) -> None:
    r = ring(NEW)
    forged = _signed(r, roles=["Storekeeper"])
    for _ in range(3):
        with pytest.raises(Unauthorized):
            auth.verify_token_cached(forged, r)
    assert len(checks) == 3 and auth._verified == {}
