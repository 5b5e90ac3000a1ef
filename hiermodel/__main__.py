"""``python -m hiermodel`` runs the CLI."""

from hiermodel.cli import main

raise SystemExit(main())
