"""``python -m mentoring_eval``: see :mod:`mentoring_eval.cli`."""

from mentoring_eval.cli import main

raise SystemExit(main())
