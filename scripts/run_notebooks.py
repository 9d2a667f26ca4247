"""Execute the course notebooks headless with papermill and report time, peak memory and status.

Usage:
    python scripts/run_notebooks.py                      # every numbered notebook, full mode
    python scripts/run_notebooks.py --smoke              # the same in smoke mode (LLM_COURSE_SMOKE=1)
    python scripts/run_notebooks.py notebooks/week1-transformers/01-tokenization.ipynb

Each notebook runs with the kernel "python3" in its own folder (as a learner would run it) and the
executed copy goes to build/<path under notebooks/> (build/smoke/<...> in smoke mode, so the two
never overwrite each other). The mode is full unless LLM_COURSE_SMOKE=1 is set or --smoke is given.
At the end a table lists notebook, seconds, peak RAM of the kernel's process tree (MiB, sampled
every 0.1 s) and status; the same rows go to <out>/run-report.json and <out>/run-report.md.
In full mode each numbered notebook's records must also satisfy its claims in scripts/notebook_claims.py (the
results its prose states); a broken claim fails the notebook. The exit status is 1 if any notebook failed.

The tests import `execute_notebook` and `numbered_notebooks` from here (`scripts.run_notebooks`), so the
harness and this script measure the same thing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

if __package__ in (None, ""):  # run as `python scripts/run_notebooks.py`: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.notebook_claims import check_claims
from utils.course.runtime import SMOKE_ENV, read_records, smoke_mode

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
BUILD_DIR = REPO_ROOT / "build"
KERNEL_NAME = "python3"
NUMBERED = re.compile(r"^\d\d")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: Longest socket path used for the kernel's ipc transport: AF_UNIX paths hold 107 bytes on Linux, 103 on macOS.
MAX_SOCKET_PATH = 100

#: Turns the papermill command line (argv) into the one actually run, e.g. inside a network namespace.
Wrapper = Callable[[list[str]], list[str]]


def is_numbered(path: Path) -> bool:
    """A course notebook: its file name starts with two digits (`_template.ipynb` does not)."""
    return path.suffix == ".ipynb" and bool(NUMBERED.match(path.name))


def numbered_notebooks(root: Path = NOTEBOOKS_DIR) -> list[Path]:
    """Every numbered notebook under `root`, sorted by path; new notebooks are picked up automatically."""
    found = [p for p in root.rglob("*.ipynb") if is_numbered(p) and ".ipynb_checkpoints" not in p.parts]
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def relative_name(path: Path) -> str:
    """The notebook's path under notebooks/ (or under the repo; just its file name for notebooks elsewhere)."""
    path = path.resolve()
    for base in (NOTEBOOKS_DIR, REPO_ROOT):
        try:
            return path.relative_to(base).as_posix()
        except ValueError:
            continue
    return path.name


