"""The SQL core shared by the SQLite and PostgreSQL checkpoint savers.

``dialect`` holds the table layout and every shared statement, ``sqlite_sql`` /
``postgres_sql`` the per-engine parts, ``codec`` the encoders and row decoders, ``ops`` one
generator operation per public method and ``saver`` the public methods written once over
four small drivers. Nothing here does I/O.
"""
