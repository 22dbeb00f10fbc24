"""One-line errors for the python -m qs4d.* commands, like the C++ side's `qs4dsim: error: ...`.

`main()` functions raise (so tests and callers see the exception); run as a command, an error
the user can fix (a bad file, argument or value) prints one line to stderr and exits with 2.
"""

from __future__ import annotations

import sys


def run(main, prog: str) -> None:
    try:
        main()
    except (ValueError, KeyError, OSError, RuntimeError) as e:
        message = str(e).strip().splitlines()
        text = message[0] if message else type(e).__name__
        if isinstance(e, KeyError):
            text = f"missing key {text}"
        sys.stderr.write(f"{prog}: error: {text}\n")
        sys.exit(2)
