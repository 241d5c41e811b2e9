/* Care on the labeling page: consent before sensitive content, recovery controls on sensitive
 * tasks, flagging a disturbing task. Loaded before label.js; talks to the API.
 *
 * - Consent: before the first task of a project that may hold sensitive content, and whenever
 *   next answers 409 consent_required, a plain panel says what the content may hold, how the
 *   protections work and how to stop; the annotator agrees per category (or to none).
 * - On a sensitive task: "Recovery break", "No more sensitive work today", the support contact.
 * - On any task: flag it as disturbing, with a category.
 */
(() => {
  "use strict";

  const cfg = JSON.parse(document.getElementById("label-config").textContent);
  const T = cfg.text;
  const $ = (id) => document.getElementById(id);
  let assignment = null;

  const { el, request: call } = window.Fairlabel;

  function say(message) {
    const status = $("status");
    status.textContent = "";
    status.className = "status status-info";
    requestAnimationFrame(() => { status.textContent = message; });
  }

  function resume() { document.dispatchEvent(new CustomEvent("fairlabel:resume")); }

  function showConsent(consent) {
    const view = $("task-view");
    const boxes = consent.categories.map((c) => el("label", { class: "consent-choice" },
      el("input", { type: "checkbox", name: "category", value: c.name, checked: c.consented }),
      " ", c.label));
    const send = async (categories) => {
      const response = await call("POST", cfg.urls.consent, { categories });
      if (response.status === 200) { say(T.consentSaved); resume(); }
      else say((response.data && response.data.detail) || T.error);
    };
    const form = el("form", { class: "panel consent", "data-testid": "consent",
      onsubmit: (e) => {
        e.preventDefault();
        send([...form.querySelectorAll("input[name=category]:checked")].map((i) => i.value));
      } },
      el("p", { class: "panel-title", text: T.consentTitle }),
      el("p", { text: T.consentIntro }),
      el("fieldset", {}, el("legend", { text: T.consentLegend }), ...boxes),
      el("p", { class: "hint", text: T.consentProtections }),
      el("p", { class: "hint", text: T.consentStop }),
      el("p", { class: "hint" }, `${T.support} `, supportLink(consent.support)),
      el("p", {},
        el("button", { type: "submit", class: "primary", text: T.consentAgree }), " ",
        el("button", { type: "button", text: T.consentNone, onclick: () => send([]) })));
    view.replaceChildren(form);
    const first = form.querySelector("input");
    if (first) first.focus({ preventScroll: true });
  }

  function supportLink(contact) {
    const text = contact || "";
    const href = text.includes("@") && !text.includes("/") ? `mailto:${text}` : text;
    return /^(mailto:|https?:)/.test(href) ? el("a", { href, text }) : el("span", { text });
  }

  document.addEventListener("fairlabel:consent-needed", async () => {
    const response = await call("GET", cfg.urls.consent);
    if (response.status === 200) showConsent(response.data);
  });

  // ---------------------------------------------------------------- recovery and flags
  const care = $("care");
  const recovery = $("recovery-controls");
  document.addEventListener("fairlabel:task", (e) => {
    assignment = e.detail ? e.detail.assignment : null;
    if (care) care.hidden = !assignment;
    if (recovery) recovery.hidden = !(e.detail && e.detail.sensitive);
  });
  const recoveryBtn = $("recovery-btn");
  if (recoveryBtn) recoveryBtn.addEventListener("click", async () => {
    const response = await call("POST", cfg.urls.breaks, { kind: "recovery" });
    if (response.status === 201) resume(); else say((response.data && response.data.detail) || T.error);
  });
  const stopBtn = $("stop-sensitive-btn");
  if (stopBtn) stopBtn.addEventListener("click", async () => {
    const response = await call("POST", cfg.urls.breaks, { kind: "stop_sensitive_today" });
    if (response.status === 201) { say(T.stoppedSensitive); resume(); }
  });
  const consentBtn = $("consent-btn");
  if (consentBtn) consentBtn.addEventListener("click", async () => {
    // Change or withdraw the consent at any time: one click to the choice, one to confirm.
    const response = await call("GET", cfg.urls.consent);
    if (response.status === 200) showConsent(response.data);
  });
  const flagForm = $("flag-form");
  if (flagForm) flagForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!assignment) return;
    const category = flagForm.querySelector("select").value;
    const response = await call("POST", cfg.urls.flag.replace("{id}", String(assignment)), { category });
    if (response.status === 200) { say(T.flagged); flagForm.closest("details").open = false; }
    else say((response.data && response.data.detail) || T.error);
  });

  window.FairlabelCare = {
    /** Resolves true when labeling may begin; otherwise the consent panel is shown. */
    async beforeFirstTask() {
      const response = await call("GET", cfg.urls.consent);
      if (response.status === 200 && !response.data.decided) { showConsent(response.data); return false; }
      return true;
    },
  };
})();
