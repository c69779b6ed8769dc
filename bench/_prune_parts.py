"""The partitioned alternative, the write load and shared helpers of bench/prune.py (see its docstring)."""

from __future__ import annotations

import datetime as dt
import statistics
import threading
import time

import sqlalchemy as sa

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
COLUMNS = ("at, kind, link_id, url, host, referrer, referrer_host, user_agent, browser, browser_version, os, "
           "device, bot, language, country, destination, counted_only")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def mb(size: int) -> str:
    return f"{size / 1024 / 1024:,.1f} MB" if size >= 1024 * 1024 else f"{size / 1024:,.0f} kB"


def vacuum(engine: sa.Engine, table: str = "", analyze: bool = True) -> float:
    """VACUUM (ANALYZE) on PostgreSQL, ANALYZE on SQLite; returns the seconds it took."""
    if engine.dialect.name == "postgresql":
        sql = "VACUUM " + ("ANALYZE " if analyze else "") + table
    else:
        sql = "ANALYZE"
    started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(sql))
    return time.perf_counter() - started


def wal_lsn(engine: sa.Engine) -> int | None:
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        return int(conn.scalar(sa.text("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")))


def months(first: dt.datetime, last: dt.datetime) -> list[tuple[dt.datetime, dt.datetime]]:
    """Calendar months (UTC) from the one holding ``first`` to the one holding ``last``."""
    start = first.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    out = []
    while start <= last:
        nxt = (start + dt.timedelta(days=32)).replace(day=1)
        out.append((start, nxt))
        start = nxt
    return out


def partitioned_copy(engine: sa.Engine, days: int) -> list[tuple[str, dt.datetime, dt.datetime]]:
    """visits_part: the same columns, PARTITION BY RANGE (at), a partition per month, the same indexes and
    foreign keys (the primary key must hold the partition key: (id, at))."""
    parts = [(f"visits_p{lo:%Y_%m}", lo, hi) for lo, hi in months(NOW - dt.timedelta(days=days), NOW)]
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE visits_part (LIKE visits INCLUDING DEFAULTS) PARTITION BY RANGE (at)"))
        for name, lo, hi in parts:
            conn.execute(sa.text(f"CREATE TABLE {name} PARTITION OF visits_part "
                                 f"FOR VALUES FROM ('{lo.isoformat()}') TO ('{hi.isoformat()}')"))
        conn.execute(sa.text("INSERT INTO visits_part SELECT * FROM visits"))
        copied = time.perf_counter() - started
        conn.execute(sa.text("ALTER TABLE visits_part ADD PRIMARY KEY (id, at)"))
        for cols in ("link_id, at", "file_id, at", "kind, at"):
            conn.execute(sa.text(f"CREATE INDEX ON visits_part ({cols})"))
        conn.execute(sa.text("ALTER TABLE visits_part ADD FOREIGN KEY (link_id) REFERENCES links (id) "
                             "ON DELETE CASCADE"))
        conn.execute(sa.text("ALTER TABLE visits_part ADD FOREIGN KEY (file_id) REFERENCES files (id) "
                             "ON DELETE CASCADE"))
    vacuum(engine, "visits_part")
    print(f"  copied in {copied:.1f} s, indexed in {time.perf_counter() - started - copied:.1f} s; "
          f"partitions: {', '.join(p[0] for p in parts)}")
    with engine.connect() as conn:
        total = conn.scalar(sa.text("SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('visits_part')"))
    print(f"  visits_part with indexes {mb(int(total))}")
    return parts


def drop_expired(engine: sa.Engine, parts: list[tuple[str, dt.datetime, dt.datetime]], cutoff: dt.datetime,
                 load: WriteLoad | None) -> None:
    gone = [p for p in parts if p[2] <= cutoff]
    before = wal_lsn(engine)
    for name, lo, hi in gone:
        with engine.connect() as conn:
            rows = conn.scalar(sa.text(f"SELECT count(*) FROM {name}"))
        if load:
            load.switch("visits_part", "during drop")
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(sa.text(f"ALTER TABLE visits_part DETACH PARTITION {name}"))
            conn.execute(sa.text(f"DROP TABLE {name}"))
        ms = (time.perf_counter() - started) * 1000
        if load:
            load.switch("visits_part", "between")
        print(f"  DETACH + DROP {name} ({lo:%Y-%m-%d} to {hi:%Y-%m-%d}, {(hi - lo).days} days, {rows:,} rows): "
              f"{ms:.0f} ms")
    print(f"  WAL {mb(wal_lsn(engine) - before)}" if before else "")
    with engine.connect() as conn:
        left = conn.scalar(sa.text("SELECT count(*) FROM visits_part WHERE at < :c"), {"c": cutoff})
    print(f"  still there though past the cutoff ({cutoff:%Y-%m-%d %H:%M}): {left:,} rows; a calendar month goes "
          f"only when its last day is past retention, so rows live up to a month longer than retention_days")
    started = time.perf_counter()
    removed = 0
    while True:  # the alternative's honest equivalent: the same batched statement for the remainder
        with engine.begin() as conn:
            gone_now = conn.execute(sa.text(
                "DELETE FROM visits_part WHERE id IN (SELECT id FROM visits_part WHERE at < :c ORDER BY id "
                "LIMIT 10000)"), {"c": cutoff}).rowcount
        removed += gone_now
        if gone_now < 10000:
            break
    print(f"  deleting those with the same batched DELETE: {removed:,} rows in {time.perf_counter() - started:.2f} s")


