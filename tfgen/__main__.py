from tfgen.cli.launch import main

raise SystemExit(main())
