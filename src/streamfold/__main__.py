"""``python -m streamfold``: the same as the ``streamfold`` command (see ``streamfold._cli``)."""

from ._cli import main

raise SystemExit(main())
