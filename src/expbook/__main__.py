import sys

from expbook.cli import main

sys.exit(main())
