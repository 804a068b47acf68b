"""The SQL core shared by the SQLite and PostgreSQL stores.

``dialect`` holds what both engines share (the requests, the statement shapes, the base of a
dialect) and ``sqlite_sql`` / ``postgres_sql`` the per-engine SQL: DDL, JSON filter translation,
namespace functions and vector scoring. ``core`` holds one generator operation per store method
(setup, batch, sweep): op grouping, row decoding and result assembly, written once.
``vectors`` holds the three ways of ranking a query (score in SQL, score in numpy, ANN then
exact re-rank). ``store`` holds the public ``BaseStore`` methods over small drivers and the two
face mixins. Nothing here does I/O.
"""
