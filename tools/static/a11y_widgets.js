// tools/a11y.py: give the saved ipywidgets of the static book accessible names.
// ipywidgets 8 draws a slider as a noUiSlider whose handle (role="slider") has no
// name (axe: aria-input-field-name); a text, number or dropdown input may have none
// either (axe: label). Each takes the visible label of its widget ("b_in",
// "decay γ"), so a screen reader announces what a sighted reader sees beside it.
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
  function start() {
    name(document);
    new MutationObserver(function () { name(document); })
      .observe(document.body, {childList: true, subtree: true});
  }
  if (document.readyState === "loading")
    document.addEventListener("DOMContentLoaded", start);
  else
    start();
})();
