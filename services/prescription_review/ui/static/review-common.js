/* Shared helpers of the review pages: labels, severity badges, status names. */
(function () {
  const labels = JSON.parse(document.getElementById("review-labels").textContent);
  const SEV = { critical: ["严重", "Critical"], major: ["重要", "Major"], warning: ["警示", "Warning"], info: ["提示", "Info"] };
  const STATUS = {
    pending: ["待审", "Waiting"], claimed: ["审核中", "Claimed"], approved: ["已通过", "Approved"], rejected: ["已拒绝", "Rejected"],
    returned: ["已退回", "Returned"], passed: ["自动通过", "Passed"], blocked: ["已拦截", "Blocked"],
    released_unreviewed: ["超时放行", "Released unreviewed"],
  };
  const ACTION = {
    screened: ["审核引擎筛查", "Screened"], queued: ["进入待审队列", "Queued"], auto_passed: ["自动通过", "Passed automatically"],
    blocked: ["拦截并退回医师", "Blocked"], claimed: ["药师领取", "Claimed"], released: ["放回队列", "Put back"],
    approved: ["药师审核通过", "Approved"], rejected: ["药师拒绝", "Rejected"], returned: ["退回医师", "Returned"],
    resubmitted: ["医师修改后重新提交", "Resubmitted"], double_signed: ["医师双签确认", "Double-signed"],
    released_unreviewed: ["超过等待时限放行", "Released after the waiting limit"],
  };
  const SEV_ORDER = ["info", "warning", "major", "critical"];
  window.review = {
    labels,
    sevBadge(sev) { return hub.el("span", { class: `sev sev-${sev}` }, hub.t(...(SEV[sev] || [sev, sev]))); },
    statusName(s) { return hub.t(...(STATUS[s] || [s, s])); },
    actionName(a) { return hub.t(...(ACTION[a] || [a, a])); },
    ruleTitle(code) { return labels.rules[code] || code; },
    worst(findings) { return findings.reduce((w, f) => (SEV_ORDER.indexOf(f.severity) > SEV_ORDER.indexOf(w) ? f.severity : w), "info"); },
  };
})();
