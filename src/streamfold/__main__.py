"""``python -m streamfold``: see ``streamfold._cli``."""

from ._cli import main

raise SystemExit(main())
