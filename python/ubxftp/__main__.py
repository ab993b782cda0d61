"""`python -m ubxftp ARGS` runs the binary the wheel installed."""

import os
import sys

from ubxftp._binary import find_ubxftp_bin


def main() -> None:
    binary = os.fsdecode(find_ubxftp_bin())
    os.execvp(binary, [binary, *sys.argv[1:]])


if __name__ == "__main__":
    main()
