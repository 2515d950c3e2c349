// The confirmations-over-time chart: an SVG drawn here, no library. Two step lines
// (confirmed, declined: how many had answered so by each moment) against the need.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  // A small viewBox, so the labels (22 units, see dashboard.css) scale with the box: about
  // 18 px in the wall screen's ~345 px wide chart, about 17 px on a phone.
  const W = 420, H = 240, LEFT = 60, RIGHT = 10, TOP = 14, BOTTOM = 34;

  function svg(tag, attributes, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  /**
   * Draw into `box` unless what it would show equals `data.previousKey`; returns the key of
   * what is shown. `data`: start and end (ms), confirmed and declined (sorted ms), needed.
   */
  function drawConfirmations(box, data) {
    const { start, confirmed: yes, declined: no, needed } = data;
    const last = Math.max(start + 60000, yes[yes.length - 1] || 0, no[no.length - 1] || 0);
    const end = Math.max(last, data.end);
    const top = Math.max(needed, yes.length, no.length, 1);
    const key = [yes.length, no.length, top, Math.floor(end / 60000), yes[yes.length - 1], no[no.length - 1]].join();
    if (key === data.previousKey) return key;
    const x = (t) => LEFT + ((t - start) / (end - start)) * (W - LEFT - RIGHT);
    const y = (n) => H - BOTTOM - (n / top) * (H - TOP - BOTTOM);
    const steps = (list) => {
      let d = "M" + x(start) + "," + y(0);
      list.forEach((t, i) => { d += "H" + x(t) + "V" + y(i + 1); });
      return d + "H" + x(end);
    };
    const chart = svg("svg", {
      viewBox: "0 0 " + W + " " + H,
      role: "img",
      "aria-label": "Bekräftade över tid: " + yes.length + " av " + needed + " behövs, "
        + no.length + " har svarat nej",
    });
    chart.appendChild(svg("line", { class: "axis", x1: LEFT, y1: H - BOTTOM, x2: W - RIGHT, y2: H - BOTTOM }));
    chart.appendChild(svg("line", { class: "axis", x1: LEFT, y1: TOP, x2: LEFT, y2: H - BOTTOM }));
    if (needed > 0) {
      chart.appendChild(svg("line", { class: "need", x1: LEFT, y1: y(needed), x2: W - RIGHT, y2: y(needed) }));
      const labelY = y(needed) - 6 < TOP + 20 ? y(needed) + 24 : y(needed) - 6;
      chart.appendChild(svg("text", { x: W - RIGHT, y: labelY, "text-anchor": "end" }, "behov " + needed));
    }
    chart.appendChild(svg("path", { class: "declined", d: steps(no) }));
    chart.appendChild(svg("path", { class: "confirmed", d: steps(yes) }));
    chart.appendChild(svg("text", { x: LEFT - 6, y: y(0), "text-anchor": "end" }, "0"));
    chart.appendChild(svg("text", { x: LEFT - 6, y: y(top) + 16, "text-anchor": "end" }, top));
    chart.appendChild(svg("text", { x: LEFT, y: H - 6 }, window.KD.formatTime(new Date(start))));
    chart.appendChild(svg("text", { x: W - RIGHT, y: H - 6, "text-anchor": "end" }, window.KD.formatTime(new Date(end))));
    box.dataset.points = String(yes.length);
    box.replaceChildren(chart);
    return key;
  }

  window.KD.drawConfirmations = drawConfirmations;
})();
