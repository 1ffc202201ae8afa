"""Referring a case to a partner: the package is encrypted on the server to the partner's key
and handed to the person who asked as a download of ciphertext. The desk keeps no copy: the
referral's record and audit entry are committed before the first byte leaves, and the
package exists only in this request's memory.
"""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Form
from fastapi.responses import Response

from hrd_reports.services import referrals
from hrd_reports.web.auth import CurrentUser, authorise
from hrd_reports.web.dashboard_files import FILE_POLICY
from hrd_reports.web.deps import DbSession, RuntimeDep

router = APIRouter(prefix="/dashboard", dependencies=[Depends(authorise)])


# Not ``async``: the report is decrypted and the package encrypted in a worker thread, never
# on the event loop.
@router.post("/reports/{report_id}/referrals", name="dashboard_report_refer")
def report_refer(
    report_id: UUID,
    session: DbSession,
    runtime: RuntimeDep,
    me: CurrentUser,
    partner: Annotated[str, Form(max_length=36)] = "",
    note: Annotated[str, Form(max_length=4 * referrals.MAX_NOTE_LENGTH)] = "",
    tell_reporter: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    made = referrals.refer(
        session,
        reader=me.unlocked,
        report_id=report_id,
        partner_id=partner,
        note=note,
        tell_reporter=tell_reporter == "yes",
        secrets=runtime.secrets,
    )
    session.commit()
    return Response(
        made.ciphertext,
        media_type="application/octet-stream",
        headers={
            "content-disposition": f'attachment; filename="{made.filename}"',
            "content-security-policy": FILE_POLICY,
            "x-content-type-options": "nosniff",
            # Neither the browser's cache nor a proxy's keeps it.
            "cache-control": "no-store",
        },
    )
