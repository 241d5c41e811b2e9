/* The labeling page's working session: heartbeats, the status bar, breaks.
 *
 * While the tab is visible and the annotator used mouse, keyboard or touch in the last 60 s,
 * POST /api/heartbeat/ every 30 s with the task in view (label.js announces it with the
 * "fairlabel:task" event). The answer drives the status bar: time counted today and this week,
 * time to the next break. "Take a break" starts a break; label.js shows its countdown.
 */
(() => {
  "use strict";

  const cfg = JSON.parse(document.getElementById("label-config").textContent);
  const T = cfg.text;
  const BEAT_MS = 30_000;
  const ACTIVE_MS = 60_000;
  const statusEl = document.getElementById("work-status");
  const breakBtn = document.getElementById("break-btn");
  let assignment = null;
  let reading = Boolean(cfg.readingInstructions); // before the first task of a project
  let lastInput = Date.now();

  const { post } = window.Fairlabel;

  function hm(seconds) {
    const total = Math.max(0, Math.floor(Number(seconds) || 0));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    return h ? T.hoursMinutes.replace("{h}", h).replace("{m}", String(m).padStart(2, "0"))
             : T.minutes.replace("{m}", m);
  }

  function render(standing) {
    if (!standing) return;
    const parts = [
      T.workedToday.replace("{t}", hm(standing.today_seconds)),
      T.workedWeek.replace("{t}", hm(standing.week_seconds)),
    ];
    if (standing.break_until) parts.push(T.onBreak);
    else if (standing.next_break_in_seconds !== null) {
      parts.push(T.nextBreak.replace("{t}", hm(standing.next_break_in_seconds)));
    }
    statusEl.textContent = parts.join(" · ");
    statusEl.dataset.today = standing.today_seconds;
    if (standing.refusal && standing.refusal.error === "break" && assignment) {
      // The break started during a task: the annotator may finish it; no new task comes.
      document.dispatchEvent(new CustomEvent("fairlabel:break-due", { detail: standing.refusal }));
    }
  }

  async function beat(force = false) {
    const active = Date.now() - lastInput < ACTIVE_MS;
    if (!force && (document.visibilityState !== "visible" || !active)) return;
    // Only while labeling or reading the instructions: a page left on a refusal counts nothing.
    if (!force && !reading && !assignment) return;
    const body = reading
      ? { kind: "instructions", project: cfg.project }
      : { kind: "task", project: cfg.project, assignment };
    try {
      const response = await post(cfg.urls.heartbeat, body);
      if (response.status === 200) render(response.data);
    } catch (_) { /* offline: the next beat tries again */ }
  }

  for (const type of ["keydown", "pointerdown", "pointermove", "wheel", "touchstart", "scroll"]) {
    window.addEventListener(type, () => { lastInput = Date.now(); }, { passive: true, capture: true });
  }
  document.addEventListener("fairlabel:task", (e) => {
    assignment = e.detail && e.detail.assignment ? e.detail.assignment : null;
    if (assignment) reading = false;
  });
  document.addEventListener("fairlabel:start", () => { reading = false; });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") beat();
  });
  if (breakBtn) {
    breakBtn.addEventListener("click", async () => {
      breakBtn.disabled = true;
      try {
        const response = await post(cfg.urls.breaks, { kind: "break" });
        if (response.status === 201) render(response.data);
      } finally {
        breakBtn.disabled = false;
        document.dispatchEvent(new CustomEvent("fairlabel:resume"));
      }
    });
  }
  window.FairlabelSession = {
    endBreak: async () => {
      const response = await post(cfg.urls.breakEnd, {});
      if (response.status === 200) render(response.data);
      return response;
    },
    beat,
  };

  beat(true);
  setInterval(beat, BEAT_MS);
})();
