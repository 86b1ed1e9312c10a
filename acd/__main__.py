from acd.cli import main

raise SystemExit(main())
