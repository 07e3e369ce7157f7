"""The layers of STYLE.md: the domain states what it needs (Protocols); storage provides it; never the reverse."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "functions" / "gatekey" / "domain"


def _imported_modules(path: Path) -> set[str]:
    """Every module the file imports, including under `if TYPE_CHECKING:` and inside functions."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return modules


@pytest.mark.parametrize("module", sorted(DOMAIN.glob("*.py")), ids=lambda path: path.name)
def test_the_domain_imports_neither_storage_nor_the_api_nor_aws(module: Path) -> None:
    outer_layers = ("gatekey.storage", "gatekey.api", "gatekey.handlers", "gatekey.local", "boto3", "botocore")
    outward = {
        name for name in _imported_modules(module) if any(name == o or name.startswith(o + ".") for o in outer_layers)
    }
    assert outward == set(), f"{module.name} reaches out of the domain: {sorted(outward)}"
