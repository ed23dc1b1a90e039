"""``python -m hsnet_deploy`` is the same as the ``hsnet-deploy`` command."""

import sys

from .cli import main

sys.exit(main())
