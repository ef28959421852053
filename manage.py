#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if sys.argv[1:2] != ["runserver"]:
        # Commands (migrate, refresh_kpis, seed_demo) may wait and run longer than a web request.
        os.environ.setdefault("DESK_BACKGROUND", "true")
    if not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"):
        # No servers configured: run the command against the embedded ones (SPEC §2),
        # as `make run` and `make test` do. The launcher sets both variables for the child.
        from config.embedded import main as embedded

        sys.exit(embedded(["exec", "--", sys.executable, *sys.argv]))
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
