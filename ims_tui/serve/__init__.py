"""Serving the station: ``ims serve ssh`` (asyncssh), ``ims serve web`` (textual-serve), kiosk mode.

Every served session runs in a process of its own (:mod:`ims_tui.serve.child`): a crash ends
that session only, and Textual's driver, which owns the process's terminal and signal handlers,
never shares a process with another session.
"""
