"""Functional-API suite fixtures: every registered checkpoint saver x both API faces (the HITL
suite's ``saver``/``face``/``config`` fixtures, each test on its own thread)."""

from tests.hitl.conftest import LOOP, Face, config, face, saver  # noqa: F401
