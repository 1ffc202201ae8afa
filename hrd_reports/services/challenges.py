"""Proof-of-work challenges: handed out without state, spent once.

Nothing about who asked is kept. A challenge is good for its own window and the next
(twenty minutes at most); a spent one is remembered, by a hash of its nonce and its window,
only until it could no longer be used, so a replayed solution is refused.
"""

import functools
import hashlib
import math

from sqlalchemy import delete, event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hrd_reports.crypto.pow import (
    Challenge,
    InvalidChallenge,
    is_solution,
    issue_challenge,
    read_challenge,
    window_of,
)
from hrd_reports.keystore import ServerSecrets
from hrd_reports.models import SpentChallenge
from hrd_reports.services.clock import utc_now
from hrd_reports.services.errors import Invalid


class ProofOfWorkRefused(Invalid):
    """Missing, forged, expired, unsolved or already used."""


def _current_window() -> int:
    return window_of(utc_now().timestamp())


def issue(*, secrets: ServerSecrets, difficulty: int) -> Challenge:
    return issue_challenge(secrets.pow, window=_current_window(), difficulty=difficulty)


# The spent challenges kept (this window's and the last: ten to twenty minutes of them) times
# this is about an hour's worth.
_WINDOWS_PER_HOUR = 3


def recent_proofs(session: Session) -> int:
    """Proofs of work accepted in this window and the last (ten to twenty minutes): every
    submission, upload, message and receipt look-up spends one. Counted from the rows that
    stop replays, so no time of anyone's request is kept for it."""
    current = _current_window()
    return session.execute(
        select(func.count()).select_from(SpentChallenge).where(SpentChallenge.window >= current - 1)
    ).scalar_one()


def flood_difficulty(*, recent: int, base: int, normal_per_hour: int, max_extra: int) -> int:
    """The difficulty to hand out when ``recent`` proofs were accepted lately: ``base`` at the
    desk's normal rate, one bit more (twice the work) for each doubling above it, at most
    ``max_extra`` bits more.

    A flood then costs its sender work in proportion to its size, while a reporter's phone,
    which solves one challenge, pays at most 2**max_extra times its usual second. It falls
    back as the flood's proofs age out of the two windows.
    """
    per_hour = recent * _WINDOWS_PER_HOUR
    if per_hour <= normal_per_hour:
        return base
    extra = math.ceil(math.log2(per_hour / normal_per_hour))
    return min(base + min(extra, max_extra), 32)


def solved(
    *, token: str, counter: int, secrets: ServerSecrets, difficulty: int, current: int | None = None
) -> Challenge:
    """The challenge of a solution this server would accept, if not yet spent: a refusal with a
    message in every other case. One HMAC and one hash; no database.

    ``difficulty`` is the desk's base. A challenge keeps the difficulty it was issued with
    (signed into its token): a reporter whose page fetched one just before a flood raised it
    is not sent back to solve another, and one fetched during the flood carries the flood's.
    Stocking up easy challenges beforehand buys at most their twenty minutes.
    """
    try:
        challenge = read_challenge(secrets.pow, token)
    except InvalidChallenge as exc:
        raise ProofOfWorkRefused("the anti-spam check is not valid; please try again") from exc
    if not is_current(challenge.window, current=current):
        raise ProofOfWorkRefused("the anti-spam check has expired; please send again")
    if challenge.difficulty < difficulty:
        raise ProofOfWorkRefused("the anti-spam check is too easy; please send again")
    if not is_solution(challenge, counter):
        raise ProofOfWorkRefused("the anti-spam check is not solved; please send again")
    return challenge


def is_current(window: int, *, current: int | None = None) -> bool:
    """Whether a challenge of ``window`` may still be spent in window ``current`` (now)."""
    current = _current_window() if current is None else current
    return window in (current, current - 1)


def spent_row(challenge: Challenge) -> dict[str, object]:
    """What remembers ``challenge`` as spent (its nonce's hash, its window)."""
    return {"nonce_hash": nonce_hash(challenge), "window": challenge.window}


def nonce_hash(challenge: Challenge) -> bytes:
    return hashlib.sha256(challenge.nonce).digest()


def spend(
    session: Session, *, token: str, counter: int, secrets: ServerSecrets, difficulty: int
) -> None:
    """Accept a solved challenge once; refuse it with a message in every other case."""
    # One window for the check and the purge: read twice across a window's end, the purge
    # could forget the very spend that the check let this one repeat.
    current = _current_window()
    challenge = solved(
        token=token, counter=counter, secrets=secrets, difficulty=difficulty, current=current
    )
    forget_unusable(session, current)
    session.add(SpentChallenge(**spent_row(challenge)))
    try:
        session.flush()
    except IntegrityError as exc:
        # The primary key is the nonce's hash: a second spend of it cannot be stored.
        raise ProofOfWorkRefused(
            "this anti-spam check was already used; please send again"
        ) from exc


# The window this process last purged: purging once per window (ten minutes), not at every
# submission, keeps the statement out of the write lock that all submissions queue for.
_purged_before: int | None = None


def forget_unusable(session: Session, current: int | None = None) -> int:
    """Delete spent challenges that could no longer be used in window ``current`` (now):
    nothing older stays. The window it purged for."""
    current = _current_window() if current is None else current
    if _purged_before != current:
        session.execute(delete(SpentChallenge).where(SpentChallenge.window < current - 1))
        # Done for this window only once it is committed: a submission refused after this
        # point rolls the deletion back, and the next one must purge again.
        event.listen(session, "after_commit", functools.partial(_purged, current), once=True)
    return current


def _purged(window: int, _session: Session) -> None:
    global _purged_before  # noqa: PLW0603 - a per-process cache of one number
    _purged_before = window


def spend_form_token(session: Session, *, token: str, secrets: ServerSecrets) -> bool:
    """Remember the token of a form sent without JavaScript; False if it was sent before.

    It is how a form resubmitted by Back or Reload is told apart from a new report. A token
    that is unreadable or older than its window is let through: a duplicate report is a
    smaller harm than a lost one.
    """
    try:
        challenge = read_challenge(secrets.pow, token)
    except InvalidChallenge:
        return True
    current = _current_window()
    if not is_current(challenge.window, current=current):
        return True
    forget_unusable(session, current)
    if session.get(SpentChallenge, nonce_hash(challenge)) is not None:
        return False
    session.add(SpentChallenge(**spent_row(challenge)))
    session.flush()
    return True
