"""The pharmacist's workstation (审方工作站) clicked through: a flagged prescription from the queue
to a decision — the queue's live counts and waiting time, the line highlighted with its finding and
basis, a return without a reason refused beside the field, the decision with a reason code, the
audit history; then the quality page draws its charts."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import HubApi

pytestmark = pytest.mark.browser


@pytest.fixture
def review_url(running_hub: Any) -> str:
    """Where the review service listens."""
    return str(running_hub.url("prescription_review"))


def flagged_body(no: str) -> dict[str, Any]:
    from shared.clock import utcnow

    return {
        "prescription_no": no, "site_code": "CW-H01", "type": "outpatient", "issued_at": utcnow().isoformat(),
        "prescriber": {"id": "D001", "privileges": ["antibiotic_restricted"]},
        "patient": {"id": "P-BT", "age_years": 52, "sex": "M", "diagnoses": [{"code": "K30", "name": "功能性消化不良"}]},
        "items": [{"item_code": "YP000223", "dose": 20, "dose_unit": "mg", "frequency": "tid", "route": "oral", "days": 3,
                   "quantity": 18}],
    }  # fmt: skip


def test_flagged_prescription_from_queue_to_decision(page: Page, review_url: str, hub_token: Callable[..., dict[str, str]],
                                                     sign_in: Callable[..., None]) -> None:
    api = HubApi(review_url, hub_token)
    no = f"R-BT-{uuid.uuid4().hex[:6].upper()}"
    deadline = time.monotonic() + 30
    while True:  # the review service learns the catalogue from the formulary's events
        status, answer, _ = api.call("POST", "/api/v1/screenings", flagged_body(no), role="his")
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert status == 200 and answer["outcome"] == "review", answer
    page.goto(review_url + "/ui/queue")
    sign_in(page, "pharmacist", name="药师王")
    row = page.locator(f"#queue-table tbody tr[data-id='{answer['id']}']")
    expect(row).to_contain_text(no)
    expect(row).to_contain_text("剂量超过上限")
    expect(page.locator("#counts [data-status='pending'] strong")).not_to_have_text("0")
    row.get_by_role("link", name="审核").click()
    expect(page.locator("#rx-no")).to_contain_text(no)
    line = page.locator("#lines tbody tr[data-line='0']")
    expect(line).to_have_class("line-major")
    expect(line).to_contain_text("多潘立酮")
    expect(line).to_contain_text("依据")
    page.locator("#btn-claim").click()
    expect(page.locator("#rx-status")).to_have_text("审核中")
    page.locator("#btn-return").click()  # no reason code: refused, the field is named
    expect(page.locator("#reason_code")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#reason_code-error")).to_be_visible()
    expect(page.locator("#rx-status")).to_have_text("审核中")
    page.locator("#reason_code").select_option("DOSE")
    page.locator("#comment").fill("多潘立酮一日不超过30mg，请减量")
    page.locator("#btn-return").click()
    expect(page.locator("#rx-status")).to_have_text("已退回")
    audit = page.locator("#audit")
    expect(audit).to_contain_text("退回医师")
    expect(audit).to_contain_text("DOSE")
    expect(audit).to_contain_text("请减量")
    page.locator("nav").get_by_role("link", name="质量指标").click()
    expect(page.locator("#rates-chart svg")).to_be_visible()
    expect(page.locator("#rules-chart")).to_contain_text("剂量超过上限")
