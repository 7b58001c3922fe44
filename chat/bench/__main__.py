"""`python -m chat.bench`: see runner.py."""
from __future__ import annotations

from .runner import main

if __name__ == '__main__':
    main()
