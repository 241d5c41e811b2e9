// The project form: the implied hourly rate, live, against the floor (the server decides).
const price = document.getElementById("id_price_per_task");
const secs = document.getElementById("id_estimated_seconds_per_task");
const out = document.getElementById("rate-value");
const verdict = document.getElementById("rate-verdict");
const box = document.getElementById("rate");

if (price && secs && out && verdict && box) {
  // data-floor is written unlocalised ("12.00"); what is shown follows the page's language.
  const floor = Number(box.dataset.floor), cur = box.dataset.currency;
  const money = new Intl.NumberFormat(document.documentElement.lang || undefined,
    { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  // Number inputs hand their value with a dot whatever the language; a comma typed in a
  // text field is read as the decimal mark too.
  const read = (input) => Number(String(input.value).trim().replace(",", "."));
  // Cents as integers: the shown rate is exact to the cent, like the server's.
  const update = () => {
    const empty = price.value.trim() === "" || secs.value.trim() === "";
    const p = Math.round(read(price) * 100), s = read(secs);
    // Nothing is judged before a price is typed: an empty field is not a rate of 0.00.
    if (empty || !(p >= 0) || !(s > 0) || !Number.isFinite(floor)) {
      out.textContent = "—"; verdict.textContent = ""; verdict.className = ""; return;
    }
    const rate = (p * 3600 / s) / 100;
    out.textContent = `${money.format(rate)} ${cur}/h`;
    const ok = rate >= floor;
    verdict.textContent = ok
      ? `${box.dataset.meets} ${money.format(floor)}`
      : `${box.dataset.under} ${money.format(floor)} — ${box.dataset.blocked}`;
    verdict.className = ok ? "ok" : "errors";
  };
  price.addEventListener("input", update);
  secs.addEventListener("input", update);
  update();
}
