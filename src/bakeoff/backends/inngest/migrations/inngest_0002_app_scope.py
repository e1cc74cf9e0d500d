"""inngest schema: scope queue items and cron schedules by app, as Inngest scopes function ids.

Two apps on one database may both have a function called ``import-article``; a worker must only
claim work of its own app's functions.

Revision ID: inngest_0002
Revises: inngest_0001
"""

from __future__ import annotations

from alembic import op

revision = "inngest_0002"
down_revision = "inngest_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE inngest.queue ADD COLUMN app_id text NOT NULL DEFAULT '';
        DROP INDEX inngest.queue_due_idx;
        CREATE INDEX queue_due_idx ON inngest.queue (app_id, run_at, id);
        ALTER TABLE inngest.crons ADD COLUMN app_id text NOT NULL DEFAULT '';
        ALTER TABLE inngest.crons DROP CONSTRAINT crons_pkey;
        ALTER TABLE inngest.crons ADD PRIMARY KEY (app_id, fn_id, cron);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        ALTER TABLE inngest.crons DROP CONSTRAINT crons_pkey;
        ALTER TABLE inngest.crons DROP COLUMN app_id;
        ALTER TABLE inngest.crons ADD PRIMARY KEY (fn_id, cron);
        DROP INDEX inngest.queue_due_idx;
        ALTER TABLE inngest.queue DROP COLUMN app_id;
        CREATE INDEX queue_due_idx ON inngest.queue (run_at, id);
        """
    )
