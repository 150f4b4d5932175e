"""Log analysis: requests and bytes per HTTP status, and the most requested paths.

Run it from any folder (the data is found next to this file):

    python log_analysis.py

It reads data/access.log, a web server log in Common Log Format, for example

    203.0.113.7 - - [15/Jan/2026:00:00:42 +0000] "GET /index.html HTTP/1.1" 200 5123

and prints a table of status codes and the five most requested paths.

What it shows: one job computing two reports at once, with tuple keys such as
("status", 200) and ("path", "/"), which come back as tuples; values that are tuples
too, (requests, bytes), summed by a combiner; and user counters for the odd lines.
"""

import os
import re

from mapred import increment, mapreduce, read_text

# The example's data, found from this file so that it runs from any folder.
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

# host ident user [time] "request" status bytes
LINE = re.compile(r'(\S+) \S+ \S+ \[[^\]]*\] "([^"]*)" (\d{3}) (\S+)$')
TOP = 5


def mapper(line):
    """Emit ("status", code) and ("path", path) keys, each with (1 request, bytes)."""
    match = LINE.match(line)
    if match is None:
        increment("malformed lines")
        return
    _host, request, status, size = match.groups()
    sent = 0 if size == "-" else int(size)  # "-": no body (304, HEAD)
    yield ("status", int(status)), (1, sent)
    parts = request.split()
    if len(parts) == 3:  # "GET /path HTTP/1.1"
        yield ("path", parts[1]), (1, sent)
    else:  # a client that sent no request line: logged as "-" with status 408
        increment("lines without a request")


def add_pairs(key, values):
    """Sum (requests, bytes) pairs element by element; also the combiner."""
    requests = sent = 0
    for n, size in values:
        requests += n
        sent += size
    return requests, sent


if __name__ == "__main__":
    report = mapreduce(
        mapper, add_pairs, read_text(os.path.join(DATA, "access.log")), combiner=add_pairs
    )

    # Keys are sorted: every ("path", ...) key comes before every ("status", ...) key,
    # and within each kind by path or by status code.
    print("status  requests       bytes")
    for (kind, status), (requests, sent) in report.items():
        if kind == "status":
            print(f"{status:>6}  {requests:>8}  {sent:>10}")

    paths = [(key[1], value) for key, value in report.items() if key[0] == "path"]
    paths.sort(key=lambda item: (-item[1][0], item[0]))  # most requests first
    print(f"top {TOP} paths by requests")
    for path, (requests, _sent) in paths[:TOP]:
        print(f"{requests:>8}  {path}")

    print(f"odd lines: {report.counters.get('user', {})}")
