from privlink.cli.main import run

run()
