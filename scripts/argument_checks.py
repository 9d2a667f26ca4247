"""How much of `utils/` is argument checking: the share of code lines that are `require_*` calls or
`if ...: raise ValueError/TypeError` blocks (issue 18 asks for two thirds of the 12% it started at, or less).

    python -m scripts.argument_checks            # the share, and the ten files with the most check lines
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECK_CALLS = ("require_", "_require_", "_check_")
CHECK_ERRORS = {"ValueError", "TypeError"}


def code_lines(source: str) -> set[int]:
    """Line numbers holding code: not blank, not only a comment, not a docstring."""
    lines = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            lines.update(range(tok.start[0], tok.end[0] + 1))
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                lines -= set(range(body[0].lineno, body[0].end_lineno + 1))
    return lines


def _raises_argument_error(statement: ast.stmt) -> bool:
    if not isinstance(statement, ast.Raise) or statement.exc is None:
        return False
    exc = statement.exc.func if isinstance(statement.exc, ast.Call) else statement.exc
    return isinstance(exc, ast.Name) and exc.id in CHECK_ERRORS


def check_lines(source: str) -> set[int]:
    """Line numbers of argument checks: calls to require_*/_check_* helpers and `if ...: raise ValueError/TypeError`."""
    lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            func = node.value.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name.startswith(CHECK_CALLS):
                lines.update(range(node.lineno, node.end_lineno + 1))
        elif isinstance(node, ast.If) and len(node.body) == 1 and _raises_argument_error(node.body[0]):
            lines.update(range(node.lineno, node.end_lineno + 1))
    return lines


def measure(root: Path = ROOT / "utils") -> dict[str, tuple[int, int]]:
    """{file: (check lines, code lines)} for every module under `root`."""
    result = {}
    for path in sorted(root.rglob("*.py")):
        source = path.read_text()
        code = code_lines(source)
        result[str(path.relative_to(root.parent))] = (len(check_lines(source) & code), len(code))
    return result


def check_share(root: Path = ROOT / "utils") -> float:
    """The share of code lines under `root` that are argument checks."""
    counts = measure(root).values()
    return sum(c for c, _ in counts) / sum(n for _, n in counts)


def main() -> None:
    counts = measure()
    checks, code = sum(c for c, _ in counts.values()), sum(n for _, n in counts.values())
    print(f"{checks} of {code} code lines in utils/ are argument checks: {checks / code:.1%}")
    for name, (c, n) in sorted(counts.items(), key=lambda item: -item[1][0])[:10]:
        print(f"  {c:4d} / {n:4d}  {name}")


if __name__ == "__main__":
    sys.exit(main())
