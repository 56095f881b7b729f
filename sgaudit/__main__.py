from sgaudit.cli import main

main()
