"""Accessibility fixes of the built book (WCAG 2.1 AA, checked by axe-core).

A Sphinx extension (`local_extensions` in _config.yml). What it changes, each for
a rule of axe-core 4.14 that the book failed (tests/test_accessibility.py):

- label-content-name-mismatch: two of pydata-sphinx-theme 0.17.1's buttons, by
  template overrides in tools/templates/ (put first on `templates_path`): the
  search field is named by its visible text, the colour-mode icons are hidden from
  assistive technology. MyST-NB's "Show code cell source" toggles carry
  `aria-label="Toggle hidden content"` beside that visible text: the label goes, so
  their name is what a sighted reader sees.
- aria-deprecated-role, aria-required-children: docutils marks each bibliography
  entry `role="doc-biblioentry"` (deprecated in DPUB-ARIA 1.1) inside a
  `role="list"`; each entry becomes a `listitem`, which the list requires.
- aria-input-field-name: ipywidgets' sliders (noUiSlider handles) carry no name;
  tools/static/a11y_widgets.js names each after its widget's label once the
  saved widgets render.

Alt text of figures comes from the notebooks (MyST-NB `mystnb.image.alt`) and of
animation players from `lstm_core.viz.player(..., alt=...)`; the tests check both.
"""
import re
from pathlib import Path

HERE = Path(__file__).parent

# (pattern, replacement) applied to each page's body, in order.
BODY_FIXES = (
    (re.compile(r'<summary aria-label="Toggle hidden content">'), "<summary>"),
    (re.compile(r'role="doc-biblioentry"'), 'role="listitem"'),
)


def fix_body(body):
    """The page body with BODY_FIXES applied; returns (body, replacements made)."""
    total = 0
    for pattern, replacement in BODY_FIXES:
        body, n = pattern.subn(replacement, body)
        total += n
    return body, total


def _page(app, pagename, templatename, context, doctree):
    """html-page-context: the body fixes, and the widget-label script."""
    if "body" in context:
        context["body"], _ = fix_body(context["body"])


def _config(app, config):
    """config-inited: our templates before the theme's; our static script."""
    config.templates_path = [str(HERE / "templates"), *config.templates_path]
    static = str(HERE / "static")
    if static not in config.html_static_path:
        config.html_static_path = [*config.html_static_path, static]
    app.add_js_file("a11y_widgets.js", defer="defer", priority=520)


def setup(app):
    app.connect("config-inited", _config)
    app.connect("html-page-context", _page)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
