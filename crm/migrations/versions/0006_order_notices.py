"""order notices: consent to order updates, and the notices the shop sends first

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 16:00:00+00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('customers') as batch:
        batch.add_column(sa.Column('order_updates_opt_in', sa.Boolean(), nullable=True))

    op.create_table('notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=200), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('status', sa.Enum('pending', 'sent', 'suppressed', 'dead', name='noticestatus', native_enum=False, length=20), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.Column('channel', sa.String(length=20), nullable=True),
    sa.Column('conversation_id', sa.String(length=64), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('deferred', sa.Boolean(), nullable=False),
    sa.Column('replied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['merged_into_id'], ['notices.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dedupe_key')
    )
    op.create_index('ix_notices_status_due', 'notices', ['status', 'due_at'], unique=False)
    op.create_index(op.f('ix_notices_customer_id'), 'notices', ['customer_id'], unique=False)
    op.create_index(op.f('ix_notices_order_id'), 'notices', ['order_id'], unique=False)
    op.create_index(op.f('ix_notices_conversation_id'), 'notices', ['conversation_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_notices_conversation_id'), table_name='notices')
    op.drop_index(op.f('ix_notices_order_id'), table_name='notices')
    op.drop_index(op.f('ix_notices_customer_id'), table_name='notices')
    op.drop_index('ix_notices_status_due', table_name='notices')
    op.drop_table('notices')
    with op.batch_alter_table('customers') as batch:
        batch.drop_column('order_updates_opt_in')
