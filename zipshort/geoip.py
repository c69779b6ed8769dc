"""The visitor's country for smart-link rules: a trusted proxy header (e.g. CF-IPCountry) or an offline MaxMind
database. Each app has one lookup, on its ``Runtime``; the database is opened on the first look-up that needs it."""

from __future__ import annotations

import ipaddress
import re
import threading
from typing import Any


class CountryLookup:
    """``lookup(headers, address)``: an ISO country code, or None when neither the header nor the database knows."""

    def __init__(self, header: str, database: str) -> None:
        self.header = header
        self.database = database
        self._reader: Any = None
        self._lock = threading.Lock()

    def _open(self) -> Any:
        if self._reader is None:
            with self._lock:
                if self._reader is None:
                    import maxminddb

                    self._reader = maxminddb.open_database(self.database)
        return self._reader

    def __call__(self, headers: Any, address: str) -> str | None:
        if self.header:
            value = (headers.get(self.header) or "").strip().upper()
            if re.fullmatch(r"[A-Z]{2}", value) and value not in ("XX", "T1"):
                return value
        if self.database:
            try:
                ipaddress.ip_address(address)
                record = self._open().get(address)
            except ValueError:
                return None
            if isinstance(record, dict):
                country = record.get("country") or record.get("registered_country") or {}
                code = country.get("iso_code") if isinstance(country, dict) else None
                return code.upper() if isinstance(code, str) else None
        return None
