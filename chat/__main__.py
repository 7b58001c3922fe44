"""`python -m chat`: the same as `rooms` and `python main.py`."""
from __future__ import annotations

import sys

from chat.cli import main

# Only '__main__': with reload off, '__mp_main__' is the native window's child process, which must not serve again.
if __name__ == '__main__':
    main(sys.argv[1:], prog='python -m chat')
