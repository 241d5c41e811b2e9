// Sign-up: the time zone the browser runs in is chosen, when the list has it, until the
// person picks another one (a form sent back with an error keeps what was picked).
const zone = document.querySelector("select[name=timezone][data-browser-default]");
if (zone) {
  let browser = "";
  try { browser = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (_) { /* old browser */ }
  if (browser && [...zone.options].some((option) => option.value === browser)) zone.value = browser;
}
