"""message turn state: every acknowledged customer message ends in a reply or an apology

Revision ID: 0005
Revises: 0002
Create Date: 2026-12-06 15:20:00+00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_STATES = ('received', 'processing', 'answered', 'apologised', 'held', 'rejected')


def upgrade() -> None:
    with op.batch_alter_table('messages') as batch:
        batch.add_column(sa.Column(
            'turn_state', sa.Enum(*_STATES, name='turnstate', native_enum=False, length=20), nullable=True
        ))
        batch.add_column(sa.Column('turn_updated_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('turn_reason', sa.String(length=40), nullable=True))
    op.create_index('ix_messages_turn_state', 'messages', ['turn_state', 'turn_updated_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_messages_turn_state', table_name='messages')
    with op.batch_alter_table('messages') as batch:
        batch.drop_column('turn_reason')
        batch.drop_column('turn_updated_at')
        batch.drop_column('turn_state')
