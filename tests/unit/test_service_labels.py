"""The pages' header names every service from its registry ServiceSpec.label (zh-CN first, English after)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub import registry
from shared.migrate import upgrade
from shared.runtime import ServiceSpec, build_context
from shared.web.ui import service_label
from tests.support.web import make_settings


@pytest.mark.parametrize("name", registry.SERVICES)
def test_every_registered_service_is_named_from_its_spec(name: str) -> None:
    zh, en = service_label(name)
    label = registry.spec(name).label
    assert label == f"{zh} {en}"
    assert re.search(r"[\u4e00-\u9fff]", zh), zh  # Chinese first
    assert en and en != name and re.fullmatch(r"[A-Za-z][A-Za-z ]*", en), en


def test_the_header_keeps_the_names_it_always_showed() -> None:
    assert service_label("formulary") == ("统一药品耗材目录", "County formulary")
    assert service_label("procurement") == ("采购与库存", "Procurement and stock")
    assert service_label("prescription_review") == ("审方中心", "Prescription review")
    assert service_label("dispatch") == ("物流调度", "Dispatch")


def test_a_new_service_is_named_by_its_label_not_its_bare_name(monkeypatch: pytest.MonkeyPatch) -> None:
    real = registry.spec("dispatch")
    added = ServiceSpec(name="cold_chain", port=8099, metadata=real.metadata, create_app=real.create_app,
                        migrations=real.migrations, label="冷链监测 Cold chain")  # fmt: skip
    monkeypatch.setattr(registry, "SERVICES", (*registry.SERVICES, "cold_chain"))
    monkeypatch.setattr(registry, "spec", lambda name: added if name == "cold_chain" else real)
    assert service_label("cold_chain") == ("冷链监测", "Cold chain")


def test_a_name_the_registry_does_not_know_is_shown_as_is() -> None:
    assert service_label("no_such_service") == ("no_such_service", "no_such_service")


def test_a_mistyped_page_is_headed_with_the_services_label(tmp_path: Path) -> None:
    """The real formulary app's Chinese 404 page carries the label from its spec."""
    spec = registry.spec("formulary")
    ctx = build_context(spec, make_settings("formulary", f"sqlite:///{tmp_path}/formulary.sqlite3"))
    try:
        upgrade(spec.migrations, ctx.engine)
        page = spec.create_app(ctx).test_client().get("/ui/no-such-page")
        assert page.status_code == 404
        text = page.get_data(as_text=True)
        assert "统一药品耗材目录" in text and "County formulary" in text
    finally:
        ctx.engine.dispose()
