"""The review centre's part of `make demo`: a morning's prescriptions from the sample county are
screened through the real API; the pass / review / block counts are printed; a pharmacist works
the queue (approves one, returns one with a reason, the prescriber double-signs it, and it is
approved), and the quality figures are shown. Runs against the hub the demo started."""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from services.prescription_review.sample_morning import morning

if TYPE_CHECKING:
    from hub.demo import DemoDay

SITES = ["CW-H01", "CW-T01", "CW-T02", "CW-T03", "CW-T01-V01", "CW-T02-V01"]


def review_morning(day: DemoDay, n: int = 120) -> None:
    """The review centre screens a morning's prescriptions and a pharmacist works the queue."""
    his = day.client("prescription_review", "his", name="HIS")
    pharmacist = day.client("prescription_review", "pharmacist", name="审方药师李")
    stamp = time.strftime("%H%M%S")
    bodies = morning(SITES, n=n)
    for b in bodies:
        b["prescription_no"] = f"{b['prescription_no']}-{stamp}"

    def ready() -> Any:
        return his.post("/api/v1/screenings", bodies[0]).status == 200

    day.wait_for("the review centre to learn the catalogue", ready, timeout=60)
    outcomes: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    outcomes["pass"] += 0
    started = time.perf_counter()
    for b in bodies[1:]:
        reply = his.post("/api/v1/screenings", b)
        if reply.status != 200:
            day.say(f"   {b['prescription_no']}: {reply.status} {reply.body}")
            continue
        outcomes[reply.body["outcome"]] += 1
        codes.update(f["code"] for f in reply.body["findings"])
    elapsed = time.perf_counter() - started
    day.say(f"[prescription_review] 上午处方 {n} 张已审 ({(n - 1) / elapsed:.0f} 张/秒): 通过 {outcomes['pass'] + 1}, "
            f"待药师审核 {outcomes['review']}, 拦截退回 {outcomes['block']}")  # fmt: skip
    day.say("   触发最多的规则: " + ", ".join(f"{c} {k}" for c, k in codes.most_common(6)))
    queue = pharmacist.get("/api/v1/queue?limit=5").body
    day.say(f"[prescription_review] 待审队列 {queue['counts'].get('pending', 0)} 张, 最长等待 {queue['oldest_waiting_minutes']} 分钟")
    first = pharmacist.post("/api/v1/queue/claim-next", {}).body
    detail = pharmacist.get(f"/api/v1/reviews/{first['id']}").body
    finding = detail["screenings"][-1]["findings"][0]
    pharmacist.post(f"/api/v1/reviews/{first['id']}/decision", {"decision": "approve", "reason_code": "ACCEPTED",
                                                                 "comment": "已与医师核实，获益大于风险"})  # fmt: skip
    day.say(f"   药师领取 {first['prescription_no']} ({finding['code']}: {finding['message'][:40]}…) → 审核通过")
    second = pharmacist.post("/api/v1/queue/claim-next", {}).body
    pharmacist.post(f"/api/v1/reviews/{second['id']}/decision", {"decision": "return", "reason_code": "DOSE",
                                                                  "comment": "请核对剂量"})  # fmt: skip
    day.say(f"   药师领取 {second['prescription_no']} → 退回医师 (DOSE 请核对剂量)")
    his.post(f"/api/v1/reviews/{second['id']}/double-sign", {"prescriber_id": "D001", "reason": "病情需要，医师签字负责"})
    day.say("   医师双签确认 → 回到药师队列")
    pharmacist.post(f"/api/v1/reviews/{second['id']}/claim", {})
    done = pharmacist.post(f"/api/v1/reviews/{second['id']}/decision", {"decision": "approve", "comment": "双签放行"}).body
    history = [a["action"] for a in pharmacist.get(f"/api/v1/reviews/{second['id']}").body["audit"]]
    day.say(f"   再次审核 → {done['status']}; 审核记录: {' → '.join(history)}")
    q = day.client("prescription_review", "pharmacy_manager", name="药剂科主任").get("/api/v1/quality").body
    rate = q["auto_pass_rate"] or 0
    day.say(f"[prescription_review] 质量: 自动通过率 {rate:.0%}, 干预 {q['interventions']} 次, 双签 {q['double_signed']} 次; "
            f"页面 {day.urls['prescription_review']}/ui/queue")  # fmt: skip
