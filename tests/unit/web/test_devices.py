"""A session's kind of device, from the browser's User-Agent: only the kind is kept."""

import pytest

from hrd_reports.models import DeviceKind
from hrd_reports.web.devices import device_kind

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile"
ANDROID_PHONE = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Mobile Safari"
ANDROID_TABLET = "Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 Safari/537.36"
IPAD = "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
LINUX = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/156.0 Safari/537.36"


@pytest.mark.parametrize(
    ("agent", "kind"),
    [
        (IPHONE, DeviceKind.PHONE),
        (ANDROID_PHONE, DeviceKind.PHONE),
        (ANDROID_TABLET, DeviceKind.TABLET),
        (IPAD, DeviceKind.TABLET),
        (WINDOWS, DeviceKind.COMPUTER),
        (LINUX, DeviceKind.COMPUTER),
        ("", DeviceKind.UNKNOWN),
        ("curl/8.5.0", DeviceKind.UNKNOWN),
    ],
)
def test_device_kind_is_read_coarsely_from_the_user_agent(agent: str, kind: DeviceKind) -> None:
    assert device_kind(agent) == kind
