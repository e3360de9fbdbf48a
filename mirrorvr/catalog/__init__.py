"""The catalogue of a data directory: patients (pseudonyms), profile versions, courses,
sessions, blocks, outcomes and files (SQLAlchemy; SQLite by default, any URL otherwise).

Importing this package opens no database.
"""

from mirrorvr.catalog.catalog import (
    SQLITE_NAME,
    URL_ENV,
    BlockInfo,
    Catalog,
    CoursePlace,
    FileInfo,
    OutcomeInfo,
    PatientInfo,
    SessionInfo,
    default_url,
)

__all__ = ["SQLITE_NAME", "URL_ENV", "BlockInfo", "Catalog", "CoursePlace", "FileInfo",
           "OutcomeInfo", "PatientInfo", "SessionInfo", "default_url"]
