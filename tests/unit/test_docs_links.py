"""Nothing in the repository points at a file that is not in it: Markdown links and docs/… mentions in code."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIP = {".venv", "node_modules", ".git", "static", "instance", "tests/artifacts"}
LINK = re.compile(r"\]\(([^)\s]+)\)")
MENTION = re.compile(r"\b((?:docs/)[\w./-]+\.md|ARCHITECTURE\.md|CONTRIBUTING\.md|README\.md)")


def files(pattern: str):
    for path in ROOT.rglob(pattern):
        rel = path.relative_to(ROOT).as_posix()
        if not any(rel == s or rel.startswith(s + "/") for s in SKIP):
            yield path


def slug(heading: str) -> str:
    text = re.sub(r"[^\w\s-]", "", heading.strip().lower())
    return re.sub(r"\s", "-", text)


def anchors(path: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in path.read_text().splitlines() if line.startswith("#")}


def test_markdown_links_point_at_files_and_headings_that_exist():
    broken = []
    for md in files("*.md"):
        for target in LINK.findall(md.read_text()):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            name, _, anchor = target.partition("#")
            dest = (md.parent / name).resolve() if name else md
            if not dest.exists():
                broken.append(f"{md.relative_to(ROOT)} → {target}")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                broken.append(f"{md.relative_to(ROOT)} → {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_code_mentions_only_documents_that_exist():
    missing = []
    for source in [*files("*.py"), *files("*.toml"), *files("*.html")]:
        for name in MENTION.findall(source.read_text()):
            if not (ROOT / name).exists():
                missing.append(f"{source.relative_to(ROOT)} mentions {name}")
    assert not missing, "\n".join(missing)
