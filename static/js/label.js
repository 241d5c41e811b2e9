/* The labeling page: one task at a time from the JSON API, keyboard first, no framework.
 *
 * Flow: POST next -> render -> the annotator labels -> POST submit -> "Saved" and, at once,
 * POST next again; an image is decoded before it is swapped in, so the switch is instant.
 * State of the current answer lives in `state` (what is sent); `ui` holds view-only state
 * (cursor, selection, zoom). Every change to `state` goes through `change()`, which keeps the
 * undo stack.
 */
(() => {
  "use strict";

  const cfg = JSON.parse(document.getElementById("label-config").textContent);
  const T = cfg.text;
  const TYPE = cfg.taskType;
  const IS_IMAGE = TYPE === "image_classification" || TYPE === "image_boxes";
  const LABELS = cfg.labels;
  // Times and numbers in the page's language, not the browser's ("01:19 AM" on a French page).
  const PAGE_LANG = document.documentElement.lang || undefined;
  const byHotkey = new Map(LABELS.filter((l) => l.hotkey).map((l) => [l.hotkey.toLowerCase(), l]));
  const colorOf = new Map(LABELS.map((l) => [l.value, l.color]));

  const $ = (id) => document.getElementById(id);
  const area = $("labeler");
  const view = $("task-view");
  const extra = $("task-extra");
  const statusEl = $("status");
  const hint = $("suggestion-hint");
  const todayEl = $("today");
  const submitBtn = $("submit-btn");
  const skipBtn = $("skip-btn");
  const undoBtn = $("undo-btn");
  const labelButtons = [...document.querySelectorAll("#label-buttons .label-btn")];

  let task = null;          // the payload of POST next
  let busy = true;          // a request is in flight: actions wait
  let state = emptyState(); // the answer being built
  let suggestion = null;    // the suggestion as a state, to tell whether it is untouched
  let undoStack = [];
  let ui = {};
  let savedNote = null;     // "Saved", kept on the panel that may replace the task
  const today = { count: Number(cfg.today.count) || 0, seconds: Number(cfg.today.seconds) || 0 };

  // ---------------------------------------------------------------- helpers

  function emptyState() { return { label: null, labels: [], spans: [], boxes: [] }; }
  const clone = (value) => JSON.parse(JSON.stringify(value));
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  const round1 = (v) => Math.round(v * 10) / 10;

  const { el, post: api } = window.Fairlabel;

  const urlFor = (template, id) => template.replace("{id}", String(id));

  function say(message, kind = "info") {
    // Clear first so that a repeated message ("Saved") is announced again.
    statusEl.textContent = "";
    statusEl.className = `status status-${kind}`;
    requestAnimationFrame(() => { statusEl.textContent = message; });
  }

  function errorText(response) {
    const data = response.data || {};
    if (data.detail) return typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
    if (data.result) return [].concat(data.result).join(" ");
    return `${T.error} (HTTP ${response.status})`;
  }

  function formatTime(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return iso;
    const sameDay = date.toDateString() === new Date().toDateString();
    return sameDay
      ? date.toLocaleTimeString(PAGE_LANG, { hour: "2-digit", minute: "2-digit" })
      : date.toLocaleString(PAGE_LANG, { dateStyle: "medium", timeStyle: "short" });
  }

  function renderToday() {
    todayEl.textContent = T.todayCount.replace("{count}", today.count)
      .replace("{minutes}", Math.round(today.seconds / 60));
  }

  function setBusy(value) {
    busy = value;
    area.setAttribute("aria-busy", value ? "true" : "false");
    const live = Boolean(task) && !value;
    skipBtn.disabled = !live;
    for (const button of labelButtons) button.disabled = !live;
    refreshButtons();
  }

  // ---------------------------------------------------------------- text offsets
  // The server counts offsets in Unicode code points (Python str); the DOM in UTF-16 units.

  function offsetIndex(text) {
    const u2c = new Array(text.length + 1);
    let cp = 0;
    for (let i = 0; i < text.length; i++, cp++) {
      u2c[i] = cp;
      const c = text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
        const d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) { u2c[i + 1] = cp; i++; }
      }
    }
    u2c[text.length] = cp;
    const c2u = new Array(cp + 1);
    for (let i = text.length; i >= 0; i--) c2u[u2c[i]] = i;
    return { u2c, c2u };
  }

  function tokenize(text) {
    const tokens = [];
    for (const match of text.matchAll(/[\p{L}\p{N}\p{M}]+|\S/gu)) {
      tokens.push({ s: match.index, e: match.index + match[0].length });
    }
    return tokens;
  }

  // ---------------------------------------------------------------- state changes

  function change(mutate) {
    undoStack.push(clone(state));
    mutate(state);
    refresh();
  }

  function undo() {
    if (!task || busy) return;
    if (!undoStack.length) { say(T.nothingToUndo); return; }
    state = undoStack.pop();
    if (ui.selectedBox !== null && ui.selectedBox >= state.boxes.length) ui.selectedBox = null;
    refresh();
    say(T.undone);
  }

  function applyLabel(label) {
    if (!task || busy) return;
    if (hiddenTextUnseen()) { say(T.showFirst, "error"); return; }
    if (TYPE === "text_classification" || TYPE === "image_classification") {
      if (state.label !== label.value) change((s) => { s.label = label.value; });
    } else if (TYPE === "multi_label") {
      change((s) => {
        s.labels = s.labels.includes(label.value)
          ? s.labels.filter((v) => v !== label.value)
          : LABELS.map((l) => l.value).filter((v) => v === label.value || s.labels.includes(v));
      });
    } else if (TYPE === "text_spans") {
      if (!ui.text) return;
      if (!ui.pending) { say(T.selectText, "error"); return; }
      const { s: start, e: end } = ui.pending;
      change((s) => {
        const existing = s.spans.find((span) => span.start === start && span.end === end);
        if (existing) existing.label = label.value;
        else s.spans.push({ start, end, label: label.value });
        s.spans.sort((a, b) => a.start - b.start || a.end - b.end);
      });
      say(`${label.value}: “${ui.text.slice(start, end)}”`);
      ui.pending = null;
      renderSpans();
    } else if (TYPE === "image_boxes") {
      ui.currentLabel = label.value;
      if (ui.selectedBox !== null && state.boxes[ui.selectedBox]) {
        const index = ui.selectedBox;
        if (state.boxes[index].label !== label.value) {
          change((s) => { s.boxes[index].label = label.value; });
        }
      }
      refresh();
    }
  }

  function buildResult() {
    switch (TYPE) {
      case "text_classification":
      case "image_classification":
        return state.label === null ? null : { label: state.label };
      case "multi_label":
        return { labels: [...state.labels] };
      case "text_spans": {
        const { u2c } = ui.index;
        return { spans: state.spans.map((s) => ({ start: u2c[s.start], end: u2c[s.end], label: s.label })) };
      }
      case "image_boxes":
        return { boxes: state.boxes.map((b) => ({ x: b.x, y: b.y, w: b.w, h: b.h, label: b.label })) };
      default:
        return null;
    }
  }

  function stateFromSuggestion(raw, data) {
    if (!raw || typeof raw !== "object") return null;
    const known = (v) => colorOf.has(v);
    const s = emptyState();
    if (TYPE === "text_classification" || TYPE === "image_classification") {
      if (!known(raw.label)) return null;
      s.label = raw.label;
    } else if (TYPE === "multi_label") {
      if (!Array.isArray(raw.labels)) return null;
      s.labels = LABELS.map((l) => l.value).filter((v) => raw.labels.includes(v));
    } else if (TYPE === "text_spans") {
      if (!Array.isArray(raw.spans) || typeof data.text !== "string") return null;
      const { c2u } = offsetIndex(data.text);
      s.spans = raw.spans.filter((sp) => known(sp.label) && Number.isInteger(sp.start)
        && Number.isInteger(sp.end) && sp.start >= 0 && sp.start < sp.end && sp.end < c2u.length)
        .map((sp) => ({ start: c2u[sp.start], end: c2u[sp.end], label: sp.label }))
        .sort((a, b) => a.start - b.start || a.end - b.end);
    } else if (TYPE === "image_boxes") {
      if (!Array.isArray(raw.boxes)) return null;
      s.boxes = raw.boxes.filter((b) => known(b.label) && [b.x, b.y, b.w, b.h].every(Number.isFinite))
        .map((b) => ({ x: b.x, y: b.y, w: b.w, h: b.h, label: b.label }));
    }
    return s;
  }

  // ---------------------------------------------------------------- the flow

  async function loadNext() {
    setBusy(true);
    let response;
    try {
      response = await api(cfg.urls.next);
    } catch (_) {
      showProblem(T.network, null, null);
      return;
    }
    await showNext(response);
  }

  // A submit or skip sent with `next: true` brings the next task back in its own response
  // ({status, body}, as POST .../next/ answers): one round trip between two tasks, not two.
  function nextOf(response) {
    const next = response.data && response.data.next;
    return next ? { status: next.status, data: next.body } : null;
  }

  async function showNext(response) {
    if (response.status === 200 && response.data) {
      const image = IS_IMAGE ? await preloadImage(response.data.task.data.image) : null;
      show(response.data, image);
    } else if (response.status === 204) {
      showDone();
    } else if (response.status === 409 && response.data && response.data.error === "consent_required") {
      clearTask();
      setBusy(false);
      document.dispatchEvent(new CustomEvent("fairlabel:consent-needed", { detail: response.data }));
    } else if (response.status === 409) {
      const data = response.data || {};
      showProblem(errorText(response), data.until, data.rule, data.error);
    } else {
      showProblem(errorText(response), null, null);
    }
  }

  async function preloadImage(src) {
    const img = new Image();
    img.alt = T.taskImage;
    img.draggable = false;
    img.decoding = "async";
    img.src = src || "";
    try { await img.decode(); } catch (_) { /* shown as broken: the annotator can skip */ }
    return img;
  }

  async function submit() {
    if (!task || busy) return;
    const result = buildResult();
    if (!result) { say(T.pickLabel, "error"); return; }
    setBusy(true);
    let response;
    try {
      const body = { result, next: true };
      // The image's pixel size, which box exports need, joins a task whose data lacks it.
      if (IS_IMAGE && ui.image && ui.image.naturalWidth && ui.image.naturalHeight) {
        body.image_size = { width: ui.image.naturalWidth, height: ui.image.naturalHeight };
      }
      response = await api(urlFor(cfg.urls.submit, task.assignment), body);
    } catch (_) {
      setBusy(false);
      say(T.network, "error");
      return;
    }
    const slotTaken = response.status === 409 && response.data && response.data.error === "slot_taken";
    if (response.status === 201 || response.status === 200 || slotTaken) {
      if (response.status !== 200) {
        const annotation = slotTaken ? response.data.annotation : response.data;
        today.count += 1;
        today.seconds += Number(annotation && annotation.seconds) || 0;
        renderToday();
      }
      const saved = slotTaken ? `${T.savedExtra}. ${response.data.detail}`
        : savedText(result);
      say(saved, "ok");
      savedNote = saved;
      const next = nextOf(response);
      if (next) showNext(next); else loadNext();
    } else {
      setBusy(false);
      say(errorText(response), "error");
    }
  }

  // An empty answer is an answer: the status says what it meant.
  function savedText(result) {
    if (TYPE === "multi_label" && !result.labels.length) return T.savedNone;
    if (TYPE === "text_spans" && !result.spans.length) return T.savedNoSpan;
    if (TYPE === "image_boxes" && !result.boxes.length) return T.savedNoBox;
    return T.saved;
  }

  async function skip() {
    if (!task || busy) return;
    setBusy(true);
    let response;
    try {
      response = await api(urlFor(cfg.urls.skip, task.assignment), { next: true });
    } catch (_) {
      setBusy(false);
      say(T.network, "error");
      return;
    }
    if (response.status === 200) {
      say(T.skipped, "ok");
      const next = nextOf(response);
      if (next) showNext(next); else loadNext();
    } else {
      setBusy(false);
      say(errorText(response), "error");
    }
  }

  function show(payload, image) {
    savedNote = null;
    const hadFocusInside = view.contains(document.activeElement) || extra.contains(document.activeElement);
    task = payload;
    suggestion = stateFromSuggestion(payload.task.suggestion, payload.task.data || {});
    state = suggestion ? clone(suggestion) : emptyState();
    undoStack = [];
    ui = { revealed: false, pending: null, anchor: null, focus: null, selectedBox: null,
           currentLabel: (ui && ui.currentLabel) || (LABELS[0] && LABELS[0].value), zoom: null,
           image, drag: null };
    view.replaceChildren();
    extra.replaceChildren();
    if (TYPE === "text_spans") {
      // Offsets are converted on submit even while a sensitive text is still hidden.
      ui.text = typeof (payload.task.data || {}).text === "string" ? payload.task.data.text : "";
      ui.index = offsetIndex(ui.text);
    }
    view.dataset.taskId = payload.task.id;
    announce(payload.assignment, Boolean(payload.protect && payload.protect.sensitive));
    if (IS_IMAGE) renderImageTask(); else renderTextTask();
    $("task-meta").textContent = `${T.task} #${payload.task.id} · ${T.expires.replace("{time}", formatTime(payload.expires_at))}`;
    setBusy(false);
    refresh();
    if (hadFocusInside || document.activeElement === document.body) focusTask();
  }

  function focusTask() {
    const target = $("span-text") || (IS_IMAGE ? null : $("reveal-btn"));
    if (target) target.focus({ preventScroll: true });
  }

  function clearTask() {
    task = null;
    state = emptyState();
    suggestion = null;
    undoStack = [];
    view.replaceChildren();
    extra.replaceChildren();
    $("task-meta").textContent = "";
    delete view.dataset.taskId;
    announce(null);
  }

  // session.js sends the task in view with its heartbeats.
  function announce(assignment, sensitive = false) {
    document.dispatchEvent(new CustomEvent("fairlabel:task", { detail: { assignment, sensitive } }));
  }

  function takeSavedNote() {
    const note = savedNote;
    savedNote = null;
    return note ? el("p", { class: "saved-note", "data-testid": "saved-note", text: note }) : null;
  }

  function showDone() {
    clearTask();
    view.append(el("div", { class: "panel done", "data-testid": "done" },
      takeSavedNote(),
      el("p", { class: "panel-title", text: T.done }),
      el("p", {}, el("a", { href: cfg.urls.home, class: "button primary", text: T.back }))));
    setBusy(false);
    say(T.done, "ok");
  }

  let resumeTimer = null;

  function showProblem(detail, until, rule, code) {
    clearTask();
    clearInterval(resumeTimer);
    const retry = el("button", { type: "button", text: T.retry, onclick: () => loadNext() });
    const countdown = until ? el("span", { class: "countdown", "data-testid": "countdown" }) : null;
    const resumeNow = code === "break" && window.FairlabelSession
      ? el("button", { type: "button", text: T.resumeNow, onclick: async () => {
          const response = await window.FairlabelSession.endBreak();
          if (response.status === 200) loadNext(); else say(errorText(response), "error");
        } })
      : null;
    // The cool-down waited out is a paid break: shown as calmly as one.
    const cooldown = Boolean(rule && rule.endsWith("#cool-down"));
    const calm = code === "break" || cooldown;
    const note = takeSavedNote();
    view.append(el("div", { class: `panel refusal${calm ? " calm" : ""}`, "data-testid": "refusal" },
      note,
      el("p", { class: "panel-title", text: code === "break" ? T.breakTitle : cooldown ? T.cooldownTitle : T.refused }),
      el("p", { text: detail }),
      until ? el("p", {}, `${T.until} `, el("time", { datetime: until, text: formatTime(until) }), " ", countdown) : null,
      rule ? el("p", {}, el("a", { href: rule, text: T.rule })) : null,
      el("p", {}, retry, " ", resumeNow, resumeNow ? " " : null, el("a", { href: cfg.urls.home, text: T.back }))));
    setBusy(false);
    const told = until ? `${detail} ${T.until} ${formatTime(until)}` : detail;
    say(note ? `${note.textContent}. ${told}` : told, calm ? "info" : "error");
    if (until) {
      // A calm countdown; the page asks again by itself when the time has come.
      const end = new Date(until).getTime();
      const tick = () => {
        const left = Math.max(0, Math.round((end - Date.now()) / 1000));
        const h = Math.floor(left / 3600);
        const m = Math.floor((left % 3600) / 60);
        const sec = String(left % 60).padStart(2, "0");
        countdown.textContent = `(${h ? `${h}:${String(m).padStart(2, "0")}` : m}:${sec})`;
        if (left === 0) { clearInterval(resumeTimer); loadNext(); }
      };
      tick();
      resumeTimer = setInterval(tick, 1000);
    }
  }

  function showStart() {
    // Before the first task of a project: read the instructions (time counted), then start.
    view.replaceChildren(el("div", { class: "panel start", "data-testid": "start" },
      el("p", { class: "panel-title", text: T.readFirst }),
      el("p", {}, el("button", { type: "button", class: "primary", id: "start-btn", text: T.start,
        onclick: () => { document.dispatchEvent(new CustomEvent("fairlabel:start")); loadNext(); } }))));
    setBusy(false);
  }

  // ---------------------------------------------------------------- refresh

  function refresh() {
    refreshButtons();
    if (TYPE === "text_spans") renderSpans();
    if (TYPE === "image_boxes") renderBoxes();
    hint.classList.toggle("on", Boolean(task && suggestion && same(state, suggestion)));
    hint.setAttribute("aria-hidden", hint.classList.contains("on") ? "false" : "true");
  }

  // The label the sidebar marks: the selected box's own, else the one new boxes get.
  function boxLabelShown() {
    const box = ui.selectedBox !== null ? state.boxes[ui.selectedBox] : null;
    return box ? box.label : ui.currentLabel;
  }

  function refreshButtons() {
    for (const button of labelButtons) {
      const value = button.dataset.value;
      let pressed = null;
      if (TYPE === "text_classification" || TYPE === "image_classification") pressed = state.label === value;
      else if (TYPE === "multi_label") pressed = state.labels.includes(value);
      else if (TYPE === "image_boxes") pressed = boxLabelShown() === value;
      if (pressed !== null) button.setAttribute("aria-pressed", pressed ? "true" : "false");
    }
    const ready = Boolean(task) && !busy;
    submitBtn.disabled = !ready || ((TYPE === "text_classification" || TYPE === "image_classification")
      && state.label === null);
    undoBtn.disabled = !ready || undoStack.length === 0;
  }

  // ---------------------------------------------------------------- text tasks

  function renderTextTask() {
    const data = task.task.data || {};
    const text = typeof data.text === "string" ? data.text : "";
    if (task.protect && task.protect.hide_text && !ui.revealed) {
      view.append(sensitiveCover(T.sensitiveText, revealText));
      return;
    }
    if (task.protect && task.protect.hide_text) {
      extra.prepend(el("p", { class: "protect-bar" },
        el("button", { type: "button", class: "small", text: T.hide,
                       onclick: () => { ui.revealed = false; rerenderText(); } })));
    }
    if (TYPE === "text_spans") {
      ui.text = text;
      ui.index = offsetIndex(text);
      ui.tokens = tokenize(text);
      const box = el("div", { class: "task-text span-text", id: "span-text", tabindex: "0",
        role: "group", "aria-label": T.textToAnnotate, "aria-describedby": "span-help",
        "data-testid": "span-text" });
      box.addEventListener("mouseup", onTextMouseUp);
      box.addEventListener("keyup", (e) => { if (e.key === "Shift") onTextMouseUp(); });
      view.append(box,
        el("p", { class: "selection-line", id: "selection-line", "aria-live": "polite",
                  "data-testid": "selection" }),
        el("p", { class: "hint", id: "span-help", text: T.spanHelp }),
        el("h3", { class: "list-title", text: T.spansHeading }),
        el("ul", { class: "item-list", id: "span-list", "data-testid": "span-list" }));
    } else {
      view.append(el("div", { class: "task-text", "data-testid": "task-text", text }));
    }
  }

  function rerenderText() {
    view.replaceChildren();
    extra.replaceChildren();
    renderTextTask();
    refresh();
    focusTask();
  }

  function sensitiveCover(title, onReveal) {
    const names = (task.categories || []).map((c) => cfg.categories[c] || c).join(", ");
    return el("div", { class: "sensitive-cover", role: "group", "aria-labelledby": "sensitive-title",
                       "data-testid": "sensitive-cover" },
      el("p", { class: "panel-title", id: "sensitive-title", text: names ? `${title} (${names})` : title }),
      el("p", { text: T.sensitiveHelp }),
      el("button", { type: "button", id: "reveal-btn", class: "primary", text: T.show, onclick: onReveal }));
  }

  function renderSpans() {
    const box = $("span-text");
    if (!box) return;
    const text = ui.text;
    const cuts = new Set([0, text.length]);
    for (const t of ui.tokens) { cuts.add(t.s); cuts.add(t.e); }
    for (const s of state.spans) { cuts.add(s.start); cuts.add(s.end); }
    if (ui.pending) { cuts.add(ui.pending.s); cuts.add(ui.pending.e); }
    const points = [...cuts].sort((a, b) => a - b);
    const pieces = [];
    for (let i = 0; i + 1 < points.length; i++) {
      const a = points[i];
      const b = points[i + 1];
      const piece = document.createElement("span");
      piece.textContent = text.slice(a, b);
      const covering = state.spans.filter((s) => s.start <= a && b <= s.end);
      if (covering.length) {
        const top = covering[covering.length - 1];
        piece.className = covering.length > 1 ? "hl hl-many" : "hl";
        piece.style.setProperty("--c", colorOf.get(top.label) || "#888");
        const ending = covering.filter((s) => s.end === b);
        if (ending.length) piece.dataset.label = ending.map((s) => s.label).join(" · ");
      }
      if (ui.pending && ui.pending.s <= a && b <= ui.pending.e) piece.classList.add("sel");
      pieces.push(piece);
    }
    box.replaceChildren(...pieces);

    const line = $("selection-line");
    if (line) {
      line.textContent = ui.pending
        ? `${T.selection}: “${text.slice(ui.pending.s, ui.pending.e)}” (${ui.index.u2c[ui.pending.s]}–${ui.index.u2c[ui.pending.e]})`
        : `${T.selection}: ${T.noSelection}`;
    }
    const list = $("span-list");
    if (!list) return;
    if (!state.spans.length) {
      list.replaceChildren(el("li", { class: "hint", text: T.noSpans }));
      return;
    }
    list.replaceChildren(...state.spans.map((span, index) => {
      const fragment = text.slice(span.start, span.end);
      return el("li", { style: `--c: ${colorOf.get(span.label) || "#888"}` },
        el("span", { class: "tag", text: span.label }), " ",
        el("span", { class: "fragment", text: `“${fragment}”` }), " ",
        el("span", { class: "hint", text: `${ui.index.u2c[span.start]}–${ui.index.u2c[span.end]}` }), " ",
        el("button", { type: "button", class: "small", text: T.remove,
          "aria-label": `${T.remove} ${span.label} “${fragment}”`,
          onclick: () => { change((s) => { s.spans.splice(index, 1); }); say(T.spanRemoved); } }));
    }));
  }

  function onTextMouseUp() {
    const box = $("span-text");
    const selection = window.getSelection();
    if (!box || !selection || selection.rangeCount === 0 || selection.isCollapsed) return;
    const range = selection.getRangeAt(0);
    if (!box.contains(range.startContainer) || !box.contains(range.endContainer)) return;
    const offsetOf = (node, offset) => {
      const probe = document.createRange();
      probe.setStart(box, 0);
      probe.setEnd(node, offset);
      return probe.toString().length;
    };
    let s = offsetOf(range.startContainer, range.startOffset);
    let e = offsetOf(range.endContainer, range.endOffset);
    if (e < s) [s, e] = [e, s];
    while (s < e && /\s/.test(ui.text[s])) s++;
    while (e > s && /\s/.test(ui.text[e - 1])) e--;
    selection.removeAllRanges();
    if (e <= s) return;
    ui.pending = { s, e };
    const at = ui.tokens.findIndex((t) => t.e > s);
    ui.anchor = ui.focus = at === -1 ? ui.tokens.length - 1 : at;
    renderSpans();
    box.focus({ preventScroll: true });
  }

  function moveCursor(key, extend) {
    const count = ui.tokens.length;
    if (!count) return;
    let focus = ui.focus;
    if (focus === null) focus = key === "ArrowLeft" || key === "End" ? count - 1 : 0;
    else if (key === "ArrowRight") focus = Math.min(count - 1, focus + 1);
    else if (key === "ArrowLeft") focus = Math.max(0, focus - 1);
    else if (key === "Home") focus = 0;
    else if (key === "End") focus = count - 1;
    if (!extend || ui.anchor === null) ui.anchor = focus;
    ui.focus = focus;
    const first = ui.tokens[Math.min(ui.anchor, focus)];
    const last = ui.tokens[Math.max(ui.anchor, focus)];
    ui.pending = { s: first.s, e: last.e };
    renderSpans();
  }

  function removeSpansUnderSelection() {
    if (!ui.pending) return;
    const { s: a, e: b } = ui.pending;
    if (!state.spans.some((s) => s.start < b && a < s.end)) return;
    change((s) => { s.spans = s.spans.filter((span) => !(span.start < b && a < span.end)); });
    say(T.spanRemoved);
  }

  // ---------------------------------------------------------------- image tasks

  function renderImageTask() {
    const protect = task.protect || {};
    const img = ui.image;
    const natural = { w: img.naturalWidth, h: img.naturalHeight };
    ui.natural = natural;
    const tools = el("div", { class: "image-tools", role: "toolbar", "aria-label": T.imageTools });
    tools.append(
      el("button", { type: "button", class: "small", "aria-label": T.zoomOut, title: T.zoomOut,
                     text: "−", onclick: () => zoomBy(1 / 1.25) }),
      el("button", { type: "button", class: "small", "aria-label": T.zoomIn, title: T.zoomIn,
                     text: "+", onclick: () => zoomBy(1.25) }),
      el("button", { type: "button", class: "small", text: T.fit,
                     onclick: () => { ui.zoomed = false; setZoom(null); } }),
      el("span", { class: "zoom-level", id: "zoom-level", "aria-live": "off" }));
    const protectedView = Boolean(protect.blur || protect.greyscale);
    // The annotator's own blur strength, kept on the server (PUT /api/me/display/) and sent
    // with each blurred task: the image is first painted with it, on any device.
    const level = String(protect.blur_px || 16);
    if (protectedView) {
      const slider = el("input", { type: "range", id: "blur-level", min: "2", max: "40", step: "1",
                                   value: level, "aria-valuetext": `${level} px` });
      slider.addEventListener("input", () => {
        slider.setAttribute("aria-valuetext", `${slider.value} px`);
        $("canvas").style.setProperty("--blur", `${slider.value}px`);
      });
      slider.addEventListener("change", async () => {
        const value = Number(slider.value);
        const response = await window.Fairlabel.request("PUT", cfg.urls.display, { blur_px: value });
        if (response.status === 200 && task && task.protect) task.protect.blur_px = value;
      });
      tools.append(
        el("button", { type: "button", class: "small", id: "reveal-btn", "aria-pressed": "false",
                       text: T.showImage, onclick: toggleReveal }),
        el("label", { for: "blur-level", class: "inline-label", text: T.blurLevel }), slider);
    }
    const canvas = el("div", { class: "canvas", id: "canvas", "data-testid": "canvas" });
    if (protectedView) {
      canvas.classList.add("protected");
      if (protect.blur) canvas.classList.add("blur");
      if (protect.greyscale) canvas.classList.add("grey");
      canvas.style.setProperty("--blur", `${level}px`);
    }
    img.className = "task-image";
    img.setAttribute("data-testid", "task-image");
    canvas.append(img);
    const stage = el("div", { class: "stage", id: "stage" }, canvas);
    if (protectedView) {
      view.append(el("p", { class: "protect-note", "data-testid": "sensitive-cover" },
        `${T.sensitiveImage}. ${T.sensitiveHelp}`));
    }
    view.append(tools, stage);
    if (!natural.w) {
      view.append(el("p", { class: "status-error", text: T.imageFailed }));
    }
    if (TYPE === "image_classification" && protectedView) {
      img.addEventListener("click", toggleReveal);
    }
    if (protectedView) {
      // Revealed while the pointer moves on it (mouse or pen), blurred again when it leaves. A
      // pointer that merely rests where the next image appears reveals nothing.
      // (The browser also sends a move when the page changes under a still pointer: only a
      // move away from where the pointer was first seen counts.)
      canvas.addEventListener("pointermove", (e) => {
        if (e.pointerType === "touch" || ui.revealed || ui.drag) return;
        if (!ui.hoverFrom) { ui.hoverFrom = { x: e.clientX, y: e.clientY }; return; }
        if (Math.abs(e.clientX - ui.hoverFrom.x) + Math.abs(e.clientY - ui.hoverFrom.y) > 4) {
          toggleReveal();
        }
      });
      canvas.addEventListener("pointerleave", (e) => {
        ui.hoverFrom = null;
        if (e.pointerType !== "touch" && ui.revealed) toggleReveal();
      });
    }
    if (TYPE === "image_boxes") {
      const overlay = el("div", { class: "overlay", id: "overlay", "data-testid": "overlay" });
      overlay.addEventListener("pointerdown", onPointerDown);
      overlay.addEventListener("pointermove", onPointerMove);
      overlay.addEventListener("pointerup", onPointerUp);
      overlay.addEventListener("pointercancel", onPointerUp);
      canvas.append(overlay);
      view.append(el("h3", { class: "list-title", text: T.boxesHeading }),
        el("ul", { class: "item-list", id: "box-list", "data-testid": "box-list" }));
    }
    stage.addEventListener("wheel", (e) => {
      if (!e.ctrlKey) return;
      e.preventDefault();
      zoomBy(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX, e.clientY);
    }, { passive: false });
    requestAnimationFrame(() => setZoom(null));
  }

  // A sensitive text still behind its cover: keys do not label what nobody has read.
  function hiddenTextUnseen() {
    return Boolean(task && !IS_IMAGE && task.protect && task.protect.hide_text && !ui.seen);
  }

  function revealText() {
    ui.revealed = true;
    ui.seen = true;
    rerenderText();
  }

  function hiddenUnseen() {
    return Boolean(task && task.protect && task.protect.sensitive && !ui.seen);
  }

  function toggleReveal() {
    ui.revealed = !ui.revealed;
    if (ui.revealed) ui.seen = true;
    const canvas = $("canvas");
    const button = $("reveal-btn");
    if (canvas) canvas.classList.toggle("revealed", ui.revealed);
    if (button) {
      button.setAttribute("aria-pressed", ui.revealed ? "true" : "false");
      button.textContent = ui.revealed ? T.blurImage : T.showImage;
    }
  }

  function fitScale() {
    const stage = $("stage");
    if (!stage || !ui.natural.w) return 1;
    const w = stage.clientWidth - 2;
    const h = stage.clientHeight - 2;
    return Math.min(w / ui.natural.w, h / ui.natural.h, 4);
  }

  function setZoom(scale, clientX, clientY) {
    const stage = $("stage");
    if (!stage || !ui.natural.w) return;
    const previous = ui.scale || fitScale();
    ui.scale = clamp(scale === null ? fitScale() : scale, 0.05, 16);
    const img = ui.image;
    img.style.width = `${ui.natural.w * ui.scale}px`;
    img.style.height = `${ui.natural.h * ui.scale}px`;
    if (scale !== null && clientX !== undefined) {
      // Keep the point under the pointer where it was.
      const rect = stage.getBoundingClientRect();
      const ratio = ui.scale / previous;
      stage.scrollLeft = (stage.scrollLeft + clientX - rect.left) * ratio - (clientX - rect.left);
      stage.scrollTop = (stage.scrollTop + clientY - rect.top) * ratio - (clientY - rect.top);
    }
    const label = $("zoom-level");
    if (label) label.textContent = `${Math.round(ui.scale * 100)} %`;
    if (TYPE === "image_boxes") renderBoxes();
  }

  function zoomBy(factor, clientX, clientY) {
    if (!ui.scale) return;
    ui.zoomed = true;
    setZoom(ui.scale * factor, clientX, clientY);
  }

  function toImage(e) {
    const rect = $("canvas").getBoundingClientRect();
    return {
      x: clamp((e.clientX - rect.left) / ui.scale, 0, ui.natural.w),
      y: clamp((e.clientY - rect.top) / ui.scale, 0, ui.natural.h),
    };
  }

  function normalizeBox(x1, y1, x2, y2) {
    const { w: W, h: H } = ui.natural;
    const left = clamp(Math.min(x1, x2), 0, W);
    const right = clamp(Math.max(x1, x2), 0, W);
    const top = clamp(Math.min(y1, y2), 0, H);
    const bottom = clamp(Math.max(y1, y2), 0, H);
    return { x: round1(left), y: round1(top), w: round1(right - left), h: round1(bottom - top) };
  }

  function onPointerDown(e) {
    if (e.button !== 0 || !task || busy || !ui.natural.w) return;
    e.preventDefault();
    const overlay = e.currentTarget;
    overlay.setPointerCapture(e.pointerId);
    const point = toImage(e);
    const handle = e.target.closest(".handle");
    const boxEl = e.target.closest(".box");
    const before = clone(state);
    if (boxEl) {
      const index = Number(boxEl.dataset.i);
      ui.selectedBox = index;
      ui.drag = { mode: handle ? "resize" : "move", corner: handle && handle.dataset.h, index,
                  start: point, origin: { ...state.boxes[index] }, before, moved: false };
    } else {
      ui.selectedBox = null;
      ui.drag = { mode: "draw", start: point, index: null, before, moved: false,
                  screen: { x: e.clientX, y: e.clientY } };
    }
    renderBoxes();
  }

  function onPointerMove(e) {
    const drag = ui.drag;
    if (!drag) return;
    const point = toImage(e);
    if (drag.mode === "draw") {
      if (drag.index === null) {
        if (Math.abs(e.clientX - drag.screen.x) < 4 && Math.abs(e.clientY - drag.screen.y) < 4) return;
        state.boxes.push({ x: drag.start.x, y: drag.start.y, w: 0, h: 0, label: ui.currentLabel });
        drag.index = state.boxes.length - 1;
        ui.selectedBox = drag.index;
      }
      Object.assign(state.boxes[drag.index], normalizeBox(drag.start.x, drag.start.y, point.x, point.y));
    } else if (drag.mode === "move") {
      const o = drag.origin;
      const x = clamp(o.x + point.x - drag.start.x, 0, ui.natural.w - o.w);
      const y = clamp(o.y + point.y - drag.start.y, 0, ui.natural.h - o.h);
      Object.assign(state.boxes[drag.index], { x: round1(x), y: round1(y) });
    } else if (drag.mode === "resize") {
      const o = drag.origin;
      let [left, top, right, bottom] = [o.x, o.y, o.x + o.w, o.y + o.h];
      if (drag.corner.includes("w")) left = point.x;
      if (drag.corner.includes("e")) right = point.x;
      if (drag.corner.includes("n")) top = point.y;
      if (drag.corner.includes("s")) bottom = point.y;
      Object.assign(state.boxes[drag.index], normalizeBox(left, top, right, bottom));
    }
    drag.moved = true;
    renderBoxes();
  }

  function onPointerUp() {
    const drag = ui.drag;
    if (!drag) return;
    ui.drag = null;
    if (drag.index !== null && state.boxes[drag.index]) {
      const box = state.boxes[drag.index];
      if (box.w < 1 || box.h < 1) {
        state.boxes.splice(drag.index, 1);  // a click, not a box
        ui.selectedBox = null;
      }
    }
    if (!same(state, drag.before)) undoStack.push(drag.before);
    refresh();
  }

  function renderBoxes() {
    const overlay = $("overlay");
    if (!overlay || !ui.scale) return;
    const scale = ui.scale;
    overlay.replaceChildren(...state.boxes.map((b, i) => {
      const node = el("div", { class: `box${i === ui.selectedBox ? " selected" : ""}`, "data-i": i,
                               "data-label": b.label });
      node.style.cssText = `left:${b.x * scale}px;top:${b.y * scale}px;width:${b.w * scale}px;`
        + `height:${b.h * scale}px;--c:${colorOf.get(b.label) || "#888"}`;
      node.append(el("span", { class: "box-tag", "aria-hidden": "true", text: b.label }));
      if (i === ui.selectedBox) {
        for (const corner of ["nw", "ne", "sw", "se"]) node.append(el("span", { class: `handle ${corner}`, "data-h": corner }));
      }
      return node;
    }));
    if (ui.drag) return; // the list follows on pointerup
    const list = $("box-list");
    if (!list) return;
    if (!state.boxes.length) {
      list.replaceChildren(el("li", { class: "hint", text: T.noBoxes }));
      return;
    }
    list.replaceChildren(...state.boxes.map((b, i) => {
      const name = `${T.box} ${i + 1}: ${b.label}`;
      return el("li", { style: `--c: ${colorOf.get(b.label) || "#888"}`, class: i === ui.selectedBox ? "selected" : null },
        el("button", { type: "button", class: "small select-box", "aria-pressed": i === ui.selectedBox ? "true" : "false",
                       onclick: () => { ui.selectedBox = ui.selectedBox === i ? null : i; refresh(); } },
          el("span", { class: "tag", text: b.label }), ` ${T.box} ${i + 1}`),
        " ",
        el("span", { class: "hint", text: `x ${b.x}, y ${b.y}, ${b.w} × ${b.h} px` }), " ",
        el("button", { type: "button", class: "small", text: T.remove, "aria-label": `${T.remove} ${name}`,
                       onclick: () => deleteBox(i) }));
    }));
  }

  function deleteBox(index) {
    if (index === null || !state.boxes[index]) return;
    change((s) => { s.boxes.splice(index, 1); });
    ui.selectedBox = null;
    refresh();
    say(T.boxRemoved);
  }

  // ---------------------------------------------------------------- keyboard

  function onKey(e) {
    if (e.defaultPrevented || e.isComposing) return;
    const target = e.target instanceof Element ? e.target : document.body;
    // Typing in a field is not a shortcut; the blur slider is no typing field (label keys go on).
    if (target.closest("input:not([type=range]), textarea, select, [contenteditable]:not([contenteditable=false])")) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const key = e.key;
    const k = key.length === 1 ? key.toLowerCase() : key;
    const onControl = target.closest("button, a, summary");
    const onLabelButton = onControl && onControl.classList.contains("label-btn");

    if (key === "Enter") {
      // Enter presses links and other buttons, except the "Show" of a hidden task once a label
      // was chosen: then it submits that explicit choice.
      const onReveal = onControl && onControl.id === "reveal-btn" && undoStack.length > 0;
      if (onControl && !onLabelButton && !onReveal) return;
      e.preventDefault();
      if (!task && !busy && $("task-view").querySelector(".refusal")) { loadNext(); return; }
      if (!task && !busy && $("start-btn")) { $("start-btn").click(); return; }
      if (hiddenTextUnseen()) {
        // The first Enter on a hidden text shows it; the next one submits.
        revealText();
        return;
      }
      if (hiddenUnseen() && undoStack.length === 0) {
        // Never submit, by a key, what nobody chose: the content was not seen and nothing was
        // picked (a suggestion or an empty answer stays unsent).
        say(T.hiddenChoose, "error");
        return;
      }
      submit();
      return;
    }
    if (key === " " || !task) return;
    if (byHotkey.has(k)) { e.preventDefault(); applyLabel(byHotkey.get(k)); return; }
    if (k === "s") { e.preventDefault(); skip(); return; }
    if (k === "z") { e.preventDefault(); undo(); return; }

    if (TYPE === "text_spans" && ui.tokens && !busy) {
      if (["ArrowLeft", "ArrowRight", "Home", "End"].includes(key)) {
        e.preventDefault();
        moveCursor(key, e.shiftKey);
      } else if (key === "Escape") {
        ui.pending = null;
        renderSpans();
      } else if (key === "Delete" || key === "Backspace") {
        e.preventDefault();
        removeSpansUnderSelection();
      }
    } else if (TYPE === "image_boxes" && !busy) {
      if ((key === "Delete" || key === "Backspace") && ui.selectedBox !== null) {
        e.preventDefault();
        deleteBox(ui.selectedBox);
      } else if (key === "Escape") {
        ui.selectedBox = null;
        refresh();
      } else if (key === "+" || key === "=") {
        e.preventDefault();
        zoomBy(1.25);
      } else if (key === "-") {
        e.preventDefault();
        zoomBy(1 / 1.25);
      }
    } else if (IS_IMAGE && (key === "+" || key === "=" || key === "-")) {
      e.preventDefault();
      zoomBy(key === "-" ? 1 / 1.25 : 1.25);
    }
  }

  // ---------------------------------------------------------------- wiring

  for (const button of labelButtons) {
    button.addEventListener("click", () => {
      const label = LABELS.find((l) => l.value === button.dataset.value);
      if (label) applyLabel(label);
    });
  }
  // A mouse click on one of the page's buttons leaves the focus where it was, so that Enter
  // still submits afterwards; keyboard users reach and press the buttons as usual.
  document.querySelector(".label-page").addEventListener("mousedown", (e) => {
    if (e.button === 0 && e.target instanceof Element && e.target.closest("button")) e.preventDefault();
  });
  submitBtn.addEventListener("click", submit);
  skipBtn.addEventListener("click", skip);
  undoBtn.addEventListener("click", undo);
  document.addEventListener("keydown", onKey);
  window.addEventListener("resize", () => {
    if (IS_IMAGE && ui.image && ui.scale && !ui.zoomed && $("stage")) setZoom(null);
  });

  document.addEventListener("fairlabel:resume", () => loadNext());
  document.addEventListener("fairlabel:break-due", () => say(T.breakDue, "info"));

  function begin() {
    if (cfg.readingInstructions) showStart(); else loadNext();
  }

  renderToday();
  // A project that may hold sensitive content asks for consent first (care.js), then begins.
  if (cfg.projectCategories && cfg.projectCategories.length && window.FairlabelCare) {
    window.FairlabelCare.beforeFirstTask().then((ready) => { if (ready) begin(); });
  } else {
    begin();
  }
})();
