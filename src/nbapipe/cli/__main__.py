from nbapipe.cli import main

main()
