"""The Tailwind classes of the UI are compiled into chat/ui/static/tailwind.css (NiceGUI's in-browser compiler is off).

A class added in Python that neither that file nor rooms.css nor Quasar defines would silently have no effect:
rebuild tailwind.css as chat/ui/tailwind.in.css says.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

CHAT = Path(__file__).resolve().parents[1] / 'chat'
QUASAR = {'no-wrap', 'hidden'}
"""Classes only Quasar defines (its CSS is always on the page)."""
NAMES_ONLY = {'name-prompt', 'search-mark'}
"""Classes that only name an element, with no style of their own."""


def used_classes() -> set[str]:
    """Every class in a literal passed to `.classes(...)` in the app's Python code."""
    found = set()
    for path in CHAT.rglob('*.py'):
        for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == 'classes':
                for arg in node.args:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        found.update(arg.value.split())
    return found


def defined_classes(css: str) -> set[str]:
    return {name.replace('\\', '') for name in re.findall(r'\.((?:[\w-]|\\.)+)', css)}


def test_every_class_the_ui_uses_is_defined() -> None:
    tailwind = defined_classes((CHAT / 'ui' / 'static' / 'tailwind.css').read_text(encoding='utf-8'))
    ours = defined_classes((CHAT / 'ui' / 'static' / 'rooms.css').read_text(encoding='utf-8'))
    used = used_classes()
    assert len(used) > 40, 'the scan found too few classes to be working'
    missing = sorted(used - tailwind - ours - QUASAR - NAMES_ONLY)
    assert not missing, f'not in tailwind.css (rebuild it, see chat/ui/tailwind.in.css) nor rooms.css: {missing}'
