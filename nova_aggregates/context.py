"""Request context: who is calling, carried from the API to the database."""

from oslo_context import context
from oslo_db.sqlalchemy import enginefacade


@enginefacade.transaction_context_provider
class RequestContext(context.RequestContext):
    """oslo.context's context, usable as an oslo.db transaction holder."""


def get_admin_context():
    return RequestContext(user_id='admin', project_id='admin',
                          roles=['admin'], is_admin=True,
                          overwrite=False)
