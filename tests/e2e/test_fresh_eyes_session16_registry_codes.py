"""Fresh eyes (session 16), faults now fixed: two spellings of one site code or doctor id
between the medical affairs registry and the prescriptions the HIS sends."""

from __future__ import annotations

from typing import Any

from tests.e2e.test_text_fields_api import HEADERS, app_of
from tests.service.prescription_review.review_support import body


def _findings(no: str, prescriber_id: str) -> list[str]:
    _, app = app_of("prescription_review")
    response = app.test_client().post(
        "/api/v1/screenings", json=body(prescription_no=no, prescriber={"id": prescriber_id, "privileges": []}),
        headers=HEADERS["his"],
    )  # fmt: skip
    assert response.status_code == 200, response.get_json()
    return [f["code"] for f in response.get_json()["findings"]]


def _register(entry: dict[str, Any]) -> Any:
    _, app = app_of("prescription_review")
    full = {"name": "张三", "sites": [], "title": "attending", "privileges": [], "active": True, **entry}
    return app.test_client().post("/api/v1/prescribers", json={"entries": [full]}, headers=HEADERS["pharmacy_manager"])


def test_a_registry_site_in_lower_case_is_the_same_site_or_refused() -> None:
    """Registered at "cw-h01" (lower case, as a spreadsheet may hold it): the doctor must not be reported
    as not registered at CW-H01; or the import must refuse the site naming entries[0].sites[0]."""
    response = _register({"id": "D951", "sites": ["cw-h01"]})
    if response.status_code == 422:
        assert "entries[0].sites[0]" in [e["field"] for e in response.get_json()["errors"]]
        return
    assert response.status_code == 200
    assert "PRESCRIBER_NOT_AUTHORIZED" not in _findings("R-FE16-S1", "D951")


def test_an_inactive_doctor_is_flagged_whatever_the_case_of_the_id() -> None:
    """Registry row d952 停用 (inactive); the HIS sends D952: the registry's word must hold."""
    assert _register({"id": "d952", "active": False}).status_code == 200
    assert "PRESCRIBER_NOT_AUTHORIZED" in _findings("R-FE16-S2", "D952")
