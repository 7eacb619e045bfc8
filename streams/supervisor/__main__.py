"""``python -m streams.supervisor --data-dir DIR``: the process ``aiops up`` detaches."""

from __future__ import annotations

import argparse
from pathlib import Path

from streams.logs_setup import configure_logging
from streams.settings import get_settings
from streams.supervisor.daemon import Supervisor


def main() -> None:
    parser = argparse.ArgumentParser(description="Supervise the pipeline components.")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--sample-s", type=float, default=2.0)
    args = parser.parse_args()
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    Supervisor(args.data_dir, args.sample_s).run()


if __name__ == "__main__":
    main()
