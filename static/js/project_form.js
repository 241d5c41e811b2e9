// The project form: the implied hourly rate, live, against the floor (the server decides).
const price = document.getElementById("id_price_per_task");
const secs = document.getElementById("id_estimated_seconds_per_task");
const out = document.getElementById("rate-value");
const verdict = document.getElementById("rate-verdict");
const box = document.getElementById("rate");

if (price && secs && out && verdict && box) {
  const floor = Number(box.dataset.floor), cur = box.dataset.currency;
  // Cents as integers: the shown rate is exact to the cent, like the server's.
  const update = () => {
    const p = Math.round(Number(price.value) * 100), s = Number(secs.value);
    if (!(p >= 0) || !(s > 0)) { out.textContent = "—"; verdict.textContent = ""; return; }
    const rate = (p * 3600 / s) / 100;
    out.textContent = rate.toFixed(2) + " " + cur + "/h";
    const ok = rate >= floor;
    verdict.textContent = ok
      ? box.dataset.meets + " " + floor.toFixed(2)
      : box.dataset.under + " " + floor.toFixed(2) + " — " + box.dataset.blocked;
    verdict.className = ok ? "ok" : "errors";
  };
  price.addEventListener("input", update);
  secs.addEventListener("input", update);
  update();
}
