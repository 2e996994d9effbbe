"""Every ```python block of README.md and docs/*.md runs, doctest-style: the blocks of one file
run in order in one namespace, against two simulators. A renamed method fails here.

Base URLs in the blocks are pointed at the simulators (api.openai.com and a.example at blue,
any other host at green). A block that is not meant to run says so on its fence line:
```python no-run <why> — the reason is required."""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO, Sim

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(?P<lang>[a-z]+)(?P<info>[^\n]*)\n(?P<code>.*?)^```$", re.M | re.S)
URL = re.compile(r"https://(?P<host>[A-Za-z0-9.-]+)/v1")
BLUE_HOSTS = {"api.openai.com", "a.example"}


def blocks(path: Path, lang: str) -> list[tuple[int, str, str]]:
    """The ``lang`` blocks of ``path``: (line, info after the language, code)."""
    text = path.read_text()
    out = []
    for m in FENCE.finditer(text):
        if m.group("lang") == lang:
            out.append((text.count("\n", 0, m.start()) + 1, m.group("info").strip(), m.group("code")))
    return out


def docs_with(lang: str) -> list[Path]:
    return [p for p in DOCS if blocks(p, lang)]


def pointed(code: str, blue: Sim, green: Sim) -> str:
    return URL.sub(lambda m: blue.url if m.group("host") in BLUE_HOSTS else green.url, code)


@pytest.mark.parametrize("doc", docs_with("python"), ids=lambda p: str(p.relative_to(REPO)))
def test_python_blocks_run(doc: Path, sim_factory: Any, capsys: pytest.CaptureFixture[str]) -> None:
    blue, green = sim_factory(), sim_factory()
    namespace: dict[str, Any] = {"__name__": "__doc__"}
    ran = 0
    for line, info, code in blocks(doc, "python"):
        if info.startswith("no-run"):
            assert info.removeprefix("no-run").strip(), f"{doc.name}:{line}: no-run needs a reason"
            continue
        source = pointed(code, blue, green)
        compiled = compile(source, f"{doc.name}:{line}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        try:
            result = eval(compiled, namespace)  # noqa: S307 - the docs' own code
            if inspect.iscoroutine(result):
                asyncio.run(result)
        except Exception as e:
            pytest.fail(f"{doc.name}:{line}: {type(e).__name__}: {e}")
        ran += 1
    for value in namespace.values():
        close = getattr(value, "close", None)
        if type(value).__module__.startswith("turnout") and callable(close):
            closing = close()
            if inspect.iscoroutine(closing):
                asyncio.run(closing)
    with capsys.disabled():
        print(f"\n{doc.relative_to(REPO)}: ran {ran} python blocks")
    assert ran > 0


def test_the_docs_have_python_blocks() -> None:
    assert len(docs_with("python")) >= 2
