"""Persistence: one module per concept. Importing this package registers every table."""

from zipshort.models.apikey import ApiKey
from zipshort.models.audit import AuditEntry
from zipshort.models.base import new_id, utcnow
from zipshort.models.domain import CustomDomain, DomainRedirect
from zipshort.models.file import File
from zipshort.models.folder import Folder, Tag, file_tags, link_tags
from zipshort.models.invite import Invite
from zipshort.models.leader import Leader
from zipshort.models.link import Link, ViewLease
from zipshort.models.metric import Metric
from zipshort.models.partial import PartialUpload
from zipshort.models.session import UserSession
from zipshort.models.user import FilesQuota, Role, User
from zipshort.models.visit import Visit, VisitDay, VisitHour, VisitSalt, VisitUnique
from zipshort.models.webhook import WebhookDelivery, WebhookEndpoint, WebhookMessage

__all__ = ["ApiKey", "AuditEntry", "CustomDomain", "DomainRedirect", "File", "FilesQuota", "Folder", "Invite",
           "Leader", "Link", "Metric", "PartialUpload", "Role", "Tag", "User", "UserSession", "ViewLease", "Visit",
           "VisitDay", "VisitHour", "VisitSalt", "VisitUnique", "WebhookDelivery", "WebhookEndpoint", "WebhookMessage",
           "file_tags", "link_tags", "new_id", "utcnow"]
