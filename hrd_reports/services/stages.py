"""What a reporter is told of their report's stage: the stage of each workflow status, and the
desk's own words for each stage in each language.
"""

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from hrd_reports.i18n import N_
from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import (
    Referral,
    Report,
    ReporterStage,
    ReportStatus,
    StageMessage,
)
from hrd_reports.services import audit
from hrd_reports.services.errors import Invalid

STAGE_OF_STATUS = {
    ReportStatus.RECEIVED: ReporterStage.RECEIVED,
    ReportStatus.ACKNOWLEDGED: ReporterStage.REVIEWING,
    ReportStatus.TRIAGE: ReporterStage.REVIEWING,
    ReportStatus.OPEN: ReporterStage.REVIEWING,
    ReportStatus.ACTION: ReporterStage.ACTION,
    ReportStatus.MONITORING: ReporterStage.ACTION,
    ReportStatus.CLOSED: ReporterStage.CLOSED,
    ReportStatus.DUPLICATE: ReporterStage.CLOSED,
    ReportStatus.OUT_OF_MANDATE: ReporterStage.CLOSED,
}


MAX_STAGE_MESSAGE_LENGTH = 500


def reporter_stage(session: Session, report: Report) -> ReporterStage:
    """The stage of the report's status; "referred" instead, until it is closed, once the desk
    referred it to a partner and chose to tell the reporter."""
    stage = STAGE_OF_STATUS[report.status]
    if stage == ReporterStage.CLOSED:
        return stage
    told = session.execute(
        select(exists().where(Referral.report_id == report.id, Referral.reporter_told.is_(True)))
    ).scalar_one()
    return ReporterStage.REFERRED if told else stage


def stage_message(session: Session, stage: ReporterStage, locale: str) -> str | None:
    return session.execute(
        select(StageMessage.text).where(StageMessage.stage == stage, StageMessage.locale == locale)
    ).scalar_one_or_none()


def set_stage_message(
    session: Session,
    *,
    stage: ReporterStage,
    locale: str,
    text: str,
    actor: str,
    secrets: ServerSecrets,
) -> None:
    """The desk's own words for a stage in one language; empty text restores the default."""
    text = " ".join(text.split())
    if not text.isprintable():
        raise Invalid(N_("a stage message is plain text, without control characters"))
    if len(text) > MAX_STAGE_MESSAGE_LENGTH:
        raise Invalid(
            N_("a stage message has at most %(limit)d characters"), limit=MAX_STAGE_MESSAGE_LENGTH
        )
    audit.lock_for_change(session)
    session.execute(
        delete(StageMessage).where(StageMessage.stage == stage, StageMessage.locale == locale)
    )
    if text:
        session.add(StageMessage(stage=stage, locale=locale, text=text))
    session.flush()
    audit.record(
        session,
        audit_secret=secrets.audit,
        actor=actor,
        action="settings.stage_message",
        subject=f"{stage.value}/{locale}",
        detail={"default": not text},
    )
