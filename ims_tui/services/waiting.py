"""How a caller hears that its write waits for another station's long write (an import on SQLite).

A station's screen runs service calls on worker threads; within :func:`reporting_waits`, a write
that must wait for an import says so to the given listener (one line, such as "waiting for an
import of 100000 stock rows by ann on office to finish ...") and keeps waiting rather than
failing.  The CLI hears the same line through the store's ``on_wait``.
"""

from ims_tui.db.engine import reporting_waits

__all__ = ["reporting_waits"]
