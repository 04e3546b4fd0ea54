from tfgen.launch import main

raise SystemExit(main())
