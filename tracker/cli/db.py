"""`tracker db ...`: database maintenance."""

from __future__ import annotations

import typer

from tracker.cli.context import app_context
from tracker.cli.output import console

app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(ctx: typer.Context) -> None:
    """Create the schema or migrate it to the newest revision."""
    import sqlalchemy as sa

    from tracker import db as database

    settings = app_context(ctx).settings
    engine = database.create_db_engine(settings)
    try:
        applied = database.upgrade(engine)
        revision = database.current_revision(engine)
    finally:
        engine.dispose()
    shown = sa.make_url(settings.effective_database_url).render_as_string(hide_password=True)
    verb = "upgraded to" if applied else "already at"
    console.print(f"Database {shown} {verb} revision {revision}.", markup=False)
