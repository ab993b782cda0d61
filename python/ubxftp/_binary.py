"""Where the `ubxftp` binary is."""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig

#: An explicit binary: a cargo build (`target/debug/ubxftp`) instead of the wheel's.
ENV_BIN = "UBXFTP_BIN"


def find_ubxftp_bin() -> str:
    """The `ubxftp` binary: `$UBXFTP_BIN`, else the one this wheel installed (the scripts folder
    of this interpreter's environment, then the user scheme's, as `pip install --user` puts it),
    else the first on `PATH`."""
    explicit = os.environ.get(ENV_BIN)
    if explicit:
        if not os.path.isfile(explicit):
            raise FileNotFoundError(f"${ENV_BIN}={explicit}: no such file")
        return explicit
    exe = "ubxftp" + (sysconfig.get_config_var("EXE") or "")
    candidates = [os.path.join(sysconfig.get_path("scripts"), exe)]
    if sys.version_info >= (3, 10):
        user_scheme = sysconfig.get_preferred_scheme("user")
    else:  # pragma: no cover - Python 3.9
        user_scheme = "posix_user"
    try:
        candidates.append(os.path.join(sysconfig.get_path("scripts", scheme=user_scheme), exe))
    except KeyError:  # pragma: no cover - no user scheme
        pass
    for path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    found = shutil.which(exe)
    if found:
        return found
    raise FileNotFoundError(
        f"no ubxftp binary in {candidates[0]} nor on PATH: install the wheel "
        f"(pip install ubxftp-*.whl) or set ${ENV_BIN}"
    )
