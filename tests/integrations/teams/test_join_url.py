"""What a calling bot reads from a Teams join URL, and the join request it makes of it (integrations/teams/join_url.py)."""
from __future__ import annotations

import pytest

from integrations.teams.join_url import (
    JoinUrlError,
    MeetingJoinInfo,
    join_body,
    parse_join_url,
)

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
ORGANIZER = "3f1c2d9e-0000-4a6b-9c1d-7e2f5a6b8c01"
THREAD = "19:meeting_NjJkYzM0ZGEtYzQ5Zi00@thread.v2"
# As Outlook writes it in an invitation: the thread and the context percent-encoded, the context's quotes too.
JOIN_URL = (
    "https://teams.microsoft.com/l/meetup-join/19%3ameeting_NjJkYzM0ZGEtYzQ5Zi00%40thread.v2/0"
    f"?context=%7b%22Tid%22%3a%22{TENANT}%22%2c%22Oid%22%3a%22{ORGANIZER}%22%7d"
)


def test_the_thread_message_tenant_and_organiser_come_from_the_join_url():
    assert parse_join_url(JOIN_URL) == MeetingJoinInfo(THREAD, "0", TENANT, ORGANIZER)


@pytest.mark.parametrize(
    "url",
    [
        JOIN_URL.replace("%3a", "%3A").replace("%40", "%40"),  # upper-case escapes
        JOIN_URL.replace("%", "%25"),  # encoded twice (copied out of a subscription's resource)
        f"https://teams.microsoft.com/l/meetup-join/{THREAD}/0?context=%7B%22Tid%22:%22{TENANT}%22,%22Oid%22:%22{ORGANIZER}%22%7D",
        f"https://teams.microsoft.com/l/meetup-join/{THREAD}/0?context=%7b%22tid%22%3a%22{TENANT}%22%2c%22oid%22%3a%22{ORGANIZER}%22%2c%22MessageId%22%3a%220%22%7d",
        f"  {JOIN_URL}  ",
        JOIN_URL + "&anon=true",
    ],
    ids=["upper-case", "twice-encoded", "plain-context", "lower-case-keys", "spaces", "more-query"],
)
def test_every_spelling_of_the_join_url_reads_the_same(url):
    assert parse_join_url(url) == MeetingJoinInfo(THREAD, "0", TENANT, ORGANIZER)


@pytest.mark.parametrize(
    "url, problem",
    [
        ("http://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0?context=%7b%7d", "not an https link"),
        ("https://teams.microsoft.com/meet/3141592653?p=Zx9Yw8", "not a meetup-join link"),
        ("https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2", "not a meetup-join link"),
        ("https://teams.microsoft.com/l/meetup-join/meeting_x/0?context=%7b%7d", "names no meeting thread"),
        ("https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/zero?context=%7b%7d", "names no thread message"),
        ("https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0", "has no context"),
        ("https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0?context=%7bnot%20json", "context is not JSON"),
        ("https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0?context=%5b1%5d", "not a JSON object"),
        (f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0?context=%7b%22Oid%22%3a%22{ORGANIZER}%22%7d", "names no tenant"),
        (f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0?context=%7b%22Tid%22%3a%22{TENANT}%22%7d", "names no organiser"),
        (f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0?context=%7b%22Tid%22%3a%22{TENANT}%22%2c%22Oid%22%3a%22a%20b%22%7d", "names no organiser"),
    ],
)
def test_a_join_url_without_what_the_bot_needs_says_what_is_missing_and_never_quotes_it(url, problem):
    with pytest.raises(JoinUrlError) as refused:
        parse_join_url(url)
    assert problem in str(refused.value)
    assert "meeting_x" not in str(refused.value) and ORGANIZER not in str(refused.value)


def test_the_join_request_is_graphs_documented_body_with_service_hosted_media():
    body = join_body(parse_join_url(JOIN_URL), "https://companion.example.org/webhooks/teams/calls")
    assert body == {
        "@odata.type": "#microsoft.graph.call",
        "direction": "outgoing",
        "callbackUri": "https://companion.example.org/webhooks/teams/calls",
        "tenantId": TENANT,
        "requestedModalities": ["audio"],
        "mediaConfig": {"@odata.type": "#microsoft.graph.serviceHostedMediaConfig"},
        "chatInfo": {"@odata.type": "#microsoft.graph.chatInfo", "threadId": THREAD, "messageId": "0"},
        "meetingInfo": {
            "@odata.type": "#microsoft.graph.organizerMeetingInfo",
            "organizer": {
                "@odata.type": "#microsoft.graph.identitySet",
                "user": {"@odata.type": "#microsoft.graph.identity", "id": ORGANIZER, "tenantId": TENANT},
            },
        },
    }
