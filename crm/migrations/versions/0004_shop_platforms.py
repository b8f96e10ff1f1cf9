"""shop platforms: events received, API keys, customer requests, the outbox

Revision ID: 0004
Revises: 0001
Create Date: 2026-12-06 15:20:00+00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('orders') as batch:
        batch.add_column(sa.Column('platform_id', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=True))
        batch.create_unique_constraint('uq_orders_platform_id', ['platform_id'])
    with op.batch_alter_table('customers') as batch:
        batch.add_column(sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=True))

    op.create_table('shop_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('event_key', sa.String(length=200), nullable=False),
    sa.Column('topic', sa.String(length=60), nullable=False),
    sa.Column('subject', sa.String(length=128), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'event_key')
    )
    op.create_index(op.f('ix_shop_events_received_at'), 'shop_events', ['received_at'], unique=False)

    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash')
    )

    op.create_table('shop_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.Enum('cancel', 'change_address', 'return', name='shoprequestkind', native_enum=False, length=20), nullable=False),
    sa.Column('status', sa.Enum('requested', 'accepted', 'refused', name='shoprequeststatus', native_enum=False, length=20), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('conversation_id', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('settled_by', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('reference')
    )
    op.create_index(op.f('ix_shop_requests_order_id'), 'shop_requests', ['order_id'], unique=False)
    op.create_index(op.f('ix_shop_requests_customer_id'), 'shop_requests', ['customer_id'], unique=False)
    op.create_index(op.f('ix_shop_requests_conversation_id'), 'shop_requests', ['conversation_id'], unique=False)
    op.create_index('ix_shop_requests_status_created', 'shop_requests', ['status', 'created_at'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('topic', sa.String(length=60), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id')
    )
    op.create_index('ix_outbox_status_next', 'outbox', ['status', 'next_attempt_at'], unique=False)
    op.create_index(op.f('ix_outbox_customer_id'), 'outbox', ['customer_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_outbox_customer_id'), table_name='outbox')
    op.drop_index('ix_outbox_status_next', table_name='outbox')
    op.drop_table('outbox')
    op.drop_index('ix_shop_requests_status_created', table_name='shop_requests')
    op.drop_index(op.f('ix_shop_requests_conversation_id'), table_name='shop_requests')
    op.drop_index(op.f('ix_shop_requests_customer_id'), table_name='shop_requests')
    op.drop_index(op.f('ix_shop_requests_order_id'), table_name='shop_requests')
    op.drop_table('shop_requests')
    op.drop_table('api_keys')
    op.drop_index(op.f('ix_shop_events_received_at'), table_name='shop_events')
    op.drop_table('shop_events')
    with op.batch_alter_table('customers') as batch:
        batch.drop_column('source_updated_at')
    with op.batch_alter_table('orders') as batch:
        batch.drop_constraint('uq_orders_platform_id', type_='unique')
        batch.drop_column('source_updated_at')
        batch.drop_column('platform_id')
