"""The `dvcall` executable. Loading the commands takes about half a second; a Ctrl-C in that time ends as one
line and exit 130, like a Ctrl-C at any later moment (the commands' own handler is not set up yet)."""
import signal
import sys


def main() -> None:
    try:
        from .main import main as dvcall
    except KeyboardInterrupt:
        sys.stderr.write("dvcall: interrupted\n")
        sys.exit(128 + signal.SIGINT)
    dvcall()


if __name__ == "__main__":  # python -m deepvariant_py.cli.entry, as the console script
    main()
