"""Where the migrations are: inside the wheel, or at the top of a source checkout."""

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent


def migrations_folder() -> Path:
    packaged = _PACKAGE / "_migrations"  # the wheel force-includes migrations/ here
    if packaged.is_dir():
        return packaged
    checkout = _PACKAGE.parent.parent / "migrations"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"Callbox migrations not found in {packaged} or {checkout}")
