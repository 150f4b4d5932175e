"""Generate ``access.log``: a synthetic web server log in Common Log Format.

The output is deterministic: a fixed seed, a fixed start time, and no dependence on the locale,
the time zone or the Python version (only ``random.Random`` methods whose sequences are stable
across versions are used). Regenerate the committed file with::

    python examples/data/make_access_log.py > examples/data/access.log

Each line is ``host ident authuser [date] "request" status bytes``, for example::

    203.0.113.7 - - [15/Jan/2026:00:00:42 +0000] "GET /index.html HTTP/1.1" 200 5123

A few lines are the awkward kind real logs have, so log-analysis examples must cope with them:
a ``"-"`` request line (a client that timed out before sending one, status 408), a ``-`` byte
count (no body: 304 responses and HEAD requests), and a named ``authuser`` on the admin pages.
Client addresses come from the RFC 5737 documentation ranges: none is a real host.
"""

from __future__ import annotations

import argparse
import random
import sys
from datetime import UTC, datetime, timedelta
from typing import TextIO

SEED = 20260115
LINES = 2000
START = datetime(2026, 1, 15, tzinfo=UTC)
# Month names are spelled out here: strftime("%b") would follow the locale.
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# RFC 5737 documentation prefixes; a few busy clients and a long tail of occasional ones.
PREFIXES = ("192.0.2", "198.51.100", "203.0.113")
BUSY_CLIENTS = ("203.0.113.7", "198.51.100.23", "192.0.2.150")

# (path, weight, typical body size in bytes)
PAGES = (
    ("/", 30, 5123),
    ("/index.html", 12, 5123),
    ("/about.html", 5, 3310),
    ("/blog/", 10, 8840),
    ("/blog/2025/12/shuffle-without-surprises.html", 6, 14210),
    ("/blog/2026/01/combiners-explained.html", 8, 11876),
    ("/docs/quickstart.html", 9, 7420),
    ("/docs/api.html", 6, 21032),
    ("/static/style.css", 20, 2877),
    ("/static/app.js", 18, 40211),
    ("/static/logo.png", 18, 15320),
    ("/favicon.ico", 14, 1150),
    ("/robots.txt", 3, 68),
    ("/search?q=mapreduce", 4, 6120),
    ("/search?q=word+count", 3, 5980),
    ("/api/v1/jobs", 5, 412),
    ("/admin/", 2, 2210),
    ("/wp-login.php", 2, 0),
)

# (status, weight) for an ordinary GET of a page that exists.
STATUSES = ((200, 86), (304, 9), (404, 2), (500, 1), (503, 1), (206, 1))


def format_time(moment: datetime) -> str:
    """Return ``moment`` as CLF's ``dd/Mon/yyyy:HH:MM:SS +0000``, independent of the locale."""
    month = MONTHS[moment.month - 1]
    return f"{moment.day:02d}/{month}/{moment.year}:{moment:%H:%M:%S} +0000"


def pick_client(rng: random.Random) -> str:
    """Return a client address: a third of the traffic from a few busy clients."""
    if rng.randrange(3) == 0:
        return rng.choice(BUSY_CLIENTS)
    return f"{rng.choice(PREFIXES)}.{rng.randint(1, 254)}"


def make_line(rng: random.Random, moment: datetime) -> str:
    """Return one log line for a request at ``moment``."""
    host = pick_client(rng)
    when = format_time(moment)
    if rng.randrange(200) == 0:
        # The client connected but never sent a request line.
        return f'{host} - - [{when}] "-" 408 -'

    path, size = _pick_page(rng)
    method = "GET"
    user = "-"
    status = rng.choices([s for s, _ in STATUSES], weights=[w for _, w in STATUSES])[0]
    if path == "/api/v1/jobs":
        method = rng.choice(("GET", "GET", "POST"))
        status = 201 if method == "POST" else 200
    elif path.startswith("/admin/"):
        user = rng.choice(("alice", "bob", "-"))
        status = 200 if user != "-" else 401
    elif path == "/wp-login.php":
        status = 404
    elif rng.randrange(50) == 0:
        method = "HEAD"
    protocol = rng.choice(("HTTP/1.1", "HTTP/1.1", "HTTP/1.1", "HTTP/2.0", "HTTP/1.0"))

    if status == 304 or method == "HEAD":
        body = "-"
    elif status == 206:
        body = str(rng.randint(1, max(size // 2, 1)))
    elif status >= 400:
        body = str(rng.choice((162, 196, 209)))
    else:
        # Pages vary a little (timestamps, ads); static files are byte-identical.
        jitter = 0 if path.startswith("/static/") or size < 100 else rng.randint(-40, 40)
        body = str(size + jitter)
    return f'{host} - {user} [{when}] "{method} {path} {protocol}" {status} {body}'


def _pick_page(rng: random.Random) -> tuple[str, int]:
    """Return ``(path, typical size)`` drawn by the weights in ``PAGES``."""
    path, _, size = rng.choices(PAGES, weights=[w for _, w, _ in PAGES])[0]
    return path, size


def write_log(out: TextIO, lines: int = LINES, seed: int = SEED) -> None:
    """Write ``lines`` log lines to ``out``, in time order, with the given seed."""
    rng = random.Random(seed)
    moment = START
    for _ in range(lines):
        # Busy by day, quiet by night: longer gaps between requests from 00:00 to 06:00.
        gap = rng.randint(0, 120) if moment.hour < 6 else rng.randint(0, 45)
        moment += timedelta(seconds=gap)
        out.write(make_line(rng, moment) + "\n")


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and write the log to standard output."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--lines", type=int, default=LINES, help="number of lines (%(default)s)")
    parser.add_argument("--seed", type=int, default=SEED, help="random seed (%(default)s)")
    args = parser.parse_args(argv)
    write_log(sys.stdout, lines=args.lines, seed=args.seed)


if __name__ == "__main__":
    main()
