"""message delivery: a reply stored but not yet sent is owed to the customer after a crash

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 19:20:00+00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0007'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_DELIVERY = ('pending', 'sent', 'refused')


def upgrade() -> None:
    # Rows that exist already stay None: only messages stored from now on are tracked,
    # so an upgrade never re-sends old replies.
    with op.batch_alter_table('messages') as batch:
        batch.add_column(sa.Column(
            'delivery', sa.Enum(*_DELIVERY, name='delivery', native_enum=False, length=20), nullable=True
        ))
    op.create_index('ix_messages_delivery', 'messages', ['delivery', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_messages_delivery', table_name='messages')
    with op.batch_alter_table('messages') as batch:
        batch.drop_column('delivery')
