"""``python -m zipshort`` is ``zipshort serve``."""

from zipshort.cli import main

if __name__ == "__main__":
    import sys

    main(["serve", *sys.argv[1:]], prog_name="zipshort")
