"""The kind of device a staff member signs in from (phone, tablet, computer), for their own
list of sessions. Only the kind is kept: the User-Agent header itself, which can single out a
browser, is read here and never stored or logged (and never on reporters' pages)."""

from fastapi import Request

from hrd_reports.models import DeviceKind

_MAX_HEADER = 512


def device_kind(user_agent: str) -> DeviceKind:
    agent = user_agent[:_MAX_HEADER].lower()
    if "ipad" in agent or "tablet" in agent or ("android" in agent and "mobile" not in agent):
        return DeviceKind.TABLET
    if "mobi" in agent or "iphone" in agent or "android" in agent:
        return DeviceKind.PHONE
    if any(system in agent for system in ("windows", "macintosh", "x11", "linux", "cros")):
        return DeviceKind.COMPUTER
    return DeviceKind.UNKNOWN


def device_of(request: Request) -> DeviceKind:
    return device_kind(request.headers.get("user-agent", ""))
