"""A scripted working day against the embedded hub, through real HTTP and real events.

Each service adds its part of the day; what happens is printed as it happens.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hub.httpclient import HubClient
from shared.auth import issue_token
from shared.config import SERVICE_PORTS, load_settings

Step = Callable[["DemoDay"], None]


class DemoDay:
    """Clients for each service and role, and a printer."""

    def __init__(self, urls: dict[str, str]) -> None:
        self.urls = urls
        self.secret = load_settings("formulary").keyring  # key id, audience and lifetime as the hub has them

    def client(self, service: str, role: str, site: str | None = None, name: str | None = None) -> HubClient:
        """A client of one service acting as one role."""
        token = issue_token(self.secret, role, site=site, subject=name or role, name=name)
        return HubClient(self.urls[service], token)

    @staticmethod
    def say(text: str) -> None:
        """Print a line of the day's story."""
        print(text, flush=True)

    @staticmethod
    def wait_for(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
        """Poll until check() returns something truthy; events take a moment to travel."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = check()
            if result:
                return result
            time.sleep(0.2)
        raise TimeoutError(f"timed out waiting for {what}")


def formulary_morning(day: DemoDay) -> None:
    """The formulary admin proposes a new item; the committee approves; every service learns of it."""
    admin = day.client("formulary", "formulary_admin", name="目录管理员")
    manager = day.client("formulary", "pharmacy_manager", name="药事会主任")
    found = admin.get("/api/v1/items?q=amxl&limit=5").body["items"]
    day.say(f"[formulary] 搜索 'amxl' → {len(found)} 个品规: " + ", ".join(f"{i['generic_name']} {i['strength']}" for i in found))
    code = f"YP9{int(time.time()) % 100000:05d}"
    item = {
        "code": code, "kind": "drug", "generic_name": "沙库巴曲缬沙坦钠", "generic_name_en": "Sacubitril/Valsartan",
        "trade_name": "诺欣妥", "dosage_form": "片剂", "strength": "100mg", "unit": "片", "package_size": 14,
        "package_unit": "盒", "manufacturer": "北京诺华制药有限公司", "approval_no": "国药准字J20170040",
        "atc_code": "C09DX04", "essential": False, "reimbursement": "乙", "vbp": False,
        "storage": "ambient", "volume_cm3": 45, "weight_g": 25, "category": "心血管系统用药",
    }  # fmt: skip
    proposed = admin.post("/api/v1/items", item, headers={"Idempotency-Key": f"demo-{code}"})
    day.say(f"[formulary] 目录管理员提交新品规 {code} 沙库巴曲缬沙坦钠片 → {proposed.status} (草稿 {proposed.body['id'][:8]})")
    approved = manager.post("/api/v1/changes/approve", {"change_ids": [proposed.body["id"]], "note": "药事会例会"})
    day.say(f"[formulary] 药事会批准 → 目录版本 {approved.body['catalogue_version']}")
    for service in ("procurement", "prescription_review", "dispatch"):
        reader = day.client(service, "pharmacy_manager")

        def learned(r: HubClient = reader) -> Any:
            reply = r.get(f"/api/v1/reference/items/{code}")
            return reply.body if reply.status == 200 else None

        snapshot = day.wait_for(f"{service} to learn of {code}", learned)
        day.say(f"[{service}] 已通过事件收到 {code} {snapshot['generic_name']} (版本 {snapshot['version']})")


def dispatch_afternoon(day: DemoDay) -> None:
    """The dispatcher adds an urgent cold-chain order, plans tomorrow's routes, and publishes them."""
    dispatcher = day.client("dispatch", "dispatcher", name="调度员")
    urgent = dispatcher.post(
        "/api/v1/shipments",
        {"site_code": "CW-T05", "deliver": {"cold": 6, "ambient": 20}, "pickup": {"specimen": 1}, "priority": 3,
         "note": "急诊胰岛素补货"},
    )  # fmt: skip
    day.say(f"[dispatch] 加急单 {urgent.body['id']} → CW-T05 冷链 6 L + 常温 20 L, 回收标本 1 L ({urgent.status})")
    queued = dispatcher.post("/api/v1/plans", {"time_limit_s": 10, "workers": 2})
    plan_id = queued.body["id"]
    day.say(f"[dispatch] 规划明日线路 ({queued.body['date']}): {len(queued.body['request']['stops'])} 个站点, 求解中…")
    last = None
    while True:
        plan = dispatcher.get(f"/api/v1/plans/{plan_id}").body
        if plan["progress"] and plan["progress"][-1] != last:
            last = plan["progress"][-1]
            day.say(f"           {last[0]:5.1f} s  目标值 {int(last[1]):,}")
        if plan["status"] in ("solved", "failed"):
            break
        time.sleep(0.5)
    if plan["status"] == "failed":
        raise RuntimeError(plan["error"])
    result = plan["result"]
    totals = result["totals"]
    day.say(f"[dispatch] 方案: {totals['vehicles']} 辆车, {totals['distance_km']:.1f} km, 成本 ¥{totals['cost']:.2f}, "
            f"服务 {totals['stops_served']} 站, 未排 {len(result['unassigned'])} 站或货单")  # fmt: skip
    for route in result["routes"]:
        path = " → ".join(s["id"].replace("CW-", "") for s in route["stops"])
        cold = route["load_out"].get("cold", 0)
        day.say(f"   {route['vehicle']:<5} {route['start']}–{route['end']} {route['distance_km']:6.1f} km 冷链 {cold:5.1f} L: {path}")
    for dropped in result["unassigned"]:
        day.say(f"   未排: {dropped.get('shipment_id') and '货单 ' or ''}{dropped['id']} — {dropped['reason']}")
    published = dispatcher.post(f"/api/v1/plans/{plan_id}/publish", {})
    day.say(f"[dispatch] 发布方案 → {published.status}; 司机清单: {day.urls['dispatch']}/ui/plans/{plan_id}/manifest/<车辆>")


from services.prescription_review.demo import review_morning  # noqa: E402
from services.procurement.demo import procurement_day  # noqa: E402

STEPS: list[Step] = [formulary_morning, review_morning, procurement_day, dispatch_afternoon]


def run_demo(base_host: str = "127.0.0.1", start: bool = True) -> int:
    """Run the day's steps; start an embedded hub first unless attaching to a running one."""
    hub = None
    if start:
        from hub.embedded import start_hub
        from shared.web.logging import configure_logging

        configure_logging("demo", "WARNING")
        print("starting the embedded hub (seeding the sample county on first run)…", flush=True)
        hub = start_hub(host=base_host)
        urls = {name: hub.url(name) for name in hub.services}
    else:
        urls = {name: f"http://{base_host}:{port}" for name, port in SERVICE_PORTS.items()}
    try:
        day = DemoDay(urls)
        for step in STEPS:
            day.say(f"— {step.__doc__}")
            step(day)
        day.say("demo finished: every step ran through real HTTP and real events")
        return 0
    finally:
        if hub is not None:
            hub.stop()
