// tools/a11y.py: give the saved ipywidgets of the static book accessible names.
// ipywidgets 8 draws a slider as a noUiSlider whose handle (role="slider") has no
// name (axe: aria-input-field-name); a text, number or dropdown input may have none
// either (axe: label). Each takes the visible label of its widget ("b_in",
// "decay γ"), so a screen reader announces what a sighted reader sees beside it.
// A figure an explorer saved in its output (an <img> without alt) is described by
// the settings it was drawn for ("The explorer's figure for input = pulse, b_in =
// 0.00, ..."), the same words a sighted reader reads on the controls above it.
(function () {
  "use strict";
  function labelOf(widget) {
    const label = widget.querySelector(".widget-label");
    return label ? label.textContent.trim() : "";
  }
  function name(root) {
    root.querySelectorAll(".jupyter-widgets").forEach(function (widget) {
      const text = labelOf(widget);
      if (!text) return;
      widget.querySelectorAll('[role="slider"], input, select, textarea')
        .forEach(function (el) {
          if (!el.hasAttribute("aria-label") && !el.hasAttribute("aria-labelledby"))
            el.setAttribute("aria-label", text);
        });
    });
  }
  function settings(box) {
    const shown = [];
    box.querySelectorAll(".widget-inline-hbox").forEach(function (widget) {
      const text = labelOf(widget);
      const readout = widget.querySelector(".widget-readout");
      const select = widget.querySelector("select");
      const value = readout ? readout.textContent.trim()
        : select && select.selectedIndex >= 0
          ? select.options[select.selectedIndex].text : "";
      if (text && value) shown.push(text + " = " + value);
    });
    return shown;
  }
  function describe(root) {
    root.querySelectorAll(".jupyter-widgets img:not([alt])").forEach(function (img) {
      const box = img.closest(".widget-interact") || img.closest(".widget-vbox");
      const shown = box ? settings(box) : [];
      img.setAttribute("alt", "The explorer's figure" +
        (shown.length ? " for " + shown.join(", ") : "") +
        "; its title and axes give the values plotted.");
    });
  }
  function start() {
    name(document);
    describe(document);
    new MutationObserver(function () { name(document); describe(document); })
      .observe(document.body, {childList: true, subtree: true});
  }
  if (document.readyState === "loading")
    document.addEventListener("DOMContentLoaded", start);
  else
    start();
})();
