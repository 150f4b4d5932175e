"""A job whose mapper announces itself and then hangs: the target of the signal tests.

Run as ``python -m tests.faults.hang MARKER_DIR [workers [progress]]``: each worker that starts
mapping writes ``MARKER_DIR/pid-<pid>`` and blocks forever; the test waits for those
files, then signals or kills this driver and checks what is left.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator


def hang(marker_dir: str, record: int) -> Iterator[tuple[int, int]]:
    path = os.path.join(marker_dir, f"pid-{os.getpid()}")
    with open(path + ".tmp", "w") as file:
        file.write(str(os.getpid()))
    os.replace(path + ".tmp", path)
    threading.Event().wait()  # blocks forever: a hung mapper
    yield record, record


def main() -> None:
    import functools

    from mapred import mapreduce

    marker_dir = sys.argv[1]
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    progress = len(sys.argv) > 3 and sys.argv[3] == "progress"
    try:
        mapreduce(
            functools.partial(hang, marker_dir),
            lambda key, values: sum(values),
            range(100),
            workers=workers,
            chunksize=1,
            progress=progress,
        )
    except KeyboardInterrupt:
        print("KeyboardInterrupt", flush=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
