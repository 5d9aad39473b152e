from transvis.cli import main

raise SystemExit(main())
