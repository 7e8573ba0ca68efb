"""The standalone server's factory freezes the startup heap once the app has started; an
app made with create_app (what hosts embed) leaves the host's heap alone.

Each runs in a process of its own: freezing (or configuring logging) in the test process
would change every test after it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import gc, json, sys
    from litestar.testing import TestClient
    from callbox.app import app_from_environment, create_app
    from callbox.settings import load_settings

    app = app_from_environment() if sys.argv[1] == "standalone" else create_app(load_settings())
    before = gc.get_freeze_count()
    with TestClient(app) as client:
        health = client.get("/health").status_code
        started = gc.get_freeze_count()
    print(json.dumps({"before": before, "started": started, "health": health}))
    """
)


def freeze_counts(database_url: str, kind: str, tmp_path: Path) -> dict[str, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLBOX_")}
    config = tmp_path / "callbox.toml"
    config.write_text("development = true\n[database]\npool_min_size = 1\n")
    env.update(CALLBOX_CONFIG=str(config), CALLBOX_DATABASE_URL=database_url)
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT, kind],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result: dict[str, int] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def test_the_standalone_server_freezes_its_startup_heap(database_url: str, tmp_path: Path) -> None:
    counts = freeze_counts(database_url, "standalone", tmp_path)
    assert counts["health"] == 200
    assert counts["before"] == 0
    assert counts["started"] > 10_000  # modules, schema, app: far more than this


def test_an_embeddable_app_leaves_the_heap_alone(database_url: str, tmp_path: Path) -> None:
    counts = freeze_counts(database_url, "embeddable", tmp_path)
    assert counts == {"before": 0, "started": 0, "health": 200}
