import sys

from callbox.cli import main

sys.exit(main())
