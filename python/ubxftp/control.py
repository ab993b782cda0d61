"""A client of a module's control API (`--control`; docs/FIELD.md, docs/SECURITY.md).

Every request carries `Authorization: Bearer <token>` (the token read from the file the module
named on its `control token:` line), a `Host` that is the API's own address, and
`Content-Type: application/json` on a body: what the API demands.

    module.control.faults.add(target="ftp-data", action="reset", on_op=4, after_bytes=100_000)
    module.control.link.set("nb-iot")
    module.control.state()["ftp"]
    fleet.control.module(3).faults.add(target="dns", action="fail")
    fleet.control.fleet_faults.add(modems="10%", target="pdp", action="deactivate", cid=1)
"""

from __future__ import annotations

import http.client
import json
from typing import Any, Optional


class ControlError(Exception):
    """The API refused a request: its status and error text."""

    def __init__(self, method: str, path: str, status: int, body: Any):
        self.status = status
        self.body = body
        error = body.get("error") if isinstance(body, dict) else body
        super().__init__(f"{method} {path}: {status} {error}")


class Control:
    """The API at `host:port` (or one fleet module's part of it, below `prefix`)."""

    def __init__(
        self, host: str, port: int, token: Optional[str], prefix: str = "", timeout: float = 10.0
    ):
        self.host = host
        self.port = port
        self.token = token
        self.prefix = prefix
        self.timeout = timeout

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.prefix}"

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """`METHOD prefix+path`, the body as JSON if given: the answer's JSON (`None` if empty).
        Raises :class:`ControlError` on a status of 400 or more."""
        full = self.prefix + path
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        headers = {"Connection": "close"}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        payload = None
        if body is not None:
            payload = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        try:
            # http.client sends `Host: HOST:PORT`, the API's own address.
            conn.request(method, full, body=payload, headers=headers)
            answer = conn.getresponse()
            raw = answer.read()
        finally:
            conn.close()
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw.decode("utf-8", "replace")
        if answer.status >= 400:
            raise ControlError(method, full, answer.status, data)
        return data

    # --- one module ----------------------------------------------------------------------------
    def state(self) -> dict:
        """`GET /state`: power, registration, contexts, the FTP session, the link, terminals."""
        return self.request("GET", "/state")

    @property
    def faults(self) -> "Faults":
        return Faults(self)

    @property
    def link(self) -> "Link":
        return Link(self)

    def module(self, index: int) -> "Control":
        """Module `index` of a fleet (`/modems/{index}/...`)."""
        return Control(self.host, self.port, self.token, f"/modems/{index}", self.timeout)

    # --- a fleet -------------------------------------------------------------------------------
    def fleet(self) -> dict:
        """`GET /fleet`: modules by state and by the class of their last `+UFTPER`."""
        return self.request("GET", "/fleet")

    @property
    def fleet_faults(self) -> "FleetFaults":
        return FleetFaults(self)


class Faults:
    """`/faults`: add (`POST`), list (`GET`), clear (`DELETE`)."""

    def __init__(self, control: Control):
        self._control = control

    def add(self, fault: Optional[dict] = None, **fields: Any) -> int:
        """Adds a fault (a dict with the fields of a `[[fault]]` table, or them as keywords);
        returns its id."""
        body = dict(fault or {}, **fields)
        return self._control.request("POST", "/faults", body)["id"]

    def list(self) -> list:
        """The faults, each with its `id` and how often it `fired`."""
        return self._control.request("GET", "/faults")

    def clear(self) -> None:
        self._control.request("DELETE", "/faults")


class Link:
    """`/link`: the radio link's spec (`lte-m`, `down=1mbit,rtt=100ms`, ...)."""

    def __init__(self, control: Control):
        self._control = control

    def get(self) -> dict:
        """`{"link": SPEC, "figures": {...}}`."""
        return self._control.request("GET", "/link")

    def set(self, spec: str) -> dict:
        return self._control.request("PUT", "/link", {"link": spec})


class FleetFaults:
    """`/fleet/faults`: one fault on a share of the fleet (`"all"`, `"10%"`, `[0, 7]`)."""

    def __init__(self, control: Control):
        self._control = control

    def add(self, fault: Optional[dict] = None, modems: Any = "all", **fields: Any) -> Any:
        body = dict(fault or {}, **fields)
        body.setdefault("modems", modems)
        return self._control.request("POST", "/fleet/faults", body)

    def clear(self) -> None:
        self._control.request("DELETE", "/fleet/faults")
