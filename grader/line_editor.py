"""The answer prompt at a terminal, with the editing any terminal prompt has (prompt_toolkit).

Arrows move the cursor (also up into earlier lines of the answer), Home/End
and Ctrl-A/Ctrl-E jump, Ctrl-W and Alt-Backspace delete a word, Up on the
first line (or Ctrl-P) brings back an earlier answer of this sitting. Enter
adds a line; Enter on an empty last line submits, as the plain prompt always
did, and so does Alt-Enter (or Esc then Enter) at once. A command (``/skip``)
is submitted by Enter. Ctrl-D on an empty answer ends the input; Ctrl-C
interrupts.

Only ``grader practice`` at a real terminal loads this module (and
prompt_toolkit): piped input and every other command read lines as before.
A dumb terminal (``TERM=dumb``: Emacs' shell, some CI logs) has its own line
editing and no cursor movement, so it keeps the plain prompt too, and so does
output sent elsewhere (``grader practice | tee log``): the editor draws on
standard output, so its cursor moves would land in the log and the screen's
lines would come out shifted.
"""

from __future__ import annotations

import os
import sys


def wanted() -> bool:
    """Whether the terminal can host the editor: anything but a dumb one, with the output going to it."""
    return os.environ.get("TERM", "") not in ("dumb", "emacs") and sys.stdout.isatty()


class AnswerEditor:
    """One prompt_toolkit session for a whole sitting, so Up recalls the answers given earlier in it."""

    def __init__(self) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import InMemoryHistory
        from prompt_toolkit.key_binding import KeyBindings

        self._allow_empty = False
        bindings = KeyBindings()

        @bindings.add("enter")
        def _enter(event) -> None:  # noqa: ANN001 - prompt_toolkit's KeyPressEvent
            buffer = event.current_buffer
            text = buffer.text
            if not text.strip():
                if self._allow_empty:
                    buffer.text = ""
                    buffer.validate_and_handle()
                return  # blank lines before an answer are ignored, as before
            one_line_command = "\n" not in text.strip() and text.strip().startswith("/")
            at_empty_last_line = buffer.document.is_cursor_at_the_end and not buffer.document.current_line.strip()
            if one_line_command or at_empty_last_line:
                buffer.text = text.strip() if one_line_command else text.rstrip()
                buffer.validate_and_handle()
                return
            buffer.insert_text("\n")

        @bindings.add("escape", "enter")
        def _submit(event) -> None:  # noqa: ANN001
            buffer = event.current_buffer
            if buffer.text.strip() or self._allow_empty:
                buffer.text = buffer.text.strip()
                buffer.validate_and_handle()

        self.session: PromptSession[str] = PromptSession(
            history=InMemoryHistory(),
            key_bindings=bindings,
            multiline=True,
            prompt_continuation=lambda width, line_number, is_soft_wrap: "" if is_soft_wrap else "… ".rjust(width),
            enable_open_in_editor=False,
        )

    def ask(self, prompt: str, *, allow_empty: bool = False) -> str | None:
        """One answer; None when the input ends (Ctrl-D on an empty answer)."""
        self._allow_empty = allow_empty
        try:
            return self.session.prompt(prompt)
        except EOFError:
            return None
        except KeyboardInterrupt:
            from .session import AnswerInterrupted

            draft = self.session.default_buffer.text
            if draft.strip():
                raise AnswerInterrupted(draft) from None
            raise
