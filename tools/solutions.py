"""Student and teacher builds: solutions hidden or shown, gated ones included.

The switch is sphinx-exercise's own option `hide_solutions`, true in `_config.yml`
(the student build, `make book`). `make book-teacher` sets the environment variable
`BOOK_TEACHER=1`, which this Sphinx extension reads at `config-inited` to set
`hide_solutions` to false (jupyter-book has no command-line override for one value).

sphinx-exercise 1.2.1 hides plain `{solution}` directives, but with `hide_solutions`
a gated `{solution-start}` ... `{solution-end}` pair (a solution that runs code, the
house style) crashes the HTML writer on the orphaned end node
(executablebooks/sphinx-exercise issue 89). Here `{solution-start}` is re-registered
(Sphinx's `add_directive(..., override=True)`) to leave a marker when the solution is
hidden, and a transform removes everything from that marker to its `{solution-end}`,
code cells included, before sphinx-exercise merges the gated pairs.
"""
import os

from docutils import nodes
from sphinx.transforms import SphinxTransform
from sphinx_exercise.directive import SolutionStartDirective
from sphinx_exercise.nodes import solution_end_node


class hidden_solution_start(nodes.Element):
    """Where a hidden gated solution began; removed by RemoveHiddenGatedSolutions."""


class SolutionStart(SolutionStartDirective):
    """`{solution-start}` that leaves a marker when the solution is hidden."""

    def run(self):
        result = super().run()  # registers the start for sphinx-exercise's checks
        if self.config.hide_solutions or "hidden" in self.options:
            return [hidden_solution_start()]
        return result


class RemoveHiddenGatedSolutions(SphinxTransform):
    """Drop each hidden gated solution: its marker, its content, its end node."""

    # after sphinx-exercise's CheckGatedDirectives (1), before MergeGatedSolutions (10)
    default_priority = 9

    def apply(self):
        for marker in list(self.document.findall(hidden_solution_start)):
            parent = marker.parent
            start = parent.index(marker)
            end = next((k for k in range(start, len(parent))
                        if isinstance(parent[k], solution_end_node)), None)
            if end is None:  # sphinx-exercise's own check reports the missing end
                parent.remove(marker)
                continue
            del parent[start:end + 1]


def _teacher_switch(app, config):
    if os.environ.get("BOOK_TEACHER") == "1":
        config.hide_solutions = False


def setup(app):
    app.setup_extension("sphinx_exercise")  # so that our override comes after it
    app.add_directive("solution-start", SolutionStart, override=True)
    app.add_transform(RemoveHiddenGatedSolutions)
    app.connect("config-inited", _teacher_switch)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
