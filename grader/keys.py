"""One key press at a terminal, without losing what was typed before it.

click's ``getchar`` puts the terminal in raw mode with ``TCSAFLUSH``, which
throws away whatever was typed and not yet read (the rest of a pasted answer,
an answer begun while the last one was graded), and reads at most 32 bytes.
Here raw mode starts with ``TCSANOW`` (nothing thrown away) and everything
waiting is read with the key, so the session can tell a key press from text
typed ahead (``practice.typed_ahead``) and say what it did not use.
"""

from __future__ import annotations

import os
import select
import sys


def read_key() -> str | None:
    """One key press from standard input, with whatever was typed before it and not yet read; None at the end of input.

    Ctrl-C raises ``KeyboardInterrupt`` (raw mode turns it into a byte), Ctrl-D is the end of input, as at a prompt.
    """
    try:
        import termios
        import tty
    except ImportError:  # not a POSIX terminal: click's reading, which knows the others
        return _getchar()
    fd = sys.stdin.fileno()
    try:
        saved = termios.tcgetattr(fd)
    except termios.error:
        return _getchar()
    try:
        tty.setraw(fd, termios.TCSANOW)
        data = os.read(fd, 1024)
        while data and select.select([fd], [], [], 0)[0]:
            more = os.read(fd, 1024)
            if not more:
                break
            data += more
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    typed = data.decode(sys.stdin.encoding or "utf-8", "replace")
    if "\x03" in typed:
        raise KeyboardInterrupt
    if not typed or typed == "\x04":
        return None
    return typed


def _getchar() -> str | None:
    import click

    try:
        return click.getchar()
    except EOFError:
        return None
