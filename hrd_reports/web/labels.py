"""What a page shows for the codes stored for roles, workflow states and risk levels.

The codes stay English identifiers in the database and the command line; a page shows each
through gettext, so an Arabic dashboard reads ``حالة`` names, not ``out_of_mandate``.
"""

from hrd_reports.i18n import N_
from hrd_reports.models import (
    DeviceKind,
    Priority,
    ReporterStage,
    ReportStatus,
    RiskLevel,
    Role,
)

# A session's kind of device, as the person's list of their sessions names it.
DEVICE_NAMES = {
    DeviceKind.PHONE.value: N_("a phone"),
    DeviceKind.TABLET.value: N_("a tablet"),
    DeviceKind.COMPUTER.value: N_("a computer"),
    DeviceKind.UNKNOWN.value: N_("a device of unknown kind"),
}
ROLE_NAMES = {
    Role.ADMIN: N_("administrator"),
    Role.COORDINATOR: N_("coordinator"),
    Role.CASE_WORKER: N_("case worker"),
    Role.AUDITOR: N_("auditor"),
}
STATUS_NAMES = {
    # Not "received": a reader would take the stored code for a label.
    ReportStatus.RECEIVED: N_("new, not yet acknowledged"),
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

# Priorities by what they mean for the desk, not as the stored p1..p4. Apart from ``NAMES``:
# their translations come with the next catalogue update.
PRIORITY_NAMES = {
    Priority.P1.value: N_("priority 1, immediate"),
    Priority.P2.value: N_("priority 2, high"),
    Priority.P3.value: N_("priority 3, normal"),
    Priority.P4.value: N_("priority 4, low"),
}

# What a page says after an action, by the fixed key its address carries (``?done=saved``):
# never words from the request, so that a crafted link cannot put a sentence on a desk page.
DONE = {
    "saved": N_("The workflow was saved."),
    "assigned": N_("The report was assigned."),
    "unassigned": N_("The report was taken back: nobody is assigned to it now."),
    "tags": N_("The tags were saved."),
    "note": N_("Your note was added."),
    "reply": N_("Your reply was encrypted and is waiting in the reporter's inbox."),
    "linked": N_("The reports were linked."),
    "destroyed": N_("The report was destroyed, with its messages, notes and files."),
    "vetted": N_("The person was vetted: they hold the keys of their role now."),
    "revoked": N_("The vetting was revoked: the person holds no key now."),
    "role": N_("The role was changed. The person holds no key until they are vetted again."),
    "disabled": N_("The account was disabled."),
    "enabled": N_("The account was enabled."),
    "stage": N_("The words reporters read were saved."),
    "password": N_("Your password is changed. Your other sessions have ended."),
    "language": N_("Your dashboard is now in the language you chose."),
    "key_added": N_("The security key was added: sign in with it from now on."),
    "key_removed": N_("The security key was removed."),
    "session_ended": N_("The session was ended: that device is signed out."),
    "held": N_("The report is on legal hold: the retention policy does not destroy it."),
    "released": N_("The legal hold was released: the retention policy applies again."),
    "partner_added": N_(
        "The partner was added. Compare its fingerprint with the partner before you refer a "
        "case to it."
    ),
    "partner_disabled": N_("The partner was disabled: no case can be referred to it now."),
    "published": N_("The statistics were published: auditors can read them here."),
}

# What a reporter is told of each stage, unless the desk wrote its own words for it.
STAGE_TEXTS = {
    ReporterStage.RECEIVED.value: N_("Your report was received. The desk will read it soon."),
    ReporterStage.REVIEWING.value: N_("The desk is reviewing your report."),
    ReporterStage.ACTION.value: N_("The desk is taking action on your report."),
    ReporterStage.CLOSED.value: N_(
        "The desk has closed this report. You can still send a message, or a new report."
    ),
    ReporterStage.REFERRED.value: N_(
        "The desk has passed your report on to a partner organisation that can help, as you "
        "allowed."
    ),
}
