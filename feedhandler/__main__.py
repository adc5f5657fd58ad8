"""``python -m feedhandler`` is the ``feedhandler`` command."""
from .cli.main import main

raise SystemExit(main())
