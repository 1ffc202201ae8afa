"""The words of a notification: how many new reports and messages wait, how many may be
urgent, and where to read them; in the recipient's language.

Nothing of any report goes into it, by construction: it is built from three counts and the
dashboard's address, never from a report, its type, place or language. Its subject is the same
for every mail, urgent or not: a subject shows on a locked phone's screen and in every
mailbox listing.
"""

import datetime as dt
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from hrd_reports.i18n import locale
from hrd_reports.services.notifications import Outgoing


def _sender_domain(sender: str) -> str:
    return sender.rsplit("@", 1)[1]


def body_text(outgoing: Outgoing, *, link: str) -> tuple[str, str]:
    """The subject and the body, translated into the recipient's language."""
    language = locale(outgoing.locale)
    gettext, ngettext = language.translations.gettext, language.translations.ngettext
    counted = []
    if outgoing.reports:
        counted.append(
            ngettext(
                "%(count)d new report is waiting.",
                "%(count)d new reports are waiting.",
                outgoing.reports,
            )
            % {"count": outgoing.reports}
        )
    if outgoing.messages:
        counted.append(
            ngettext(
                "%(count)d new message from a reporter is waiting.",
                "%(count)d new messages from reporters are waiting.",
                outgoing.messages,
            )
            % {"count": outgoing.messages}
        )
    if outgoing.urgent:
        counted.append(
            ngettext(
                "%(count)d of them may be urgent: a report nobody has opened yet, or one whose "
                "reporter is in danger now.",
                "%(count)d of them may be urgent: reports nobody has opened yet, or whose "
                "reporters are in danger now.",
                outgoing.urgent,
            )
            % {"count": outgoing.urgent}
        )
    # The counts in the language's digits; the link keeps its own.
    lines = [language.digits(line) for line in counted]
    lines += [
        "",
        gettext("Sign in to the dashboard to read them: %(link)s") % {"link": link},
        "",
        gettext(
            "This e-mail never says what was reported. To change or stop these e-mails, open "
            "Notifications in the dashboard."
        ),
    ]
    return gettext("New items are waiting in your dashboard"), "\n".join(lines) + "\n"


def compose(outgoing: Outgoing, *, sender: str, link: str, now: dt.datetime) -> EmailMessage:
    """The mail, with no header but the ones mail needs: nothing names the server's host (the
    message id is made under the sender's domain, not the machine's name)."""
    subject, body = body_text(outgoing, link=link)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = outgoing.address
    message["Subject"] = subject
    message["Date"] = format_datetime(now.replace(tzinfo=dt.UTC))
    message["Message-ID"] = make_msgid(domain=_sender_domain(sender))
    message.set_content(body)
    return message
