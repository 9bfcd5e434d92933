"""Write streamed CSV lines to a file (atomically) or standard output, with a progress bar."""

import os
import sys
import tempfile
from pathlib import Path

from django.core.management.base import CommandError
from tqdm import tqdm


def write_lines(lines, file: str, total_rows: int, stdout, verbosity: int) -> int:
    if file == "-":
        count = 0
        for line in lines:
            stdout.write(line, ending="")
            count += 1
        return max(0, count - 1)
    target = Path(file)
    if not target.parent.exists():
        raise CommandError(f"Cannot write {target}: folder {target.parent} does not exist")
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    count = 0
    try:
        with (
            os.fdopen(handle, "w", newline="") as stream,
            tqdm(total=total_rows, unit="row", file=sys.stderr, disable=verbosity == 0) as bar,
        ):
            for line in lines:
                stream.write(line)
                count += 1
                if count > 1:
                    bar.update(1)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return max(0, count - 1)
