"""pyftpdlib test server for crates/test-servers (started by the Rust side, one per test).

Adds the ACCT command, which pyftpdlib lacks: the user given by --acct-user gets
"332 Need account for login." after PASS, and only "ACCT <--account>" completes the login
(230). Everyone else logs in with USER/PASS as usual; ACCT without a pending login answers 202.
"""

import argparse
import logging
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer

PERMS = "elradfmwMT"


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--acct-user", required=True)
    p.add_argument("--account", required=True)
    p.add_argument("--passive-ports", required=True, help="FIRST-LAST")
    p.add_argument("--idle", type=int, default=120)
    p.add_argument("--certfile")
    p.add_argument("--keyfile")
    p.add_argument("--log", required=True)
    return p.parse_args()


def make_handler(base, acct_user, account):
    class Handler(base):
        proto_cmds = dict(base.proto_cmds)
        proto_cmds["ACCT"] = dict(
            perm=None, auth=False, arg=True, help="Syntax: ACCT <SP> account-information"
        )

        def ftp_USER(self, line):
            self._pending_pass = None
            self._acct_ok = False
            return super().ftp_USER(line)

        def ftp_PASS(self, line):
            if self.username == acct_user and not getattr(self, "_acct_ok", False):
                self._pending_pass = line
                self.respond("332 Need account for login.")
                return
            return super().ftp_PASS(line)

        def ftp_ACCT(self, line):
            if getattr(self, "_pending_pass", None) is None:
                self.respond("202 ACCT not needed.")
                return
            if line != account:
                self._pending_pass = None
                self.respond("530 Bad account.")
                return
            self._acct_ok = True
            pending, self._pending_pass = self._pending_pass, None
            return super().ftp_PASS(pending)

    return Handler


def main():
    args = parse_args()
    logging.basicConfig(
        filename=args.log,
        level=logging.DEBUG,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    authorizer = DummyAuthorizer()
    authorizer.add_user(args.user, args.password, args.root, perm=PERMS)
    authorizer.add_user(args.acct_user, args.password, args.root, perm=PERMS)

    base = FTPHandler
    if args.certfile:
        from pyftpdlib.handlers import TLS_FTPHandler

        base = TLS_FTPHandler
    handler = make_handler(base, args.acct_user, args.account)
    handler.authorizer = authorizer
    first, last = (int(x) for x in args.passive_ports.split("-"))
    handler.passive_ports = list(range(first, last + 1))
    handler.timeout = args.idle
    handler.banner = "pyftpdlib test server ready."
    if args.certfile:
        handler.certfile = args.certfile
        handler.keyfile = args.keyfile
        handler.tls_control_required = False
        handler.tls_data_required = False

    server = FTPServer((args.host, args.port), handler)
    server.max_cons = 256
    print("listening", args.host, args.port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
