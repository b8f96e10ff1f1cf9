"""insights, NPS and the review queue: intents per message, indexes, NPS invitations, review items

Revision ID: 0003
Revises: 0004
Create Date: 2026-12-06 15:20:00+00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('messages') as batch:
        batch.add_column(sa.Column('intent', sa.String(length=60), nullable=True))
        batch.add_column(sa.Column('intent_confidence', sa.Float(), nullable=True))
    with op.batch_alter_table('feedback') as batch:
        batch.add_column(sa.Column('channel', sa.String(length=20), nullable=True))
    op.create_index(
        'ix_messages_created_at_sender_intent', 'messages',
        ['created_at', 'sender', 'intent', 'conversation_id'], unique=False,
    )
    op.create_index('ix_conversations_created_at', 'conversations', ['created_at'], unique=False)
    op.create_index('ix_handoffs_created_at', 'handoffs', ['created_at'], unique=False)
    op.create_index('ix_feedback_kind_created_at', 'feedback', ['kind', 'created_at'], unique=False)

    op.create_table('nps_invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('asked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_nps_invitations_customer_id'), 'nps_invitations', ['customer_id'], unique=False)

    op.create_table('review_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('masked_text', sa.Text(), nullable=False),
    sa.Column('guesses', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('chosen_intent', sa.String(length=60), nullable=True),
    sa.Column('new_request', sa.Boolean(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['staff_users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_id')
    )
    op.create_index(op.f('ix_review_items_conversation_id'), 'review_items', ['conversation_id'], unique=False)
    op.create_index('ix_review_items_status_created_at', 'review_items', ['status', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_review_items_status_created_at', table_name='review_items')
    op.drop_index(op.f('ix_review_items_conversation_id'), table_name='review_items')
    op.drop_table('review_items')
    op.drop_index(op.f('ix_nps_invitations_customer_id'), table_name='nps_invitations')
    op.drop_table('nps_invitations')
    op.drop_index('ix_feedback_kind_created_at', table_name='feedback')
    op.drop_index('ix_handoffs_created_at', table_name='handoffs')
    op.drop_index('ix_conversations_created_at', table_name='conversations')
    op.drop_index('ix_messages_created_at_sender_intent', table_name='messages')
    with op.batch_alter_table('feedback') as batch:
        batch.drop_column('channel')
    with op.batch_alter_table('messages') as batch:
        batch.drop_column('intent_confidence')
        batch.drop_column('intent')
