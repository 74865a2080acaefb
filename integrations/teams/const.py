"""Microsoft Graph and Entra names and limits, in one place."""

PLATFORM = "teams"
ACTIVITY_PATH = "/v1.0/users/{user_id}/teamwork/sendActivityNotification"
ACTIVITY_TYPE = "systemDefault"
SYSTEM_DEFAULT_TEXT = "systemDefaultText"
PREVIEW_MAX_CHARS = 150
TOKEN_TIMEOUT_SECONDS = 20  # msal is synchronous; a hung token call must not hold a delivery forever
HTTP_TIMEOUT_SECONDS = 10
CALENDAR_VIEW_PATH = "/v1.0/users/{user_id}/calendarView"
# Meeting call events are a beta resource: their subscriptions are made through the beta endpoint.
SUBSCRIPTIONS_PATH = "/beta/subscriptions"
MEETING_EVENTS_RESOURCE = "communications/onlineMeetings(joinWebUrl='{join_url}')/meetingCallEvents"
WEBHOOK_PATH = "/webhooks/teams"
LIFECYCLE_PATH = "/webhooks/teams/lifecycle"
GRAPH_APP_ID = "0bf30f3b-4a52-48df-9a82-234910c4a086"  # the `appid`/`azp` of Graph's notification validation tokens
MAX_ENCRYPTED_CHARS = 512 * 1024
MAX_VALIDATION_TOKEN_CHARS = 1024  # the handshake's token is echoed back: only a short, printable one
MAX_JWT_CHARS = 16 * 1024
MAX_NOTIFICATIONS = 100  # in one delivery
MAX_CLOCK_SKEW_SECONDS = 300
KEYS_REFRESH_SECONDS = 24 * 3600  # refetch the identity platform's keys at least daily
KEYS_MIN_REFETCH_SECONDS = 300  # an unknown `kid` refetches them at most this often
