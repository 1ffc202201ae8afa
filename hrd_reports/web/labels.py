"""What a page shows for the codes stored for roles, workflow states and risk levels.

The codes stay English identifiers in the database and the command line; a page shows each
through gettext, so an Arabic dashboard reads ``حالة`` names, not ``out_of_mandate``.
"""

from hrd_reports.i18n import N_
from hrd_reports.models import ReporterStage, ReportStatus, RiskLevel, Role

ROLE_NAMES = {
    Role.ADMIN: N_("administrator"),
    Role.COORDINATOR: N_("coordinator"),
    Role.CASE_WORKER: N_("case worker"),
    Role.AUDITOR: N_("auditor"),
}
STATUS_NAMES = {
    ReportStatus.RECEIVED: N_("received"),
    ReportStatus.ACKNOWLEDGED: N_("acknowledged"),
    ReportStatus.TRIAGE: N_("in triage"),
    ReportStatus.OPEN: N_("open case"),
    ReportStatus.ACTION: N_("action under way"),
    ReportStatus.MONITORING: N_("monitoring"),
    ReportStatus.CLOSED: N_("closed"),
    ReportStatus.DUPLICATE: N_("duplicate"),
    ReportStatus.OUT_OF_MANDATE: N_("out of mandate"),
}
RISK_NAMES = {
    RiskLevel.LOW: N_("low risk"),
    RiskLevel.MEDIUM: N_("medium risk"),
    RiskLevel.HIGH: N_("high risk"),
    RiskLevel.CRITICAL: N_("critical risk"),
}
# By stored code, for templates: ``_(names[report.status])``. The three sets of codes are
# distinct, which tests/unit/test_i18n.py checks.
NAMES: dict[str, str] = {
    member.value: name
    for table in (ROLE_NAMES, STATUS_NAMES, RISK_NAMES)
    for member, name in table.items()
}

# What a reporter is told of each stage, unless the desk wrote its own words for it.
STAGE_TEXTS = {
    ReporterStage.RECEIVED.value: N_("Your report was received. The desk will read it soon."),
    ReporterStage.REVIEWING.value: N_("The desk is reviewing your report."),
    ReporterStage.ACTION.value: N_("The desk is taking action on your report."),
    ReporterStage.CLOSED.value: N_(
        "The desk has closed this report. You can still send a message, or a new report."
    ),
}
