"""security hardening: demo customers, verification failures, single-use Telegram links

Revision ID: 0002
Revises: 0003
Create Date: 2026-12-06 15:10:00.000000+00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    # Existing rows are not demo rows: demo sign-in must never reach a customer it did not create.
    with op.batch_alter_table('customers') as batch:
        batch.add_column(sa.Column('is_demo', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table('verification_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_verification_failures_key_at', 'verification_failures', ['key', 'at'], unique=False)
    op.create_table('telegram_link_claims',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('token_hash')
    )
    op.create_index(op.f('ix_telegram_link_claims_claimed_at'), 'telegram_link_claims', ['claimed_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f('ix_telegram_link_claims_claimed_at'), table_name='telegram_link_claims')
    op.drop_table('telegram_link_claims')
    op.drop_index('ix_verification_failures_key_at', table_name='verification_failures')
    op.drop_table('verification_failures')
    with op.batch_alter_table('customers') as batch:
        batch.drop_column('is_demo')
