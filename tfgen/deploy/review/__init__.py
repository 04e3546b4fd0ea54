"""The review of a Terraform plan, in pure parts: reading the plan's changes (changes), the
resource types it judges (catalogue), data loss (data), detection reduced (detection), live
traffic (serving), access gained (access) and the database credentials (credentials); verdict puts
them together in one ``Review``. tfgen.deploy.review_format renders a review."""

from tfgen.deploy.review.access import AccessGain, added_statements, document_statement
from tfgen.deploy.review.catalogue import DATA_TYPES
from tfgen.deploy.review.changes import ACTIONS, action_of, path_string, reasons_of
from tfgen.deploy.review.data import DataLoss
from tfgen.deploy.review.serving import DEFAULT_MAX_STEP, GREEN, PUBLISHED, Alias, Serving
from tfgen.deploy.review.verdict import SCHEMA_VERSION, Review, review

__all__ = ["ACTIONS", "DATA_TYPES", "DEFAULT_MAX_STEP", "GREEN", "PUBLISHED", "SCHEMA_VERSION", "AccessGain", "Alias",
           "DataLoss", "Review", "Serving", "action_of", "added_statements", "document_statement", "path_string",
           "reasons_of", "review"]
