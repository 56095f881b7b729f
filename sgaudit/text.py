"""One sanitiser for every output: text that came from the cloud or from input files is data,
and must not drive the terminal or disguise itself.

C0/C1 control characters (ESC starts the CSI and OSC sequences that clear a screen, set a
window title or write a clipboard), bidi controls ("trojan source", including U+061C), line
separators, lone surrogates and non-characters become U+FFFD, so a reader sees that something
was there; newlines and tabs become a space (one field, one line).
"""

from __future__ import annotations

import re

UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e"
                    "\u2028\u2029\u2066-\u2069\ud800-\udfff\ufffe\uffff]")
_NEWLINES = re.compile(r"[\r\n\t]+")
_LINE_BREAKS = re.compile(r"\r\n?|\t")


def clean(text: object) -> str:
    """Any value as one printable line."""
    if text is None:
        return ""
    return UNSAFE.sub("\ufffd", _NEWLINES.sub(" ", str(text)))


def clean_lines(text: object) -> str:
    """Like ``clean``, but keeps line breaks (``\\n``): for whole rendered outputs and
    multi-line messages.  CR becomes a line break (it could overwrite a line), a tab a space."""
    if text is None:
        return ""
    return UNSAFE.sub("\ufffd", _LINE_BREAKS.sub(lambda m: " " if m.group() == "\t" else "\n",
                                                 str(text)))
