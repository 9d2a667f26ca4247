"""Rewrite the notebook table in README.md from the measured run reports.

    python scripts/run_notebooks.py            # full mode  -> build/run-report.json
    python scripts/run_notebooks.py --smoke    # smoke mode -> build/smoke/run-report.json
    python -m scripts.update_readme            # table between the README's notebook-table markers (make readme)

`run_notebooks.py` leaves a `<notebook>.run.json` beside each executed copy under build/; the newest of them per
notebook and mode is used. Numbers in the table are only ever copied from those reports: a notebook with no new
report keeps the numbers the README already shows for it (so measuring one notebook does not wipe the others), and
a notebook never measured shows "-". The Colab badges name the repository from pyproject.toml's [project.urls]
(see scripts/sync_notebook_links.py).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from scripts.run_notebooks import BUILD_DIR, NOTEBOOKS_DIR, REPO_ROOT, numbered_notebooks, relative_name
from scripts.sync_notebook_links import Repository, repository

README = REPO_ROOT / "README.md"
START, END = "<!-- notebook-table:start -->", "<!-- notebook-table:end -->"


def measured_rows(build_dir: Path = BUILD_DIR) -> dict[str, dict[str, dict]]:
    """{mode: {notebook: row}} from the per-notebook reports under `build_dir`, newer overriding older."""
    rows: dict[str, dict[str, dict]] = {"full": {}, "smoke": {}}
    for report in sorted(build_dir.rglob("*.run.json"), key=lambda p: p.stat().st_mtime):
        row = json.loads(report.read_text())
        if row["status"] == "ok":
            rows.setdefault(row["mode"], {})[row["notebook"]] = row
    return rows


def _title_and_promise(notebook: Path) -> tuple[str, str]:
    """The notebook's title (without its number) and its one-line promise (the first paragraph after it)."""
    first = json.loads(notebook.read_text())["cells"][0]
    lines = "".join(first["source"]).splitlines()
    title = re.sub(r"^#\s*\d+\s*·\s*", "", lines[0]).strip()
    paragraph: list[str] = []
    for line in lines[1:]:
        if line.strip():
            paragraph.append(line.strip())
        elif paragraph:
            break
    return title, " ".join(paragraph)


def _seconds(row: dict | None) -> str:
    return "-" if row is None else f"{row['seconds']:.0f} s"


ROW = re.compile(
    r"^\| \d\d \| \[[^\]]*\]\(notebooks/(?P<name>[^)]+)\) \|.*"
    r"\| (?P<full>[^|]+) \| (?P<smoke>[^|]+) \| (?P<ram>[^|]+) \| \[!\[Open"
)


def shown_numbers(text: str) -> dict[str, tuple[str, str, str]]:
    """{notebook: (full run, smoke run, peak RAM)} as the README's table shows them now."""
    shown = {}
    for line in text.splitlines():
        match = ROW.match(line)
        if match:
            shown[match["name"]] = (match["full"].strip(), match["smoke"].strip(), match["ram"].strip())
    return shown


def build_table(
    full: dict[str, dict],
    smoke: dict[str, dict],
    shown: dict[str, tuple[str, str, str]] | None = None,
    repo: Repository | None = None,
) -> str:
    """Markdown table: number, title, promise, full and smoke seconds, peak RAM (full run), Colab badge.

    `shown` (from `shown_numbers`) supplies the numbers of a notebook that has no new report; `repo` (default: the
    one pyproject.toml names) the repository the badges open."""
    shown = shown or {}
    repo = repo or repository()
    lines = [
        "| # | notebook | what you will do | full run | smoke run | peak RAM | Colab |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for notebook in numbered_notebooks():
        name = relative_name(notebook)
        title, promise = _title_and_promise(notebook)
        row_full, row_smoke = full.get(name), smoke.get(name)
        old_full, old_smoke, old_ram = shown.get(name, ("-", "-", "-"))
        ram = old_ram if row_full is None else f"{row_full['peak_mib'] / 1024:.1f} GiB"
        full_seconds = old_full if row_full is None else _seconds(row_full)
        smoke_seconds = old_smoke if row_smoke is None else _seconds(row_smoke)
        link = f"[{title}](notebooks/{name})"
        badge = repo.colab_badge(f"notebooks/{name}")
        number = notebook.name[:2]
        lines.append(f"| {number} | {link} | {promise} | {full_seconds} | {smoke_seconds} | {ram} | {badge} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md is out of date; write nothing")
    args = parser.parse_args(argv)
    text = README.read_text()
    if START not in text or END not in text:
        print(f"README.md must contain the markers {START} and {END}.", file=sys.stderr)
        return 2
    rows = measured_rows()
    table = build_table(rows["full"], rows["smoke"], shown_numbers(text))
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{START}\n{table}\n{END}{tail}"
    if args.check:
        return 0 if new == text else 1
    README.write_text(new)
    print(f"README.md table updated for {len(numbered_notebooks(NOTEBOOKS_DIR))} notebooks.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