LISTING = ("SELECT * FROM {table} WHERE link_id = :link AND at >= :lo AND at < :hi "
           "ORDER BY at DESC, id DESC LIMIT 100")
COUNT = "SELECT count(*) FROM {table} WHERE link_id = :link AND at >= :lo AND at < :hi"


def listings(engine: sa.Engine, link_ids: list[str], runs: int, retention: int) -> None:
    """The two queries of a listing page on both layouts, interleaved, each run on another link."""
    windows = {"last 30 days": (NOW - dt.timedelta(days=30), NOW),
               f"all {retention} days": (NOW - dt.timedelta(days=retention), NOW)}
    tables = ("visits", "visits_part")
    with engine.connect() as conn:
        for label, (lo, hi) in windows.items():
            for table in tables:
                plan = conn.execute(sa.text("EXPLAIN (ANALYZE, COSTS OFF) " + LISTING.format(table=table)),
                                    {"link": link_ids[1], "lo": lo, "hi": hi}).scalars().all()
                print(f"  EXPLAIN ANALYZE page of 100, {table}, {label}:")
                print("\n".join("      " + line for line in plan
                                if "actual" in line or line.startswith(("Planning Time", "Execution Time"))))
        for label, (lo, hi) in windows.items():
            for what, sql in (("page of 100", LISTING), ("count", COUNT)):
                samples: dict[str, list[float]] = {t: [] for t in tables}
                for k in range(runs):
                    for table in tables if k % 2 else tables[::-1]:
                        started = time.perf_counter()
                        conn.execute(sa.text(sql.format(table=table)),
                                     {"link": link_ids[k % len(link_ids)], "lo": lo, "hi": hi}).all()
                        samples[table].append((time.perf_counter() - started) * 1000)
                for table in tables:
                    print(f"  {label:<13} {what:<12} {table:<12} p50 {statistics.median(samples[table]):6.2f} ms   "
                          f"p99 {percentile(samples[table], 99):6.2f} ms")
        conn.rollback()


class WriteLoad:
    """20 visits per transaction every 10 ms into ``table``, latencies kept per phase."""

    def __init__(self, url: str, link_id: str) -> None:
        self.engine = sa.create_engine(url)
        self.link_id = link_id
        self.table = "visits"
        self.phase = "idle"
        self.samples: dict[str, list[float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def switch(self, table: str, phase: str) -> None:
        """Write to ``table`` from now on, counting the latencies of inserts started from now under ``phase``."""
        self.table, self.phase = table, phase

    def start(self) -> WriteLoad:
        self._thread.start()
        return self

    def _run(self) -> None:
        at = NOW - dt.timedelta(minutes=1)
        while not self._stop.is_set():
            started, table, phase = time.perf_counter(), self.table, self.phase
            with self.engine.begin() as conn:
                conn.execute(sa.text(f"INSERT INTO {table} ({COLUMNS}) SELECT :at, 'link', :link, '', '', '', "
                                     f"'', '', '', '', '', '', false, '', 'DE', NULL, false "
                                     f"FROM generate_series(1, 20)"), {"at": at, "link": self.link_id})
            elapsed = time.perf_counter() - started
            self.samples.setdefault(phase, []).append(elapsed * 1000)
            self._stop.wait(max(0.0, 0.01 - elapsed))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.engine.dispose()
        for phase, s in self.samples.items():
            print(f"  insert of 20 visits, {phase:<16} n={len(s):5}  p50 {statistics.median(s):6.1f} ms   "
                  f"p99 {percentile(s, 99):7.1f} ms   max {max(s):7.1f} ms")
