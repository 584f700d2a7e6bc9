"""Type stubs for ``python -m tlsfast`` (the ``tlsfast`` console script)."""

import argparse
from collections.abc import Sequence

def build_parser() -> argparse.ArgumentParser: ...
def main(argv: Sequence[str] | None = None) -> int: ...
