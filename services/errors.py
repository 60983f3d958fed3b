"""Refusals: services raise them, handlers turn them into polite Chinese text."""

from __future__ import annotations

from enum import StrEnum


class Refusal(StrEnum):
    not_registered = "not_registered"
    not_allowed = "not_allowed"
    invite_unknown = "invite_unknown"
    invite_expired = "invite_expired"
    invite_used_up = "invite_used_up"
    invite_too_many_tries = "invite_too_many_tries"
    invite_role_held = "invite_role_held"
    unknown_street = "unknown_street"
    unknown_community = "unknown_community"
    unknown_grid = "unknown_grid"
    unknown_station = "unknown_station"
    bad_uses = "bad_uses"
    not_a_resident = "not_a_resident"
    no_community = "no_community"
    not_your_household = "not_your_household"
    ticket_unknown = "ticket_unknown"
    ticket_moved_on = "ticket_moved_on"
    too_many_photos = "too_many_photos"
    nothing_to_attach = "nothing_to_attach"
    unknown_category = "unknown_category"
    unknown_volunteer = "unknown_volunteer"
    empty_text = "empty_text"
    text_too_long = "text_too_long"
    not_a_duplicate = "not_a_duplicate"
    broadcast_unknown = "broadcast_unknown"
    broadcast_started = "broadcast_started"
    # visits and tasks (issue 5)
    household_unknown = "household_unknown"
    household_not_found = "household_not_found"
    visit_unknown = "visit_unknown"
    visit_too_old = "visit_too_old"
    visit_has_photo = "visit_has_photo"
    task_unknown = "task_unknown"
    task_moved_on = "task_moved_on"
    task_taken = "task_taken"
    time_not_understood = "time_not_understood"
    time_in_past = "time_in_past"
    # weekend events (issue 6)
    event_title_too_long = "event_title_too_long"
    event_time_unreadable = "event_time_unreadable"
    event_in_past = "event_in_past"
    event_end_before_start = "event_end_before_start"
    event_capacity = "event_capacity"
    event_unknown = "event_unknown"
    event_started = "event_started"
    event_already_joined = "event_already_joined"
    event_not_joined = "event_not_joined"
    checkin_code_wrong = "checkin_code_wrong"
    checkin_not_attending = "checkin_not_attending"
    checkin_already = "checkin_already"
    checkin_nothing_running = "checkin_nothing_running"
    event_rating_closed = "event_rating_closed"
    event_already_rated = "event_already_rated"


class ServiceError(Exception):
    """A request the rules refuse; nothing was changed."""

    def __init__(self, refusal: Refusal, **details: object) -> None:
        super().__init__(refusal.value)
        self.refusal = refusal
        self.details = details
