"""Alembic environment: runs on the engine the caller opened (see store.db.upgrade)."""

from alembic import context

from consentry.store.tables import metadata

config = context.config
engine = config.attributes.get("engine")


def run() -> None:
    if engine is None:
        from sqlalchemy import create_engine

        connectable = create_engine(config.get_main_option("sqlalchemy.url"))
    else:
        connectable = engine
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run()
