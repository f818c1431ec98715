"""Procurement's part of `make demo`: townships order, the central pharmacy receives, approves and picks by FEFO.

Runs through real HTTP against the running hub (hub/demo.py's DemoDay); prints what happens in Chinese.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.demo import DemoDay

DIST = ("国药控股菏泽有限公司", "913717000000000011")
DIST_MAKER_TAX = "913700000000000099"


def _receipt(hub: dict[str, Any], lines: list[dict[str, Any]], makers: dict[str, str], first: bool = True) -> dict[str, Any]:
    """A delivery to the hub by DIST with its invoices (the manufacturer's first invoice unless first=False)."""
    today = date.today().isoformat()
    inv_lines = [{k: x[k] for k in ("item_code", "batch_no", "quantity", "unit_price")} for x in lines]
    invoices = [{"number": "JF2026-0002", "issuer": {"name": DIST[0], "tax_id": DIST[1]},
                 "recipient": {"name": hub["name"], "tax_id": hub["tax_id"]}, "issued_at": today, "lines": inv_lines}]  # fmt: skip
    if first:
        for code, maker in sorted(makers.items()):
            mine = [dict(x, unit_price="0.0100") for x in inv_lines if x["item_code"] == code]
            invoices.append({"number": f"SC-{code}", "issuer": {"name": maker, "tax_id": DIST_MAKER_TAX},
                             "recipient": {"name": DIST[0], "tax_id": DIST[1]}, "issued_at": today, "lines": mine})  # fmt: skip
    return {"site_code": hub["code"], "supplier_tax_id": DIST[1], "remote_area": False, "lines": lines, "invoices": invoices}


def procurement_day(day: DemoDay) -> None:
    """The central pharmacy receives a delivery (and refuses one), townships order, the pharmacy approves and picks by FEFO."""
    manager = day.client("procurement", "pharmacy_manager", name="中心药房主任")
    sites = manager.get("/api/v1/reference/sites?limit=1000").body
    hub = next(s for s in sites if s["is_hub"])
    towns = sorted(s["code"] for s in sites if s["level"] == "township")[:2]
    keepers = {t: day.client("procurement", "storekeeper", site=t, name=f"{t}库管员") for t in towns}
    listed = keepers[towns[0]].get(f"/api/v1/reference/items?site={towns[0]}&limit=300").body
    ambient = [i for i in listed if i["storage"] == "ambient" and i["manufacturer"] and i["kind"] == "drug"]
    vbp = next((i for i in ambient if i["vbp"]), ambient[0])
    plain = next(i for i in ambient if i["code"] != vbp["code"])
    cold = next((i for i in listed if i["storage"] == "cold" and i["manufacturer"]), None)
    manager.post("/api/v1/distributors", {"name": DIST[0], "tax_id": DIST[1], "items": "all"})
    start = date.today() - timedelta(days=120)
    contract = manager.post("/api/v1/vbp/contracts", {"item_code": vbp["code"], "price": "0.1200", "agreed_quantity": vbp["package_size"] * 400,
                                                      "start": start.isoformat(), "end": (start + timedelta(days=364)).isoformat(),
                                                      "baseline_price": "0.4500"})  # fmt: skip
    day.say(f"[procurement] 集采合同 {vbp['generic_name']} 中选价 ¥0.1200 → {contract.status}")

    soon, later = date.today() + timedelta(days=300), date.today() + timedelta(days=700)
    # a trace code (追溯码, 20 digits) identifies one package and is received once: one per run, so the
    # demo runs again on the same database
    run = time.time_ns() % 10**16
    trace, other_trace = f"819{run:016d}0", f"819{run:016d}1"
    lines = [
        {"item_code": vbp["code"], "batch_no": "JC2311", "expiry": soon.isoformat(), "quantity": vbp["package_size"] * 60, "unit_price": "0.1200"},
        {"item_code": vbp["code"], "batch_no": "JC2405", "expiry": later.isoformat(), "quantity": vbp["package_size"] * 60, "unit_price": "0.1200"},
        {"item_code": plain["code"], "batch_no": "PT2402", "expiry": later.isoformat(), "quantity": plain["package_size"] * 40, "unit_price": "1.8000",
         "trace_codes": [trace]},
    ]  # fmt: skip
    makers = {vbp["code"]: vbp["manufacturer"], plain["code"]: plain["manufacturer"]}
    clean = _receipt(hub, lines, makers)
    checked = manager.post("/api/v1/receipts/check", clean).body
    booked = manager.post("/api/v1/receipts", clean, headers={"Idempotency-Key": f"demo-gr-{int(time.time())}"})
    day.say(f"[procurement] 两票制核验: 生产企业→{DIST[0]}→{hub['name']} ok={checked['ok']} → 入库 {booked.status} {booked.body.get('receipt_id')}")
    bad_lines = [dict(lines[2], batch_no="PT2301", expiry=(date.today() + timedelta(days=90)).isoformat(), trace_codes=[other_trace])]
    if cold is not None:
        bad_lines.append({"item_code": cold["code"], "batch_no": "LL01", "expiry": later.isoformat(), "quantity": cold["package_size"] * 5,
                          "unit_price": "20.0000", "temperature_record": None})  # fmt: skip
    refused = manager.post("/api/v1/receipts", _receipt(hub, bad_lines, {}, first=False))
    codes = sorted({v["code"] for v in refused.body.get("violations", [])})
    day.say(f"[procurement] 另一批到货被拒收 ({refused.status}): {', '.join(codes)}")

    made = []
    for i, town in enumerate(towns):
        body = {"site_code": town, "lines": [{"item_code": vbp["code"], "quantity": vbp["package_size"] * (30 + 20 * i)},
                                             {"item_code": plain["code"], "quantity": plain["package_size"] * 5}],
                "urgent": i == 1, "urgent_reason": "流感高峰，用量激增" if i == 1 else None, "submit": True}  # fmt: skip
        key = {"Idempotency-Key": f"demo-rq-{town}-{int(time.time())}"}
        first = keepers[town].post("/api/v1/requisitions", body, headers=key)
        again = keepers[town].post("/api/v1/requisitions", body, headers=key)
        made.append(first.body)
        day.say(f"[procurement] {town} 提交请领单 {first.body['id']}{'（加急）' if i == 1 else ''}；网络重试同一 Idempotency-Key → 同一单 {again.body['id'] == first.body['id']}")
    for i, req in enumerate(made):
        cut = [{"item_code": plain["code"], "approved_quantity": plain["package_size"] * 3, "reason": "控制库存"}] if i == 0 else []
        approved = manager.post(f"/api/v1/requisitions/{req['id']}/approve", {"lines": cut}).body
        lots = ", ".join(f"{a['batch_no']}({a['expiry']})×{a['quantity']}" for a in approved["allocations"])
        day.say(f"[procurement] 批准 {req['id']}{'（核减: 控制库存）' if cut else ''}，按近效期先出分配: {lots}")
        picked = manager.post(f"/api/v1/requisitions/{req['id']}/pick", {}).body
        day.say(f"[procurement] 拣货完成 → procurement.shipment.ready {picked['shipment_id']} 通知调度")
    progress = manager.get("/api/v1/vbp/contracts").body["contracts"]
    for p in progress:
        day.say(f"[procurement] 集采进度 {p['generic_name']}: 完成 {float(p['completion']):.1%} / 时间 {float(p['time_progress']):.1%} → {p['status']}，"
                f"结余留用估算 ¥{p['retained_savings']}")  # fmt: skip
    day.say(f"[procurement] 页面: {day.urls['procurement']}/ui/ （库管员）, {day.urls['procurement']}/ui/requisitions （中心药房）")