class PeakMemory:
    """Context manager sampling the summed RSS of this process's children (the kernel tree) in a thread."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.peak_bytes = 0
        self._me = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_loop, name="peak-memory", daemon=True)

    def _sample(self) -> None:
        total = 0
        for child in self._me.children(recursive=True):
            try:
                total += child.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        self.peak_bytes = max(self.peak_bytes, total)

    def _sample_loop(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    @property
    def peak_mib(self) -> float:
        return self.peak_bytes / 2**20

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class RunResult:
    """What happened when one notebook ran."""

    notebook: str
    output: str
    seconds: float
    peak_mib: float
    error: str | None = None  # first line of the error, None when the notebook finished
    details: str = ""  # the failing cell and the end of its traceback, for test messages
    records: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def status(self) -> str:
        return "ok" if self.ok else f"FAILED: {self.error}"

    def explain(self) -> str:
        """A multi-line account of a failure, for test messages."""
        if self.ok:
            return f"{self.notebook} finished in {self.seconds:.1f} s"
        head = f"{self.notebook} failed after {self.seconds:.1f} s: {self.error}"
        return f"{head}\nexecuted copy: {self.output}\n{self.details}"

    def row(self) -> dict[str, Any]:
        return {
            "notebook": self.notebook,
            "seconds": round(self.seconds, 1),
            "peak_mib": round(self.peak_mib),
            "status": self.status,
        }


def _first_line(text: str) -> str:
    lines = [line.strip() for line in ANSI.sub("", text).splitlines() if line.strip()]
    return lines[0] if lines else ""


def _read_outcome(executed: Path) -> tuple[dict[str, Any], str | None, str]:
    """Records, first error line and error details from an executed (possibly partly) notebook."""
    try:
        nb = json.loads(executed.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}, None, ""
    records = read_records(executed)
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                ename, evalue = out.get("ename", "Error"), out.get("evalue", "")
                error = f"{ename}: {_first_line(evalue)}" if _first_line(evalue) else ename
                source = cell.get("source", "")
                source = "".join(source) if isinstance(source, list) else source
                trace = ANSI.sub("", "\n".join(out.get("traceback", [])))
                tail = "\n".join(trace.splitlines()[-15:])
                where = f"failing cell, In [{cell.get('execution_count')}]"
                details = f"{where}:\n{source}\n--- end of traceback ---\n{tail}"
                return records, error, details
    return records, None, ""


@contextmanager
def kernel_transport() -> Iterator[dict[str, Any]]:
    """Extra papermill arguments that let the kernel talk over local socket files instead of TCP.

    Over TCP (the default) every kernel logs "Kernel is running over TCP without encryption ..." once, i.e. once per
    notebook in `make run`. ZeroMQ's `ipc` transport, which that warning recommends, uses socket files; they go to a
    fresh private temporary folder (mode 0700, removed afterwards), never into the notebook's folder, so concurrent
    runs cannot collide. Where ZeroMQ has no ipc support (Windows) or the path would be too long, this yields {} and
    the kernel uses TCP as before.
    """
    import zmq
    from traitlets.config import Config

    if not zmq.has("ipc"):
        yield {}
        return
    folder = tempfile.mkdtemp(prefix="llm-course-kernel-")
    try:
        prefix = os.path.join(folder, "kernel")  # ZeroMQ appends "-1", "-2", ... for the five channels
        if len(prefix) + 4 > MAX_SOCKET_PATH:
            yield {}
        else:
            yield {"config": Config({"KernelManager": {"transport": "ipc", "ip": prefix}})}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _papermill_argv(src: Path, dst: Path, cwd: Path, timeout: float | None) -> list[str]:
    argv = [sys.executable, "-m", "papermill", str(src), str(dst), "--cwd", str(cwd), "-k", KERNEL_NAME]
    argv += ["--no-progress-bar", "--no-log-output"]
    if timeout is not None:
        argv += ["--execution-timeout", str(int(timeout))]
    return argv


def execute_notebook(
    src: Path,
    dst: Path,
    *,
    cwd: Path | None = None,
    timeout: float | None = None,
    wrapper: Wrapper | None = None,
) -> RunResult:
    """Run notebook `src` with papermill into `dst` (cwd: the notebook's folder) and measure it.

    The kernel inherits os.environ, so set LLM_COURSE_SMOKE before calling to pick the mode.
    `timeout` limits each cell (seconds). Without `wrapper`, papermill runs in this process (the kernel then talks to
    it over socket files where it can, see `kernel_transport`, so it logs no TCP warning); with one,
    papermill's command line goes through `wrapper` and runs as a subprocess (peak memory then also
    counts papermill's own process). Errors are reported in the result, never raised.
    """
    src, dst = Path(src).resolve(), Path(dst).resolve()
    cwd = Path(cwd).resolve() if cwd is not None else src.parent
    if dst == src:
        raise ValueError(f"the output path must differ from the notebook itself, got {dst} for both.")
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.unlink(missing_ok=True)
    error: str | None = None
    details = ""
    start = time.perf_counter()
    with PeakMemory() as memory:
        if wrapper is None:
            import papermill

            try:
                with kernel_transport() as transport:
                    papermill.execute_notebook(
                        str(src),
                        str(dst),
                        kernel_name=KERNEL_NAME,
                        cwd=str(cwd),
                        progress_bar=False,
                        log_output=False,
                        execution_timeout=timeout,
                        **transport,
                    )
            except Exception as err:  # any failure becomes a FAILED row, never a crash of the runner
                error = f"{type(err).__name__}: {_first_line(str(err))}"
                details = ANSI.sub("", str(err))[-3000:]
        else:
            proc = subprocess.run(
                wrapper(_papermill_argv(src, dst, cwd, timeout)), capture_output=True, text=True, check=False
            )
            if proc.returncode != 0:
                stderr = ANSI.sub("", proc.stderr).strip()
                last = stderr.splitlines()[-1] if stderr else ""
                error = f"papermill exited with status {proc.returncode}: {last}".strip()
                details = stderr[-3000:]
    seconds = time.perf_counter() - start
    records, cell_error, cell_details = _read_outcome(dst)
    if error is not None and cell_error is not None:  # prefer the notebook's own exception
        error, details = cell_error, cell_details
    return RunResult(
        notebook=relative_name(src),
        output=str(dst),
        seconds=seconds,
        peak_mib=memory.peak_mib,
        error=error,
        details=details,
        records=records,
    )


def netns_wrapper(prefix: Sequence[str]) -> Wrapper:
    """A wrapper that runs a command in a fresh network namespace (`prefix`, e.g. ["unshare", "-n"]).

    Only the loopback interface exists there, brought up so the kernel can talk to papermill.
    """

    def wrap(argv: list[str]) -> list[str]:
        return [*prefix, "sh", "-c", f"ip link set lo up && exec {shlex.join(argv)}"]

    return wrap


def format_table(results: Sequence[RunResult]) -> str:
    headers = ("notebook", "seconds", "peak RAM (MiB)", "status")
    rows = [(r.notebook, f"{r.seconds:.1f}", f"{r.peak_mib:.0f}", r.status) for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    right = (False, True, True, False)

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=True))

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(row) for row in rows)]).rstrip()


def format_markdown(results: Sequence[RunResult], mode: str) -> str:
    lines = [
        f"# Notebook run report ({mode} mode)",
        "",
        "| notebook | seconds | peak RAM (MiB) | status |",
        "|---|---:|---:|---|",
    ]
    for r in results:
        status = r.status.replace("|", "\\|")
        lines.append(f"| {r.notebook} | {r.seconds:.1f} | {r.peak_mib:.0f} | {status} |")
    return "\n".join(lines) + "\n"


def write_reports(results: Sequence[RunResult], out_dir: Path, mode: str) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {
        "mode": mode,
        "python": sys.version.split()[0],
        "rows": [{**r.row(), "records": r.records, "output": r.output} for r in results],
    }
    json_path, md_path = out_dir / "run-report.json", out_dir / "run-report.md"
    json_path.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    md_path.write_text(format_markdown(results, mode), encoding="utf-8")
    for row in report["rows"]:  # one small report beside each executed copy, kept when other notebooks run later
        Path(row["output"]).with_suffix(".run.json").write_text(json.dumps({"mode": mode, **row}, indent=1) + "\n")
    return json_path, md_path


def check_full_mode_claims(result: RunResult, notebook: Path) -> None:
    """Mark a finished full-mode run failed when a claim of scripts/notebook_claims.py does not hold for its records.

    Only numbered notebooks carry claims; a run that already failed keeps its own error.
    """
    if not result.ok or not is_numbered(notebook):
        return
    problems = check_claims(notebook.stem, result.records)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        result.error = f"claim broken: {problems[0]}{more}"
        result.details = "\n".join(problems)
        print("\n".join(f"  claim broken: {problem}" for problem in problems), flush=True)


def _select(paths: Sequence[Path]) -> list[Path]:
    if not paths:
        return numbered_notebooks()
    selected: list[Path] = []
    for path in paths:
        if path.is_dir():
            selected += numbered_notebooks(path)
        elif path.is_file() and path.suffix == ".ipynb":
            selected.append(path)  # named explicitly: run it even if it is not numbered (e.g. the template)
        else:
            raise FileNotFoundError(f"{path} is neither a notebook (.ipynb) nor a folder.")
    return selected


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks or folders (default: all numbered notebooks)")
    parser.add_argument("--smoke", action="store_true", help=f"run in smoke mode (sets {SMOKE_ENV}=1)")
    parser.add_argument("--out", type=Path, help="output folder (default: build/, or build/smoke/ in smoke mode)")
    parser.add_argument("--timeout", type=float, default=None, help="per-cell time limit in seconds (default: none)")
    args = parser.parse_args(argv)
    if args.smoke:
        os.environ[SMOKE_ENV] = "1"
    mode = "smoke" if smoke_mode() else "full"
    out_dir = (args.out or (BUILD_DIR / "smoke" if mode == "smoke" else BUILD_DIR)).resolve()
    try:
        notebooks = _select(args.paths)
    except FileNotFoundError as err:
        parser.error(str(err))
    if not notebooks:
        print("No numbered notebooks found.")
        return 0
    print(f"Running {len(notebooks)} notebook(s) in {mode} mode; executed copies go to {out_dir}", flush=True)
    results: list[RunResult] = []
    for i, src in enumerate(notebooks, start=1):
        name = relative_name(src)
        print(f"[{i}/{len(notebooks)}] {name} ...", flush=True)
        result = execute_notebook(src, out_dir / name, timeout=args.timeout)
        if mode == "full":
            check_full_mode_claims(result, src)
        results.append(result)
        print(f"[{i}/{len(notebooks)}] {name}: {result.status} ({result.seconds:.1f} s)", flush=True)
    print()
    print(format_table(results))
    json_path, md_path = write_reports(results, out_dir, mode)
    failed = [r for r in results if not r.ok]
    print(f"\n{len(results) - len(failed)} ok, {len(failed)} failed. Report: {json_path} and {md_path.name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
