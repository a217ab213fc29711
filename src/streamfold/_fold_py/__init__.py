"""Chat-completion folding: the pure-Python twin of the Cython core.

The modules mirror the include files of ``ext/streamfold/_fold_c.pyx`` one for one, so a
rule lives in the same place in both (docs/contract.md says what the rules are):

====================  ==================================  =====================================
twin module           Cython include                      what it holds
====================  ==================================  =====================================
``values.py``         ``fold/values.pxi``                 text, typed parts, the generic rules
``checks.py``         ``fold/checks.pxi``                 the shape checks
``tool_calls.py``     ``fold/tool_calls.pxi``             tool calls, the legacy function_call
``choice.py``         ``fold/choice.pxi``                 one choice: message, logprobs, events
``accumulator.py``    ``fold/accumulator.pxi``            ``ChatAccumulator``: feed, fold, result
(strings compared)    ``fold/keys.pxi``                   member names as codes (Cython only)
====================  ==================================  =====================================

Limits and member-name sets come from ``streamfold._contract``, framing from
``streamfold._framing_py`` (twin of ``_framing_c.pyx``).
"""

from .accumulator import ChatAccumulator

ChatAccumulator.__module__ = __name__  # its public home, as _fold_c.ChatAccumulator's is _fold_c

__all__ = ["ChatAccumulator"]
