"""``python -m sklearn_multihead.cli``: the command line."""

import sys

from sklearn_multihead.cli.main import main

sys.exit(main())
