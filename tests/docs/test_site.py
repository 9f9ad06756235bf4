"""The documentation site (mkdocs.yml, docs/) and the README's links into it: built strict, so no link or anchor rots,
and complete where the code can say what it must name (every stream, table, column and setting)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
SQL = REPO / "include" / "bolsync" / "warehouse" / "sql"
#: The README is the front door; the rest belongs on the site.
README_MAX_LINES = 200
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*$", re.MULTILINE)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built once with ``mkdocs build --strict`` (every warning fails the build)."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(REPO / "mkdocs.yml"),
         "--site-dir", str(out)],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=120,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"mkdocs build --strict failed (fix what it names):\n{output}"
    assert "WARNING" not in output, f"mkdocs build --strict warned:\n{output}"
    return out


def test_the_site_builds_strict_with_every_page_in_the_navigation(site: Path) -> None:
    pages = sorted(path.relative_to(DOCS).as_posix() for path in DOCS.glob("*.md"))
    built = [page for page in pages if html_of(site, page).is_file()]
    assert built == pages


def test_readme_links_resolve_on_github_and_on_the_site(site: Path) -> None:
    """Every relative link of the README names a file of the repository; one into docs/ names an anchor the page
    has, under GitHub's spelling of it and the site's."""
    problems = []
    for target in LINK.findall((REPO / "README.md").read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        file = (REPO / path) if path else REPO / "README.md"
        if not file.exists():
            problems.append(f"README.md links to {target}: no file {path}")
            continue
        if anchor:
            problems += anchor_problems("README.md", target, file, anchor, site)
    assert problems == []


def test_links_between_pages_work_on_github_too() -> None:
    """GitHub shows docs/*.md as they are: an anchor must be GitHub's slug of a heading there (the strict build
    checks the site's)."""
    problems = []
    for page in sorted(DOCS.glob("*.md")):
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            path, _, anchor = target.partition("#")
            if re.match(r"[a-z]+:", target) or not anchor:
                continue
            file = (page.parent / path) if path else page
            if anchor not in github_slugs(file):
                problems.append(f"{page.name} links to {target}: GitHub names no heading of {file.name} so")
    assert problems == []


def test_the_readme_stays_a_front_door() -> None:
    lines = (REPO / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move the detail to a page of docs/"


def test_every_stream_of_the_registry_has_its_section() -> None:
    from bolsync.streams.registry import STREAMS

    headings = [text.lower() for level, text in HEADING.findall(read("streams.md")) if level == "##"]
    missing = [name for name in STREAMS if not any(re.search(rf"\b{name}\b", text) for text in headings)]
    assert missing == [], f"docs/streams.md has no '## ...' section naming the stream(s) {missing}"


def test_every_table_and_column_of_the_migrations_is_documented() -> None:
    sections = table_sections(read("warehouse.md"))
    problems = []
    for table, columns in migration_tables().items():
        if table not in sections:
            problems.append(f"{table}: no '### {table}' section in docs/warehouse.md")
            continue
        problems += [
            f"{table}.{column}: not in its section of docs/warehouse.md"
            for column in columns
            if not re.search(rf"\b{column}\b", sections[table])
        ]
    assert problems == []


def test_every_setting_variable_and_extra_is_documented() -> None:
    from bolsync.personal.settings import READER_EXTRA, SCHEMA_EXTRA
    from bolsync.warehouse.extras import POSTGRES_OPTIONS
    from bolsync_provider.settings import PIPELINE_EXTRAS, PROVIDER_EXTRAS

    page = read("configuration.md")
    names = {*settings_in_code(), *PROVIDER_EXTRAS, *PIPELINE_EXTRAS, *POSTGRES_OPTIONS, SCHEMA_EXTRA, READER_EXTRA}
    missing = sorted(name for name in names if f"`{name}`" not in page)
    assert missing == [], f"docs/configuration.md does not name {missing}"


def read(page: str) -> str:
    return (DOCS / page).read_text(encoding="utf-8")


def html_of(site: Path, page: str) -> Path:
    """Where mkdocs (directory URLs) writes ``page``."""
    stem = page.removesuffix(".md")
    return site / "index.html" if stem == "index" else site / stem / "index.html"


def anchor_problems(source: str, target: str, file: Path, anchor: str, site: Path) -> list[str]:
    problems = []
    if anchor not in github_slugs(file):
        problems.append(f"{source} links to {target}: GitHub names no heading of {file.name} so")
    if file.parent == DOCS and anchor not in html_ids(html_of(site, file.name)):
        problems.append(f"{source} links to {target}: the site's page has no such anchor")
    return problems


def github_slugs(file: Path) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file (code spans and links read as their text)."""
    text = re.sub(r"```.*?```", "", file.read_text(encoding="utf-8"), flags=re.DOTALL)
    slugs = set()
    for _, heading in HEADING.findall(text):
        plain = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "")
        slugs.add(re.sub(r"[^\w\- ]", "", plain.strip().lower()).replace(" ", "-"))
    return slugs


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.ids.update(value for name, value in attrs if name == "id" and value)


def html_ids(page: Path) -> set[str]:
    parser = _Ids()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.ids


def table_sections(page: str) -> dict[str, str]:
    """``bol.<table>`` -> the text of its ``###`` section in docs/warehouse.md."""
    sections = {}
    parts = re.split(r"^(#{2,3} .*)$", page, flags=re.MULTILINE)
    for heading, body in zip(parts[1::2], parts[2::2], strict=True):
        found = re.search(r"\bbol\.\w+", heading)
        if heading.startswith("### ") and found:
            sections[found.group(0)] = body
    return sections


def migration_tables() -> dict[str, set[str]]:
    """Every table and view of schema ``bol`` the migrations leave, with its columns."""
    tables: dict[str, set[str]] = {}
    renamed: set[str] = set()
    for file in sorted(SQL.glob("*.sql")):
        sql = re.sub(r"--[^\n]*", "", file.read_text(encoding="utf-8"))
        for name, body in re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?(bol\.\w+)\s*\((.*?)\);", sql, flags=re.S):
            tables.setdefault(name, set()).update(
                column for column in re.findall(r"^\s*(\w+)\s+[A-Z]", body, flags=re.M) if column != "PRIMARY"
            )
        for name in re.findall(r"CREATE (?:OR REPLACE )?VIEW (?:IF NOT EXISTS )?(bol\.\w+)", sql):
            tables.setdefault(name, set())
        for name, column in re.findall(r"ALTER TABLE (bol\.\w+) ADD COLUMN (?:IF NOT EXISTS )?(\w+)", sql):
            tables.setdefault(name, set()).add(column)
        renamed.update(re.findall(r"ALTER TABLE (bol\.\w+) RENAME TO", sql))
    return {name: columns for name, columns in tables.items() if name not in renamed}


def settings_in_code() -> Iterator[str]:
    """The ``[bolsync]`` settings, Variables and environment variables the code reads, by their names there."""
    named = re.compile(r'^\w*(?:_SETTING|_KEY|_VARIABLE|_ENV)\s*=\s*"([A-Za-z_]+)"', re.MULTILINE)
    read_directly = re.compile(r'\bsetting\("([a-z_]+)"\)')
    for root in (REPO / "include" / "bolsync", REPO / "plugins" / "bolsync_provider"):
        for file in root.rglob("*.py"):
            text = file.read_text(encoding="utf-8")
            yield from named.findall(text)
            yield from read_directly.findall(text)
