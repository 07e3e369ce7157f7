"""The console's files as the content security policy needs them: no inline script, handler or style, nothing
from another origin, every module and stylesheet a page names present in the package."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

CONSOLE = Path(__file__).resolve().parents[2] / "functions" / "gatekey" / "console"
PAGES = sorted(CONSOLE.glob("*.html"))
MODULES = sorted(CONSOLE.glob("*.js"))


class PageParts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.references: list[str] = []
        self.scripts: list[str] = []
        self.labelled_ids: set[str] = set()
        self.field_ids: list[str] = []
        self.open_labels = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name, _ in attrs:
            if name.startswith("on"):
                self.problems.append(f"inline handler {name} on <{tag}>")
            if name == "style":
                self.problems.append(f"style attribute on <{tag}>")
        if tag == "style":
            self.problems.append("a <style> element")
        if tag == "script":
            if not attributes.get("src") or attributes.get("type") != "module":
                self.problems.append("a script that is not an ES module file")
            self.scripts.append(attributes.get("src") or "")
        for name in ("src", "href"):
            value = attributes.get(name)
            if value and not value.startswith("#"):
                self.references.append(value)
        if tag == "label":
            self.open_labels += 1
            self.labelled_ids.add(attributes.get("for") or "")
        if tag in ("input", "select", "textarea") and attributes.get("type") != "hidden":
            # A field inside its <label> is labelled by it; any other needs a <label for> naming its id.
            self.field_ids.append("" if self.open_labels else attributes.get("id") or "(a field without an id)")

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.open_labels -= 1


def parts_of(page: Path) -> PageParts:
    parser = PageParts()
    parser.feed(page.read_text())
    return parser


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_a_page_has_no_inline_code_or_style_and_names_only_its_own_files(page: Path) -> None:
    parts = parts_of(page)
    assert not parts.problems
    assert len(parts.scripts) == 1, "one module per page"
    for reference in parts.references:
        path = reference.split("?")[0]
        assert "//" not in reference and (CONSOLE / path).is_file(), reference


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_field_of_a_page_has_a_label(page: Path) -> None:
    parts = parts_of(page)
    assert set(parts.field_ids) <= parts.labelled_ids


@pytest.mark.parametrize("module", MODULES, ids=lambda module: module.name)
def test_a_module_imports_only_the_consoles_modules_and_reaches_no_other_origin(module: Path) -> None:
    source = module.read_text()
    for imported in re.findall(r'from "([^"]+)"', source):
        assert imported.startswith("./") and (CONSOLE / imported).is_file(), imported
    assert not re.search(r"https?://", source)
    assert "innerHTML" not in source  # text from the API is never read as HTML
    assert not re.search(r"sessionStorage|indexedDB|document\.cookie", source)  # no secret kept in the browser
