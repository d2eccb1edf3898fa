"""``python -m lookalike`` → :func:`lookalike.app.main`."""

from lookalike.app import main

raise SystemExit(main())
