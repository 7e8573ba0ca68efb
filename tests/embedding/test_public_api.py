"""The public API is what ``callbox/__init__.py`` exports, and each name is what it says."""

from __future__ import annotations

import subprocess
import sys

import callbox

PUBLIC = {
    "ApiKey",
    "Auth",
    "CallboxMiddleware",
    "CallboxPlugin",
    "ConfigError",
    "Database",
    "GraphQL",
    "Inbox",
    "Logging",
    "Metrics",
    "Receiver",
    "Retention",
    "Server",
    "Settings",
    "Subscriptions",
    "create_app",
    "lifespan",
    "load_settings",
}


def test_all_names_the_public_api_and_each_name_resolves() -> None:
    assert set(callbox.__all__) == PUBLIC
    assert len(callbox.__all__) == len(PUBLIC)
    for name in callbox.__all__:
        assert getattr(callbox, name) is not None, name
    assert set(dir(callbox)) >= PUBLIC


def test_star_import_gives_exactly_the_public_api() -> None:
    namespace: dict[str, object] = {}
    exec("from callbox import *", namespace)
    assert set(namespace) - {"__builtins__"} == PUBLIC


def test_importing_callbox_does_not_import_the_web_stack() -> None:
    """The command line starts fast: the web stack is imported when first used."""
    code = "import sys, callbox; print('litestar' in sys.modules, 'strawberry' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]
    result = subprocess.run(
        [sys.executable, "-c", "import callbox; callbox.CallboxMiddleware; print('ok')"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "ok"
