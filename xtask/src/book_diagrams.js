// Injected into a copy of each built page that has diagrams, then run in
// headless Chromium by `cargo xtask test` (xtask/src/book_diagrams.rs).
// Once Mermaid has drawn every diagram (or 10 s have passed), it appends a
// report (a pre element, id diagram-report) with one JSON object per diagram.
(function () {
  "use strict";
  function measure(pre, index) {
    const svg = pre.querySelector("svg");
    if (!svg) {
      // Mermaid leaves the source in place when it cannot draw it.
      return { index, rendered: false, source: pre.textContent.trim().slice(0, 80) };
    }
    const box = svg.getBoundingClientRect();
    const viewBox = svg.viewBox.baseVal;
    // Mermaid scales the drawing to the column: a font-size of 16 in a
    // drawing shown at half its width is 8 px on screen.
    const scale = viewBox && viewBox.width ? box.width / viewBox.width : 1;
    let smallest = null;
    for (const el of svg.querySelectorAll("text, span, div, p")) {
      if (!el.textContent.trim() || el.children.length) continue;
      const size = parseFloat(getComputedStyle(el).fontSize) * scale;
      if (size && (smallest === null || size < smallest)) smallest = size;
    }
    const overflows = [];
    for (const note of svg.querySelectorAll("rect.note")) {
      const edges = note.getBoundingClientRect();
      for (const text of note.parentNode.querySelectorAll("text.noteText")) {
        const t = text.getBoundingClientRect();
        if (t.left < edges.left - 1 || t.right > edges.right + 1) {
          overflows.push(text.textContent.trim().slice(0, 60));
        }
      }
    }
    for (const object of svg.querySelectorAll("foreignObject")) {
      const label = object.firstElementChild;
      if (label && label.scrollWidth > object.width.baseVal.value + 2) {
        overflows.push(label.textContent.trim().slice(0, 60));
      }
    }
    return {
      index,
      rendered: true,
      syntax_error: /Syntax error/i.test(svg.textContent),
      smallest_px: smallest,
      width_px: Math.round(box.width),
      height_px: Math.round(box.height),
      overflows,
    };
  }
  function report() {
    const pres = Array.from(document.querySelectorAll("pre.mermaid"));
    const out = document.createElement("pre");
    out.id = "diagram-report";
    out.textContent = pres.map((pre, i) => JSON.stringify(measure(pre, i))).join("\n");
    document.body.appendChild(out);
  }
  let waited = 0;
  (function wait() {
    const pres = Array.from(document.querySelectorAll("pre.mermaid"));
    if (pres.every((pre) => pre.querySelector("svg")) || waited++ > 100) report();
    else setTimeout(wait, 100);
  })();
})();
