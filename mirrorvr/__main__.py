"""``python -m mirrorvr`` is the same as the ``mirrorvr`` console command."""

from mirrorvr.cli import main

raise SystemExit(main())
