"""The cheap revision check and Alembic agree on which migration is the newest."""

from tradewind.metastore.migrate import head_revision
from tradewind.metastore.schema_version import HEAD_REVISION


def test_head_revision_constant_matches_the_newest_migration():
    assert head_revision() == HEAD_REVISION
