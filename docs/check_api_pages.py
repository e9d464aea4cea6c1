"""Check the built HTML: every public name of every namespace has its own page with a description.

Run after the build, from the repository root::

    python -m sphinx -W --keep-going -b html docs docs/_build/html
    python docs/check_api_pages.py docs/_build/html

The names come from the package (``api_names.py``: each namespace's ``__all__``, or what a module without
one defines), so a function added to a namespace fails this check until the build gives it a page, and it
fails while its docstring (for a constant: its ``#:`` comment) is empty. Exits 1 listing what is missing.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
from html.parser import HTMLParser
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # api_names
sys.path.insert(0, str(HERE.parent))  # the package beside these docs, as conf.py imports it

from api_names import NAMESPACES, all_documented  # noqa: E402


class _Description(HTMLParser):
    """Text of the ``<dd>`` that follows ``<dt id=target>``: the object's rendered description."""

    def __init__(self, target: str):
        super().__init__()
        self.target = target
        self.found = False  # the <dt id=target> was seen
        self.state = "before"  # before -> in_dt -> after_dt -> in_dd -> done
        self.depth = 0
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if self.state == "before" and tag == "dt" and dict(attrs).get("id") == self.target:
            self.found, self.state = True, "in_dt"
        elif self.state == "after_dt" and tag == "dd":
            self.state, self.depth = "in_dd", 1
        elif self.state == "in_dd" and tag == "dd":
            self.depth += 1

    def handle_endtag(self, tag):
        if self.state == "in_dt" and tag == "dt":
            self.state = "after_dt"
        elif self.state == "in_dd" and tag == "dd":
            self.depth -= 1
            if self.depth == 0:
                self.state = "done"

    def handle_data(self, data):
        if self.state == "in_dd":
            self.text.append(data)


def _own_docstring(obj: object) -> bool:
    """Whether a function or class has a docstring of its own (a class's rendered page also holds its
    bases, and a dataclass without a docstring gets its signature as one)."""
    doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
    if inspect.isclass(obj) and dataclasses.is_dataclass(obj) and (doc or "").startswith(f"{obj.__name__}("):
        return False
    return bool((doc or "").strip())


def check(html_dir: Path) -> list[str]:
    problems = []
    for modname, _ in NAMESPACES:
        if not (html_dir / "api" / f"{modname}.html").is_file():
            problems.append(f"{modname}: no namespace page api/{modname}.html")
    for fullname, obj in all_documented():
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and not _own_docstring(obj):
            problems.append(f"{fullname}: no docstring")
        page = html_dir / "api" / "generated" / f"{fullname}.html"
        if not page.is_file():
            problems.append(f"{fullname}: no page {page.relative_to(html_dir)}")
            continue
        parser = _Description(fullname)
        parser.feed(page.read_text(encoding="utf-8"))
        if not parser.found:
            problems.append(f"{fullname}: its page does not document it (no anchor id={fullname!r})")
        elif not "".join(parser.text).strip():
            problems.append(f"{fullname}: documented without a description (empty docstring?)")
    return problems


def main(argv: list[str]) -> int:
    html_dir = Path(argv[1] if len(argv) > 1 else HERE / "_build" / "html")
    if not (html_dir / "index.html").is_file():
        print(f"check_api_pages: no built HTML in {html_dir} (build the docs first)", file=sys.stderr)
        return 1
    problems = check(html_dir)
    n_names = len(all_documented())
    if problems:
        print(f"check_api_pages: {len(problems)} of {n_names} public names lack a documented page:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print(f"check_api_pages: {n_names} public names in {len(NAMESPACES)} namespaces, each with its own page")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
