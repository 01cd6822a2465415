import sys

from examples.demo.main import main

sys.exit(main())
