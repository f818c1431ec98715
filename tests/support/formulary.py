"""Valid formulary bodies and the committee's approval, for tests that drive the formulary API."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.support.web import bearer


def sample_item(code: str = "YP900001", **overrides: Any) -> dict[str, Any]:
    """A valid drug item body."""
    item = {
        "code": code,
        "kind": "drug",
        "generic_name": "阿莫西林",
        "generic_name_en": "Amoxicillin",
        "trade_name": "阿莫仙",
        "dosage_form": "胶囊",
        "strength": "0.25g",
        "unit": "粒",
        "package_size": 24,
        "package_unit": "盒",
        "manufacturer": "华北制药股份有限公司",
        "approval_no": "国药准字H13023964",
        "nhsa_code": "XJ01CAA040E001010101234",
        "atc_code": "J01CA04",
        "essential": True,
        "reimbursement": "甲",
        "vbp": True,
        "vbp_batch": "第三批",
        "storage": "ambient",
        "antibiotic_tier": "unrestricted",
        "volume_cm3": 60,
        "weight_g": 30,
        "category": "抗微生物药",
    }
    item.update(overrides)
    return item


def sample_site(code: str, level: str, parent: str | None, tax_id: str) -> dict[str, Any]:
    """A valid site body."""
    return {
        "code": code,
        "name": f"测试{code}",
        "tax_id": tax_id,
        "level": level,
        "parent_code": parent,
        "is_hub": level == "county_hospital",
        "lat": 34.95,
        "lon": 115.89,
        "receiving_hours": [{"start": "08:00", "end": "17:30"}],
    }


def approve_all(client: FlaskClient) -> int:
    """Approve every draft as the pharmacy manager; returns the catalogue version."""
    drafts = client.get("/api/v1/changes?status=draft", headers=bearer("pharmacy_manager")).get_json()
    response = client.post(
        "/api/v1/changes/approve", json={"change_ids": [d["id"] for d in drafts]}, headers=bearer("pharmacy_manager")
    )
    assert response.status_code == 200, response.get_json()
    return int(response.get_json()["catalogue_version"])
