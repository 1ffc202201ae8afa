from hrd_reports.cli import main

main()
