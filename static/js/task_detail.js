// The task page: each annotation's boxes drawn over the image, in percent of the image's own
// size (results are in pixels of the original image), so they follow the image as it scales.
for (const figure of document.querySelectorAll("figure[data-boxes]")) {
  const img = figure.querySelector("img");
  const draw = () => {
    const w = img.naturalWidth, h = img.naturalHeight;
    if (!w || !h) return;
    let boxes = [];
    let colors = new Map();
    try {
      boxes = JSON.parse(figure.dataset.boxes);
      colors = new Map(JSON.parse(figure.dataset.labels).map((l) => [l.value, l.color]));
    } catch (_) { return; }
    figure.querySelectorAll(".box").forEach((node) => node.remove());
    for (const b of boxes) {
      const node = document.createElement("div");
      node.className = "box";
      node.dataset.label = b.label;
      node.style.left = `${(100 * b.x) / w}%`;
      node.style.top = `${(100 * b.y) / h}%`;
      node.style.width = `${(100 * b.w) / w}%`;
      node.style.height = `${(100 * b.h) / h}%`;
      if (colors.get(b.label)) node.style.setProperty("--c", colors.get(b.label));
      const tag = document.createElement("span");
      tag.textContent = b.label;
      node.append(tag);
      figure.append(node);
    }
  };
  if (img.complete) draw(); else img.addEventListener("load", draw);
}
