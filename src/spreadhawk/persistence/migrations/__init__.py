"""The run store's Alembic environment: ``env.py`` and one file per revision under ``versions/``.

Run through ``spreadhawk.persistence.migrate`` (``spreadhawk db ...`` and every ``RunStore`` opening),
which builds the Alembic config in code: no ``alembic.ini``, and it works from any directory.
See ``docs/database.md``.
"""
