"""The integrator docs: generated pages stay current and no link points nowhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from oauth_apps.management.commands.scope_docs import scope_docs

PROJECT = Path(__file__).resolve().parent.parent
DOCUMENTS = [PROJECT / "README.md", *sorted((PROJECT / "docs").glob("*.md")), PROJECT / "bench" / "README.md"]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def heading_anchors(markdown: str) -> set[str]:
    """GitHub's anchors: lower case, punctuation dropped, spaces as hyphens."""
    anchors = set()
    for heading in re.findall(r"^#+\s+(.*)$", markdown, flags=re.MULTILINE):
        text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
        anchors.add(text.replace(" ", "-"))
    return anchors


def test_the_scopes_page_matches_the_scope_table(db):
    assert (PROJECT / "docs" / "scopes.md").read_text() == scope_docs(), (
        "run: manage.py scope_docs --output docs/scopes.md"
    )


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(PROJECT)))
def test_every_link_resolves(document):
    text = document.read_text()
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        linked = (document.parent / path).resolve() if path else document
        assert linked.exists(), f"{document.name}: {target} does not exist"
        if anchor:
            assert anchor in heading_anchors(linked.read_text()), f"{document.name}: no heading for #{anchor}"
