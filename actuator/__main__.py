import sys

from actuator.cli import main

sys.exit(main())
